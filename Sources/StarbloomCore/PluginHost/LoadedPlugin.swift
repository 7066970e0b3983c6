import CStarbloomABI

/// A plugin image that passed every load check: its descriptor read into Swift plus the function
/// pointers the host calls.
///
/// `@unchecked Sendable`: every stored property is immutable after init, and the descriptor it points
/// into is static data that the ABI requires to stay unchanged while the library is loaded (the host
/// never unloads it).
public final class LoadedPlugin: @unchecked Sendable {
    public let name: String
    public let version: String
    public let kind: PluginKind
    public let description: String
    public let abiMajor: UInt16
    public let abiMinor: UInt16
    public let fields: [ConfigField]
    public let commands: [CommandSpec]
    /// The file the operator dropped in; `loadedFrom` is the content-addressed copy actually mapped.
    public let path: String
    public let loadedFrom: String
    public let contentHash: String

    let descriptor: UnsafePointer<sb_plugin_descriptor>
    let commandFunctions: [UnsafeMutableRawPointer]

    init(
        name: String, version: String, kind: PluginKind, description: String,
        abiMajor: UInt16, abiMinor: UInt16, fields: [ConfigField], commands: [CommandSpec],
        path: String, loadedFrom: String, contentHash: String,
        descriptor: UnsafePointer<sb_plugin_descriptor>, commandFunctions: [UnsafeMutableRawPointer]
    ) {
        self.name = name
        self.version = version
        self.kind = kind
        self.description = description
        self.abiMajor = abiMajor
        self.abiMinor = abiMinor
        self.fields = fields
        self.commands = commands
        self.path = path
        self.loadedFrom = loadedFrom
        self.contentHash = contentHash
        self.descriptor = descriptor
        self.commandFunctions = commandFunctions
    }

    var create: @convention(c) (
        UnsafePointer<sb_host_api>?, OpaquePointer?, UnsafePointer<sb_config>?,
        UnsafeMutablePointer<UnsafeMutableRawPointer?>?, UnsafeMutablePointer<sb_message>?
    ) -> sb_status { descriptor.pointee.create! }
    var start: (@convention(c) (UnsafeMutableRawPointer?, UnsafeMutablePointer<sb_message>?) -> sb_status)? {
        descriptor.pointee.start
    }
    var run: (@convention(c) (UnsafeMutableRawPointer?, UnsafeMutablePointer<sb_message>?) -> sb_status)? {
        descriptor.pointee.run
    }
    var process: (@convention(c) (
        UnsafeMutableRawPointer?, UnsafePointer<sb_record>?, Int, UnsafePointer<sb_emitter>?,
        UnsafeMutablePointer<sb_message>?
    ) -> sb_status)? { descriptor.pointee.process }
    var stop: (@convention(c) (UnsafeMutableRawPointer?, UnsafeMutablePointer<sb_message>?) -> sb_status)? {
        descriptor.pointee.stop
    }
    var destroy: @convention(c) (UnsafeMutableRawPointer?) -> Void { descriptor.pointee.destroy! }
    package var health: (@convention(c) (UnsafeMutableRawPointer?, UnsafeMutablePointer<sb_message>?) -> sb_health)? {
        descriptor.pointee.health
    }
}
