#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The project's one JSON style: snake_case keys, RFC 3339 UTC times (see `Timestamp`), enums as
/// lowercase words, absent optionals omitted, keys sorted so output is stable for diffs and tests.
///
/// The snake_case names are each type's `CodingKeys`, written out, not a key strategy: JSONDecoder's
/// `convertFromSnakeCase` rebuilt every key of every object, 40 % of reading a report batch
/// (29.3 -> 17.7 us a report, ektp-bench), and `convertToSnakeCase` a third of encoding an event
/// (11.1 -> 7.5 us) (issue 17). So a key is matched exactly: `lastSequence` is not read as
/// `last_sequence`. `JSONStyleTests` holds every wire type to the names the strategy gave.
public enum JSONStyle {
    public static func encoder(pretty: Bool = false) -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return e
    }

    public static func decoder() -> JSONDecoder {
        JSONDecoder()
    }

    public static func encode<T: Encodable>(_ value: T, pretty: Bool = false) throws -> [UInt8] {
        Array(try encoder(pretty: pretty).encode(value))
    }

    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try decoder().decode(type, from: Data(bytes))
    }
}
