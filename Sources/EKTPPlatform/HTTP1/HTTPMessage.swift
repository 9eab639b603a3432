import EKTPModel

/// A request received on the control socket.
public struct ControlRequest: Sendable {
    public var method: String
    /// The path without the query ("/v1/events").
    public var path: String
    public var query: [String: String]
    public var headers: [String: String]
    public var body: [UInt8]
    /// The caller's uid, from SO_PEERCRED: actions are for root only.
    public var peerUID: UInt32

    public init(method: String, path: String, query: [String: String] = [:], headers: [String: String] = [:],
                body: [UInt8] = [], peerUID: UInt32 = 0) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.peerUID = peerUID
    }
}

/// A response to send back.
public struct ControlResponse: Sendable {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]
    /// Further header fields, written as given (names and values must be plain ASCII with no CR or LF).
    public var headers: [(name: String, value: String)] = []

    public init(status: Int, contentType: String = "application/json", body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    public static func json<T: Encodable>(_ value: T, status: Int = 200) -> ControlResponse {
        do {
            return ControlResponse(status: status, body: try JSONStyle.encode(value, pretty: true) + [10])
        } catch {
            return .error(500, "could not encode the response: \(error)")
        }
    }

    /// `{"error": "...", "status": N}`: every error the socket returns has this shape.
    public static func error(_ status: Int, _ message: String) -> ControlResponse {
        struct Body: Encodable { var error: String; var status: Int }
        let bytes = (try? JSONStyle.encode(Body(error: message, status: status), pretty: true)) ?? Array("{}".utf8)
        return ControlResponse(status: status, body: bytes + [10])
    }

    public static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 202: "Accepted"
        case 400: "Bad Request"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 413: "Content Too Large"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }
}

/// Parses the head of an HTTP/1.1 request; returns a message on malformed input.
enum RequestHead {
    static func parse(_ head: [UInt8]) -> Result<(method: String, target: String, headers: [String: String]), ParseFailure> {
        let text = String(decoding: head, as: UTF8.self)
        var lines = text.split(separator: "\r\n", omittingEmptySubsequences: false).map(Substring.init)
        guard !lines.isEmpty else { return .failure(.init("empty request")) }
        let requestLine = lines.removeFirst().split(separator: " ")
        guard requestLine.count == 3, requestLine[2].hasPrefix("HTTP/1."),
              requestLine[0].allSatisfy({ $0.isUppercase }), requestLine[1].hasPrefix("/")
        else { return .failure(.init("malformed request line: expected 'METHOD /path HTTP/1.1'")) }
        var headers: [String: String] = [:]
        for line in lines where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { return .failure(.init("malformed header line '\(line.prefix(60))'")) }
            let name = line[..<colon].lowercased()
            let value = String(line[line.index(after: colon)...].drop(while: { $0 == " " }))
            // Two different lengths are a smuggling attempt or a broken client: refuse (RFC 9112 §6.3).
            if name == "content-length", let earlier = headers[name], earlier != value {
                return .failure(.init("two different Content-Length headers ('\(earlier.prefix(20))' and '\(value.prefix(20))')"))
            }
            headers[name] = value
        }
        return .success((String(requestLine[0]), String(requestLine[1]), headers))
    }

    struct ParseFailure: Error { var message: String; init(_ m: String) { message = m } }
}

/// Splits "/v1/events?since=10&limit=5" into path and decoded query.
func splitTarget(_ target: String) -> (String, [String: String]) {
    guard let q = target.firstIndex(of: "?") else { return (percentDecode(target), [:]) }
    var query: [String: String] = [:]
    for pair in target[target.index(after: q)...].split(separator: "&") {
        let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        query[percentDecode(String(kv[0]))] = kv.count > 1 ? percentDecode(String(kv[1])) : ""
    }
    return (percentDecode(String(target[..<q])), query)
}

func percentDecode(_ s: String) -> String {
    var out: [UInt8] = []
    var bytes = Array(s.utf8)[...]
    while let b = bytes.popFirst() {
        if b == 37, bytes.count >= 2, let v = UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16) {
            out.append(v)
            bytes = bytes.dropFirst(2)
        } else {
            out.append(b == 43 ? 32 : b)
        }
    }
    return String(decoding: out, as: UTF8.self)
}
