import Dispatch
import HTTPTypes
import Hummingbird
import StarbloomCore
import Synchronization

/// Per-route request metrics for `/metrics`: a latency histogram
/// (`starbloom_api_request_duration_seconds{method,route}`) and a response counter
/// (`starbloom_api_responses_total{method,route,status}`). The route is the matched path template
/// (`/v1/kv/{namespace}/{key}`), never the raw path, so clients cannot grow the label set;
/// requests no route matched count as route `NotFound` (Hummingbird's name for them; `unmatched`
/// if a request ever arrives without a route set).
///
/// Latency is measured until the handler has produced the response head: for a streaming route
/// (SSE) that is the time to open the stream, not its lifetime. The first middleware, so it sees the
/// status the problem middleware mapped an error to.
struct APIMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    private let series: APIRouteMetrics

    init(registry: MetricsRegistry) { series = APIRouteMetrics(registry: registry) }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = DispatchTime.now().uptimeNanoseconds
        let response: Response
        do {
            response = try await next(request, context)
        } catch {
            series.record(request.method, context.endpointPath, status: (error as? any HTTPResponseError)?.status.code ?? 500, since: started)
            throw error
        }
        series.record(request.method, context.endpointPath, status: response.status.code, since: started)
        return response
    }
}

/// The registered metrics of each (method, route, status) seen, found without the registry's lock.
final class APIRouteMetrics: Sendable {
    private struct Key: Hashable {
        let method: HTTPRequest.Method
        let route: String
        let status: Int
    }
    private let registry: MetricsRegistry
    private let known = Mutex<[Key: (latency: Histogram, responses: Counter)]>([:])

    init(registry: MetricsRegistry) { self.registry = registry }

    private static let standardMethods: Set<HTTPRequest.Method> = [.get, .head, .post, .put, .delete, .patch, .options, .trace, .connect]
    private static let otherMethod = HTTPRequest.Method("OTHER")!

    func record(_ method: HTTPRequest.Method, _ route: String?, status: Int, since started: UInt64) {
        // Methods outside the standard set share one label value: clients cannot grow the set.
        let label: HTTPRequest.Method = Self.standardMethods.contains(method) ? method : Self.otherMethod
        let key = Key(method: label, route: route ?? "unmatched", status: status)
        let metrics = known.withLock { $0[key] } ?? register(key)
        metrics.latency.observe(Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
        metrics.responses.add()
    }

    private func register(_ key: Key) -> (latency: Histogram, responses: Counter) {
        let route = [("method", key.method.rawValue), ("route", key.route)]
        let metrics = (
            latency: registry.histogram("starbloom_api_request_duration_seconds",
                                        help: "API request latency until the response head, by route.", labels: route),
            responses: registry.counter("starbloom_api_responses_total",
                                        help: "API responses by route and status.", labels: route + [("status", String(key.status))]))
        known.withLock { $0[key] = metrics }
        return metrics
    }
}
