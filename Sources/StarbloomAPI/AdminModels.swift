import Foundation
import StarbloomCore

/// JSON shapes of the admin API (also decoded by the CLI, which has its own copies of what it reads).
struct PluginSummary: Codable {
    let name: String
    let version: String
    let kind: PluginKind
    let description: String
    let abi: String
    let path: String
    let loadedFrom: String
    let fields: [ConfigField]
    let commands: [CommandSpec]

    init(_ plugin: LoadedPlugin) {
        name = plugin.name
        version = plugin.version
        kind = plugin.kind
        description = plugin.description
        abi = "\(plugin.abiMajor).\(plugin.abiMinor)"
        path = plugin.path
        loadedFrom = plugin.loadedFrom
        fields = plugin.fields
        commands = plugin.commands
    }
}

struct PluginList: Codable {
    let plugins: [PluginSummary]
    let refused: [PluginCatalog.Refusal]
}

struct InstanceDetail: Codable {
    let status: InstanceStatus
    let spec: InstanceSpec
    let logs: [String]
}

struct ScanResult: Codable {
    let loaded: [String]
    let replaced: [String]
    let refused: [PluginCatalog.Refusal]
}

struct SettingsBody: Codable {
    let settings: [String: SettingValue]
}

struct CommandBody: Codable {
    let args: [String]
}

struct CommandReply: Codable {
    let reply: String
}

struct RecordView: Codable {
    let topic: String
    let offset: UInt64
    let key: String
    let payload: String
    let payloadEncoding: String
    let headers: [String: String]
    let eventTimeNs: Int64

    init(_ record: QueueRecord) {
        topic = record.topic
        offset = record.offset
        key = String(decoding: record.key, as: UTF8.self)
        if let text = String(validating: record.payload, as: UTF8.self) {
            payload = text
            payloadEncoding = "utf-8"
        } else {
            payload = Data(record.payload).base64EncodedString()
            payloadEncoding = "base64"
        }
        var headers: [String: String] = [:]
        for header in record.headers { headers[header.name] = String(decoding: header.value, as: UTF8.self) }
        self.headers = headers
        eventTimeNs = record.eventTimeNs
    }
}

struct RecordPage: Codable {
    let records: [RecordView]
    let next: UInt64
}

struct Readiness: Codable {
    let ready: Bool
    /// "ok", or why the queue is not (partitions that stopped accepting writes).
    let queue: String
    /// "ok", or why the SQLite stores do not answer.
    let storage: String
    let instances: [String: String]
    /// Each pipeline's state (starting, running, failed, stopped).
    let pipelines: [String: String]
}
