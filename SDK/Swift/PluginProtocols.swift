import CStarbloomABI

/// What a Swift processor implements. The SDK turns it into an `sb_plugin_descriptor`, so the author
/// never touches raw pointers. See SDK/README.md ("Swift").
public protocol StarbloomProcessor: AnyObject {
    /// Static metadata, read once when the library is loaded.
    static var metadata: PluginMetadata { get }
    /// Creates an instance from validated settings. Throwing refuses the instance with the message.
    init(host: Host, config: Config) throws(PluginError)
    func start() throws(PluginError)
    /// Handles one batch; emit results through `emitter`. Throwing fails the whole batch.
    func process(_ batch: RecordBatch, emitter: Emitter) throws(PluginError)
    func stop()
    func health() -> Health
}

/// What a Swift source implements.
public protocol StarbloomSource: AnyObject {
    static var metadata: PluginMetadata { get }
    init(host: Host, config: Config) throws(PluginError)
    func start() throws(PluginError)
    /// Produces records until `host.shouldStop`; return normally to finish, throw to fail.
    func run() throws(PluginError)
    func stop()
    func health() -> Health
}

extension StarbloomProcessor {
    public func start() throws(PluginError) {}
    public func stop() {}
    public func health() -> Health { .ok }
}

extension StarbloomSource {
    public func start() throws(PluginError) {}
    public func stop() {}
    public func health() -> Health { .ok }
}

public enum Health: Sendable, Equatable {
    case ok
    case degraded(String)
    case failing(String)
}

/// An error a plugin reports to the host: a status code and a message the operator sees.
public struct PluginError: Error, Sendable, CustomStringConvertible {
    public let status: sb_status
    public let message: String

    public init(_ message: String, status: sb_status = SB_ERR_PLUGIN) {
        self.status = status
        self.message = message
    }

    /// A host API call failed: carries the host's status and its `last_error` text.
    init(host status: sb_status, api: UnsafePointer<sb_host_api>, context: OpaquePointer?, call: String) {
        self.status = status
        let detail = api.pointee.last_error.flatMap { $0(context) }.map { String(cString: $0) } ?? ""
        self.message = "\(call): \(detail)"
    }

    public var description: String { message }
}

/// A setting the plugin accepts.
public struct SettingDeclaration: Sendable {
    public enum Kind: Sendable { case string, int, float, bool, stringList }
    public let name: String
    public let kind: Kind
    public let required: Bool
    public let defaultValue: String?
    public let doc: String

    public static func string(_ name: String, default value: String? = nil, required: Bool = false, doc: String) -> Self {
        .init(name: name, kind: .string, required: required, defaultValue: value, doc: doc)
    }
    public static func int(_ name: String, default value: Int64? = nil, required: Bool = false, doc: String) -> Self {
        .init(name: name, kind: .int, required: required, defaultValue: value.map { String($0) }, doc: doc)
    }
    public static func float(_ name: String, default value: Double? = nil, required: Bool = false, doc: String) -> Self {
        .init(name: name, kind: .float, required: required, defaultValue: value.map { String($0) }, doc: doc)
    }
    public static func bool(_ name: String, default value: Bool? = nil, required: Bool = false, doc: String) -> Self {
        .init(name: name, kind: .bool, required: required, defaultValue: value.map { String($0) }, doc: doc)
    }
    public static func stringList(_ name: String, default value: [String]? = nil, required: Bool = false, doc: String) -> Self {
        .init(name: name, kind: .stringList, required: required, defaultValue: value?.joined(separator: ","), doc: doc)
    }
}

/// Name, version, description and settings of a plugin.
public struct PluginMetadata: Sendable {
    public let name: String
    public let version: String
    public let description: String
    public let settings: [SettingDeclaration]

    public init(name: String, version: String, description: String, settings: [SettingDeclaration] = []) {
        self.name = name
        self.version = version
        self.description = description
        self.settings = settings
    }
}
