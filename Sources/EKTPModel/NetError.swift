/// A network failure in words a person acts on (host, port, cause, the setting that fixes it).
public struct NetError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ d: String) { description = d }
}
