import EKTPModel
import EKTPPlatform
import Synchronization

/// The compiled catalogues (`.mo`) the control socket renders text in (`GET /v1/status?format=text`),
/// each read once from `L10n.localeDirectory()` at its first use; a language with none is English.
/// Only catalogues found are kept, at most 16 (a station's readers use one or two), so names that
/// have none cannot take the places of those that do.
final class StatusLanguages: Sendable {
    private let cache = Mutex<[String: MOCatalog]>([:])
    private let directory: String

    init(directory: String = L10n.localeDirectory()) { self.directory = directory }

    /// The catalogue of the first language in `list` (colon-separated, as `L10n.requestedLanguages`
    /// gives them) that has one, as gettext searches `LANGUAGE`; nil for none (English). At most 8
    /// names are tried; one with other than letters, digits and `_` (a path), or longer than 32
    /// bytes, is passed over.
    func catalog(_ list: String) -> MOCatalog? {
        for entry in list.split(separator: ":").prefix(8) {
            let name = String(entry)
            guard name.utf8.count <= 32, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else { continue }
            if let known = cache.withLock({ $0[name] }) { return known }
            guard let loaded = MOCatalog.load(directory: directory, language: name) else { continue }
            cache.withLock { if $0.count < 16 { $0[name] = loaded } }
            return loaded
        }
        return nil
    }
}
