/// A problem that stops the daemon from starting, said so a person can fix it.
public struct StartupError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ d: String) { description = d }
}
