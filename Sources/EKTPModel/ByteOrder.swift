#if canImport(Glibc)
import Glibc
#endif
extension String {
    /// Whether this string comes before `other` in the byte order of their UTF-8: SQLite's BINARY
    /// collation and C's `strcmp`, the same on every machine and in every locale (PostgreSQL's
    /// collation follows the database's locale, so the registry sorts its trees itself).
    ///
    /// The same answer as `utf8.lexicographicallyPrecedes(other.utf8)`, read from the strings'
    /// contiguous bytes: perf put 3.9 % of the fleet summary's CPU in that generic comparison (7,300
    /// districts sorted by province, regency, district). Falls back to it for a string that has no
    /// contiguous UTF-8 (bridged or lazily converted).
    @inlinable
    public func utf8Precedes(_ other: String) -> Bool {
        let fast = utf8.withContiguousStorageIfAvailable { a in
            other.utf8.withContiguousStorageIfAvailable { b -> Bool in
                let n = Swift.min(a.count, b.count)
                var i = 0
                while i < n {
                    if a[i] != b[i] { return a[i] < b[i] }
                    i += 1
                }
                return a.count < b.count
            }
        }
        if let fast, let answer = fast { return answer }
        return utf8.lexicographicallyPrecedes(other.utf8)
    }

    /// Whether this string has the same UTF-8 bytes as `other`: equality as SQLite's BINARY
    /// collation and PostgreSQL's `=` on text see it. Swift's `==` is canonical equivalence, which
    /// takes "Café" written with é (C3 A9) and with e and a combining accent (65 CC 81) for the
    /// same name; the databases keep them apart, and a viewer's scope must too (a helper found the
    /// fleet index counting one province's station in the other's).
    @inlinable
    public func utf8Equals(_ other: String) -> Bool {
        let fast = utf8.withContiguousStorageIfAvailable { a in
            other.utf8.withContiguousStorageIfAvailable { b -> Bool in
                a.count == b.count && (a.count == 0 || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0)
            }
        }
        if let fast, let answer = fast { return answer }
        return utf8.elementsEqual(other.utf8)
    }
}

/// A name compared and hashed by its UTF-8 bytes (`String.utf8Equals`), for dictionaries that
/// must keep apart what the database keeps apart.
public struct ByteString: Hashable, Sendable {
    public let value: String
    public init(_ value: String) { self.value = value }
    public static func == (a: ByteString, b: ByteString) -> Bool { a.value.utf8Equals(b.value) }
    public func hash(into hasher: inout Hasher) {
        var v = value
        v.makeContiguousUTF8()  // one way of feeding the bytes, whatever the string's storage
        v.utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        hasher.combine(v.utf8.count)
    }
}
