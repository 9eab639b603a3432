#if canImport(Glibc)
import Glibc
#endif
import CEKTPZlib

/// gzip (RFC 1952) through zlib, for request bodies (the station compresses, the registry
/// inflates) and courier bundles. One place that bounds what an inflation may produce.
public enum Gzip {
    public enum Failure: Error, Equatable {
        /// The output would pass the bound (a zip bomb): nothing was kept.
        case tooLarge
        /// Not whole, valid gzip; zlib's words for what it found.
        case invalid(String)
    }

    /// Inflates `bytes`, producing at most `max` bytes.
    public static func inflate(_ bytes: [UInt8], max: Int) -> Result<[UInt8], Failure> {
        var out: UnsafeMutablePointer<UInt8>?
        var outLen = 0
        var why = [CChar](repeating: 0, count: 128)
        let rc = ektp_gunzip(bytes, bytes.count, max, &out, &outLen, &why, why.count)
        defer { free(out) }
        switch rc {
        case 0: return .success(Array(UnsafeBufferPointer(start: out, count: outLen)))
        case 1: return .failure(.tooLarge)
        default: return .failure(.invalid(String(cString: why)))
        }
    }

    /// Compresses `bytes` (zlib's default level); nil only when zlib fails to allocate.
    public static func deflate(_ bytes: [UInt8]) -> [UInt8]? {
        var outLen = 0
        guard let z = ektp_gzip(bytes, bytes.count, &outLen) else { return nil }
        defer { free(z) }
        return Array(UnsafeBufferPointer(start: z, count: outLen))
    }
}
