import Hummingbird
import NIOCore

/// Answers 405 with `Allow` when a known path is asked with a method it does not take (RFC 9110
/// §15.5.6), where the router alone would say 404 (issue 13: TRACE got 404; schemathesis flags it).
/// The table is the API's (docs/openapi.yaml); a path not in it goes on to the router's 404.
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Path prefix (a trailing `/` matches one more segment) and the methods it takes.
    static var routes: [(path: String, methods: [HTTPRequest.Method])] {
        [("/v1/reports", [.post]), ("/v1/reports/stored", [.get]), ("/v1/bundles", [.post]), ("/v1/fleet", [.get]), ("/v1/sites", [.get]), ("/v1/events", [.get]),
         ("/v1/stations/", [.get]), ("/metrics", [.get]), ("/openapi.yaml", [.get]), ("/healthz", [.get])]
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if let route = Self.routes.first(where: { r in
            r.path.hasSuffix("/") ? path.hasPrefix(r.path) && path.count > r.path.count && !path.dropFirst(r.path.count).contains("/") : path == r.path
        }) {
            let allowed = route.methods + (route.methods.contains(.get) ? [.head] : [])
            if !allowed.contains(request.method) {
                let allow = allowed.map(\.rawValue).joined(separator: ", ")
                let body = #"{"error":"\#(request.method.rawValue) is not allowed on \#(route.path.hasSuffix("/") ? route.path + "{id}" : route.path): use \#(allow)"}"#
                return Response(status: .methodNotAllowed, headers: [.allow: allow, .contentType: "application/json"],
                                body: .init(byteBuffer: ByteBuffer(string: body + "\n")))
            }
        }
        return try await next(request, context)
    }
}
