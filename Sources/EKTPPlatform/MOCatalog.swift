#if canImport(Glibc)
import Glibc
#endif

/// A compiled gettext catalogue (`.mo`, GNU gettext manual 10.3 "The Format of GNU MO Files"),
/// read whole into a dictionary. The registry renders each dashboard page in *its reader's*
/// language (Accept-Language, or the viewer's choice) while serving many readers at once; glibc's
/// gettext chooses by the process's (or thread's) locale, which cannot follow a request across an
/// async handler's threads. So the registry reads the same `.mo` files the daemons' gettext uses:
/// 120 lines here against no new library; `ektpd` itself uses glibc (`L10n`).
public struct MOCatalog: Sendable {
    public let messages: [String: String]

    public init(messages: [String: String]) { self.messages = messages }

    /// Parses a `.mo` file's bytes; nil when they are not one (bad magic, offsets past the end).
    /// Plural entries keep their first form; the header entry (empty msgid) is left out.
    public init?(bytes b: [UInt8]) {
        guard b.count >= 28 else { return nil }
        func u32(_ at: Int, _ little: Bool) -> Int? {
            guard at >= 0, at + 4 <= b.count else { return nil }
            let v = little ? UInt32(b[at]) | UInt32(b[at + 1]) << 8 | UInt32(b[at + 2]) << 16 | UInt32(b[at + 3]) << 24
                : UInt32(b[at + 3]) | UInt32(b[at + 2]) << 8 | UInt32(b[at + 1]) << 16 | UInt32(b[at]) << 24
            return Int(v)
        }
        let little: Bool
        switch u32(0, true) {
        case 0x950412de: little = true
        case 0xde120495: little = false
        default: return nil
        }
        guard let n = u32(8, little), let originals = u32(12, little), let translations = u32(16, little), n < 1_000_000 else { return nil }
        func string(_ table: Int, _ i: Int) -> String? {
            guard let len = u32(table + 8 * i, little), let off = u32(table + 8 * i + 4, little), off + len <= b.count else { return nil }
            var bytes = b[off..<(off + len)]
            if let nul = bytes.firstIndex(of: 0) { bytes = bytes[..<nul] }  // a plural: the first form
            return String(decoding: bytes, as: UTF8.self)
        }
        var out: [String: String] = [:]
        out.reserveCapacity(n)
        for i in 0..<n {
            guard let k = string(originals, i), let v = string(translations, i) else { return nil }
            if !k.isEmpty && !v.isEmpty { out[k] = v }
        }
        messages = out
    }

    /// Reads `DIR/LANG/LC_MESSAGES/DOMAIN.mo`; nil when absent or not a catalogue.
    public static func load(directory: String, language: String, domain: String = L10n.domain) -> MOCatalog? {
        let path = "\(directory)/\(language)/LC_MESSAGES/\(domain).mo"
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while bytes.count < 16 << 20 {
            let r = read(fd, &chunk, chunk.count)
            if r <= 0 { break }
            bytes += chunk[0..<r]
        }
        return MOCatalog(bytes: bytes)
    }

    /// The translation of an English msgid, or the msgid.
    public func text(_ msgid: String) -> String { messages[msgid] ?? msgid }
}
