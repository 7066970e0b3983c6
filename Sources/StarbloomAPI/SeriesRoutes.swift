import Foundation
import Hummingbird
import StarbloomCore

/// `/v1/series`: list metrics, write points, query a range with step, aggregate, tag filter
/// (`tag.<name>=<value>`) and group-by. Times are Unix nanoseconds.
enum SeriesRoutes {
    static let maxPointsPerWrite = 10_000

    static func add(to router: Router<StarbloomRequestContext>, host: StarbloomHost) {
        router.get("/v1/series") { _, _ in
            let store = try SeriesRoutes.store(host)
            let metrics: [(metric: String, series: Int)]
            do throws(StoreError) {
                metrics = try store.metrics()
            } catch {
                throw Problem(error)
            }
            return try AdminRoutes.json(MetricList(metrics: metrics.map { MetricSummary(metric: $0.metric, series: $0.series) }))
        }

        router.post("/v1/series/:metric/points") { request, context in
            let store = try SeriesRoutes.store(host)
            let metric = try SeriesRoutes.metric(context)
            let body = try await AdminRoutes.decode(PointsBody.self, from: request)
            guard !body.points.isEmpty, body.points.count <= maxPointsPerWrite else {
                throw Problem.badRequest("points must hold 1 to \(maxPointsPerWrite) points, got \(body.points.count)")
            }
            let points = body.points.map { TimeSeriesPoint(metric: metric, tags: $0.tags ?? [:], timestampNs: $0.tsNs, value: $0.value) }
            do throws(StoreError) {
                try await AdminRoutes.offload { () throws(StoreError) in try store.write(points) }
            } catch {
                throw Problem(error)
            }
            return try AdminRoutes.json(["written": points.count])
        }

        router.get("/v1/series/:metric") { request, context in
            let store = try SeriesRoutes.store(host)
            let metric = try SeriesRoutes.metric(context)
            let parameters = request.uri.queryParameters
            guard parameters["from"] != nil, parameters["to"] != nil, parameters["step"] != nil else {
                throw Problem.badRequest("from, to and step (Unix nanoseconds) are required")
            }
            let limit = UInt64(Int64.max)
            let from = Int64(try AdminRoutes.query(request, "from", default: 0, range: 0...limit))
            let to = Int64(try AdminRoutes.query(request, "to", default: 0, range: 0...limit))
            let step = Int64(try AdminRoutes.query(request, "step", default: 0, range: 1...limit))
            let aggregateText = parameters["agg"].map(String.init) ?? "avg"
            guard let aggregate = Aggregate(rawValue: aggregateText) else {
                throw Problem.badRequest("agg must be one of \(Aggregate.allCases.map(\.rawValue).joined(separator: ", ")); got '\(aggregateText)'")
            }
            var tags: [String: String] = [:]
            for (name, value) in parameters where name.hasPrefix("tag.") {
                tags[String(name.dropFirst(4))] = String(value)
            }
            let groupBy = parameters["group_by"].map { $0.split(separator: ",").map(String.init) }
            let raw = parameters["raw"].map { $0 == "true" || $0 == "1" } ?? false
            let query = SeriesQuery(metric: metric, tags: tags, from: from, to: to, step: step, aggregate: aggregate,
                                    groupBy: groupBy, allowRollups: !raw)
            let results: [SeriesResult]
            do throws(StoreError) {
                results = try await AdminRoutes.offload { () throws(StoreError) in try store.query(query) }
            } catch {
                throw Problem(error)
            }
            let resolution = store.plan(for: query)
            return try AdminRoutes.json(SeriesAnswer(
                metric: metric, aggregate: aggregate.rawValue, from: from, to: to, step: step,
                source: resolution.map { "rollup:\($0 / 1_000_000_000)s" } ?? "raw",
                results: results.map { SeriesAnswer.Result(tags: $0.tags, buckets: $0.buckets.map { .init(start: $0.start, value: $0.value) }) }))
        }
    }

    static func store(_ host: StarbloomHost) throws -> SQLiteTimeSeriesStore {
        guard let store = host.services.timeSeries as? SQLiteTimeSeriesStore else {
            throw Problem(.serviceUnavailable, "Not available", detail: "the series API needs the SQLite time-series store (starbloom serve uses it)")
        }
        return store
    }

    static func metric(_ context: StarbloomRequestContext) throws -> String {
        let raw = try context.parameters.require("metric")
        guard let metric = PercentDecoding.string(raw[...]), !metric.isEmpty, metric.utf8.count <= SQLiteTimeSeriesStore.maxMetricBytes else {
            throw Problem.badRequest("metric '\(raw)' must be 1-\(SQLiteTimeSeriesStore.maxMetricBytes) bytes")
        }
        return metric
    }
}

struct MetricSummary: Encodable {
    let metric: String
    let series: Int
}

struct MetricList: Encodable {
    let metrics: [MetricSummary]
}

struct PointsBody: Decodable {
    struct Point: Decodable {
        let tags: [String: String]?
        let tsNs: Int64
        let value: Double
        enum CodingKeys: String, CodingKey { case tags, tsNs = "ts_ns", value }
    }
    let points: [Point]
}

struct SeriesAnswer: Encodable {
    struct Bucket: Encodable {
        let start: Int64
        let value: Double
    }
    struct Result: Encodable {
        let tags: [String: String]
        let buckets: [Bucket]
    }
    let metric: String
    let aggregate: String
    let from: Int64
    let to: Int64
    let step: Int64
    /// "raw", or the rollup that answered ("rollup:60s").
    let source: String
    let results: [Result]
}
