import EKTPModel
import EKTPPlatform
import Synchronization

/// The compiled catalogues (`.mo`) the control socket renders text in (`GET /v1/status?format=text`),
/// each read once from `L10n.localeDirectory()` at its first use; a language with none is English.
/// At most 16 languages are remembered (a station's readers use one or two): past that a catalogue
/// is read for the request and not kept.
final class StatusLanguages: Sendable {
    private let cache = Mutex<[String: MOCatalog?]>([:])
    private let directory: String

    init(directory: String = L10n.localeDirectory()) { self.directory = directory }

    /// The catalogue of the first language in `list` (colon-separated, as `L10n.requestedLanguages`
    /// gives them) that has one; nil for English. A name with other than letters, digits and `_`,
    /// or longer than 32 bytes, is passed over.
    func catalog(_ list: String) -> MOCatalog? {
        for entry in list.split(separator: ":").prefix(8) {
            let name = String(entry)
            guard name.utf8.count <= 32, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else { continue }
            if name == "en" || name.hasPrefix("en_") || name == "C" { return nil }
            if let known = cache.withLock({ $0[name] }) {
                if let c = known { return c }
                continue
            }
            let loaded = MOCatalog.load(directory: directory, language: name)
            cache.withLock { if $0.count < 16 { $0[name] = loaded } }
            if let loaded { return loaded }
        }
        return nil
    }
}
