/// Where a node starts in its file, 1-based.
public struct YAMLMark: Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }
    public var description: String { "\(line):\(column)" }
}

/// A parsed YAML node with its position, so every later error can name the line.
public struct YAMLNode: Sendable, Equatable {
    public enum Value: Sendable, Equatable {
        /// A scalar's text; `quoted` is true when it was written in quotes (so "123" stays a string).
        case scalar(String, quoted: Bool)
        /// Keys in file order.
        case mapping([(key: String, keyMark: YAMLMark, value: YAMLNode)])
        case sequence([YAMLNode])
        /// An empty value (`key:` with nothing under it, `~`, `null`).
        case null

        public static func == (a: Value, b: Value) -> Bool {
            switch (a, b) {
            case let (.scalar(x, q1), .scalar(y, q2)): return x == y && q1 == q2
            case let (.sequence(x), .sequence(y)): return x == y
            case (.null, .null): return true
            case let (.mapping(x), .mapping(y)):
                return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
            default: return false
            }
        }
    }

    public var value: Value
    public var mark: YAMLMark

    public init(_ value: Value, _ mark: YAMLMark) {
        self.value = value
        self.mark = mark
    }

    /// A word for error messages: "a mapping", "a list", "a value", "nothing".
    public var shape: String {
        switch value {
        case .scalar(let s, _): "'\(s)'"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .null: "nothing"
        }
    }
}

/// A syntax error, with the line and column where it was found.
public struct YAMLSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    public var mark: YAMLMark
    public var message: String
    public init(_ mark: YAMLMark, _ message: String) {
        self.mark = mark
        self.message = message
    }
    public var description: String { "\(mark): \(message)" }
}
