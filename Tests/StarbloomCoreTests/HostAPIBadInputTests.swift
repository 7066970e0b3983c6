import CStarbloomABI
import Foundation
import Testing
@testable import StarbloomCore

/// The host API table met with bad arguments: a status code and a `last_error` that names the problem,
/// nothing published.
@Suite("Host API bad input")
struct HostAPIBadInputTests {
    @Test("publish and publish_batch refuse NULL records, too many records, bad topic names and oversized records")
    func publishBadInput() {
        let services = HostServices(queue: InMemoryQueue(maxRecordBytes: 1024))
        let context = InstanceContext(instanceName: "bad-input", pluginName: "test", services: services, outputTopic: nil,
                                      metricTable: PluginMetricTable(), logBuffer: LogBuffer())
        let ctx = OpaquePointer(Unmanaged.passUnretained(context).toOpaque())
        let api = HostAPITable.shared.pointee
        func lastError() -> String { api.last_error(ctx).map { String(cString: $0) } ?? "" }

        var published = 99
        #expect(api.publish_batch(ctx, nil, 3, &published) == SB_ERR_INVALID_ARGUMENT)
        #expect(published == 0)
        #expect(lastError().contains("records is NULL"))

        var record = sb_record()
        #expect(api.publish_batch(ctx, &record, 65_537, &published) == SB_ERR_INVALID_ARGUMENT)
        #expect(lastError().contains("at most 65536"))

        #expect(api.publish(ctx, nil, nil) == SB_ERR_INVALID_ARGUMENT)
        // Empty topic and no output topic configured for the instance.
        #expect(api.publish(ctx, &record, nil) == SB_ERR_INVALID_ARGUMENT)
        #expect(lastError().contains("no output topic"))

        let badTopic = "bad topic!"
        let payload = [UInt8](repeating: 7, count: 2000)
        badTopic.withCString { topic in
            payload.withUnsafeBufferPointer { bytes in
                record.topic = sb_str(ptr: topic, len: badTopic.utf8.count)
                #expect(api.publish(ctx, &record, nil) == SB_ERR_INVALID_ARGUMENT)
                #expect(lastError().contains("contains ' '"))
                "ok.topic".withCString { good in
                    record.topic = sb_str(ptr: good, len: 8)
                    record.payload = sb_bytes(ptr: bytes.baseAddress, len: bytes.count)
                    #expect(api.publish(ctx, &record, nil) == SB_ERR_TOO_LARGE)
                    #expect(lastError().contains("exceeds the limit of 1024 bytes"))
                }
            }
        }
        #expect(services.queue.topics().allSatisfy { $0.published == 0 }, "nothing may be published by a refused call")
        withExtendedLifetime(context) {}
    }

    @Test("metric_register and timeseries_write refuse bad names, NaN and too many tags")
    func metricsAndSeriesBadInput() {
        let services = HostServices()
        let context = InstanceContext(instanceName: "bad-input", pluginName: "test", services: services, outputTopic: nil,
                                      metricTable: PluginMetricTable(), logBuffer: LogBuffer())
        let ctx = OpaquePointer(Unmanaged.passUnretained(context).toOpaque())
        let api = HostAPITable.shared.pointee
        var id: sb_metric_id = 0
        "Bad-Name".withCString { name in
            #expect(api.metric_register(ctx, SB_METRIC_COUNTER, sb_str(ptr: name, len: 8), sb_str(), &id) == SB_ERR_INVALID_ARGUMENT)
        }
        "good_name".withCString { name in
            #expect(api.metric_register(ctx, SB_METRIC_COUNTER, sb_str(ptr: name, len: 9), sb_str(), &id) == SB_OK)
            #expect(api.metric_register(ctx, SB_METRIC_GAUGE, sb_str(ptr: name, len: 9), sb_str(), &id) == SB_ERR_CONFLICT)
        }
        "m".withCString { metric in
            #expect(api.timeseries_write(ctx, sb_str(ptr: metric, len: 1), nil, 0, 1, .nan) == SB_ERR_INVALID_ARGUMENT)
            #expect(api.timeseries_write(ctx, sb_str(ptr: metric, len: 1), nil, 33, 1, 1) == SB_ERR_INVALID_ARGUMENT)
            #expect(api.timeseries_write(ctx, sb_str(ptr: metric, len: 1), nil, 2, 1, 1) == SB_ERR_INVALID_ARGUMENT)
        }
        #expect(services.timeSeries.points(metric: "m").isEmpty)
        withExtendedLifetime(context) {}
    }
}
