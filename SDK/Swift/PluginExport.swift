import CStarbloomABI
#if canImport(Glibc)
import Glibc
#endif

/// Builds the C descriptor for a Swift plugin. A plugin module exports its entry like this:
///
///     @_cdecl("starbloom_plugin_entry")
///     public func starbloomPluginEntry() -> UnsafeRawPointer {
///         PluginExport.processor(MyProcessor.self)
///     }
///
/// Each plugin library links its own copy of this module, so the one exported type per library is
/// kept in a module-level variable that the descriptor's C functions (which cannot capture a
/// generic type) reach.
public enum PluginExport {
    public static func processor<P: StarbloomProcessor>(_ type: P.Type) -> UnsafeRawPointer {
        export(metadata: P.metadata, kind: SB_KIND_PROCESSOR) { host, config throws(PluginError) in
            ProcessorBox(try P(host: host, config: config), host: host)
        }
    }

    public static func source<S: StarbloomSource>(_ type: S.Type) -> UnsafeRawPointer {
        export(metadata: S.metadata, kind: SB_KIND_SOURCE) { host, config throws(PluginError) in
            SourceBox(try S(host: host, config: config))
        }
    }

    private static func export(metadata: PluginMetadata, kind: sb_plugin_kind,
                               factory: @escaping (Host, Config) throws(PluginError) -> AnyPluginBox) -> UnsafeRawPointer {
        exportLock.lock()
        defer { exportLock.unlock() }
        if let existing = exported { return UnsafeRawPointer(existing.descriptor) }
        let built = Exported(metadata: metadata, kind: kind, factory: factory)
        exported = built
        return UnsafeRawPointer(built.descriptor)
    }
}

/// The exported plugin of this library: metadata, factory and the descriptor built from them.
/// Set once under `exportLock`, then only read.
nonisolated(unsafe) var exported: Exported?
nonisolated(unsafe) let exportLock = PthreadMutex()

final class PthreadMutex {
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    func lock() { pthread_mutex_lock(&mutex) }
    func unlock() { pthread_mutex_unlock(&mutex) }
}

final class Exported {
    let metadata: PluginMetadata
    let factory: (Host, Config) throws(PluginError) -> AnyPluginBox
    let descriptor: UnsafeMutablePointer<sb_plugin_descriptor>

    init(metadata: PluginMetadata, kind: sb_plugin_kind, factory: @escaping (Host, Config) throws(PluginError) -> AnyPluginBox) {
        self.metadata = metadata
        self.factory = factory
        // Static for the life of the library: the strings and the field table are never freed.
        let fields = UnsafeMutablePointer<sb_config_field>.allocate(capacity: max(metadata.settings.count, 1))
        for (index, setting) in metadata.settings.enumerated() {
            let type: sb_value_type = switch setting.kind {
            case .string: SB_TYPE_STRING
            case .int: SB_TYPE_INT
            case .float: SB_TYPE_FLOAT
            case .bool: SB_TYPE_BOOL
            case .stringList: SB_TYPE_STRING_LIST
            }
            fields[index] = sb_config_field(
                name: UnsafePointer(strdup(setting.name)), type: type, required: setting.required ? 1 : 0,
                default_value: setting.defaultValue.map { UnsafePointer(strdup($0)) }, doc: UnsafePointer(strdup(setting.doc)))
        }
        descriptor = .allocate(capacity: 1)
        var d = sb_plugin_descriptor()
        d.struct_size = UInt32(MemoryLayout<sb_plugin_descriptor>.size)
        d.abi_major = UInt16(SB_ABI_MAJOR)
        d.abi_minor = UInt16(SB_ABI_MINOR)
        d.name = UnsafePointer(strdup(metadata.name))
        d.version = UnsafePointer(strdup(metadata.version))
        d.kind = kind
        d.description = UnsafePointer(strdup(metadata.description))
        d.config_fields = UnsafePointer(fields)
        d.config_field_count = metadata.settings.count
        d.create = { api, context, config, out, message in
            guard let api, let config, let out, let plugin = exported else { return SB_ERR_INVALID_ARGUMENT }
            let host = Host(api: api, context: context)
            do throws(PluginError) {
                let box = try plugin.factory(host, Config(raw: config, declarations: plugin.metadata.settings))
                out.pointee = Unmanaged.passRetained(box).toOpaque()
                return SB_OK
            } catch {
                write(error.message, to: message)
                return error.status
            }
        }
        d.start = { instance, message in
            Unmanaged<AnyPluginBox>.fromOpaque(instance!)._withUnsafeGuaranteedRef { box in
                do throws(PluginError) {
                    try box.start()
                    return SB_OK
                } catch {
                    write(error.message, to: message)
                    return error.status
                }
            }
        }
        if kind == SB_KIND_SOURCE {
            d.run = { instance, message in
                Unmanaged<AnyPluginBox>.fromOpaque(instance!)._withUnsafeGuaranteedRef { box in
                    do throws(PluginError) {
                        try box.run()
                        return SB_OK
                    } catch {
                        write(error.message, to: message)
                        return error.status
                    }
                }
            }
        } else {
            d.process = { instance, records, count, emitter, message in
                Unmanaged<AnyPluginBox>.fromOpaque(instance!)._withUnsafeGuaranteedRef { box in
                    do throws(PluginError) {
                        try box.process(RecordBatch(records: UnsafeBufferPointer(start: records, count: count)), emitter: emitter!)
                        return SB_OK
                    } catch {
                        write(error.message, to: message)
                        return error.status
                    }
                }
            }
        }
        d.stop = { instance, _ in
            Unmanaged<AnyPluginBox>.fromOpaque(instance!)._withUnsafeGuaranteedRef { $0.stop() }
            return SB_OK
        }
        d.destroy = { instance in
            Unmanaged<AnyPluginBox>.fromOpaque(instance!).release()
        }
        d.health = { instance, detail in
            switch Unmanaged<AnyPluginBox>.fromOpaque(instance!)._withUnsafeGuaranteedRef({ $0.health() }) {
            case .ok: return SB_HEALTH_OK
            case .degraded(let why):
                write(why, to: detail)
                return SB_HEALTH_DEGRADED
            case .failing(let why):
                write(why, to: detail)
                return SB_HEALTH_FAILING
            }
        }
        descriptor.initialize(to: d)
    }
}

func write(_ text: String, to message: UnsafeMutablePointer<sb_message>?) {
    guard let message else { return }
    withUnsafeMutableBytes(of: &message.pointee.text) { raw in
        let utf8 = Array(text.utf8.prefix(raw.count - 1))
        raw.copyBytes(from: utf8)
        raw[utf8.count] = 0
    }
}

/// Type-erased instance behind the `void *instance` pointer. Subclasses forward to the author's type.
class AnyPluginBox {
    func start() throws(PluginError) {}
    func run() throws(PluginError) {}
    func process(_ batch: RecordBatch, emitter: UnsafePointer<sb_emitter>) throws(PluginError) {}
    func stop() {}
    func health() -> Health { .ok }
}

final class ProcessorBox<P: StarbloomProcessor>: AnyPluginBox {
    let plugin: P
    let host: Host
    init(_ plugin: P, host: Host) {
        self.plugin = plugin
        self.host = host
    }
    override func start() throws(PluginError) { try plugin.start() }
    override func process(_ batch: RecordBatch, emitter: UnsafePointer<sb_emitter>) throws(PluginError) {
        try plugin.process(batch, emitter: Emitter(raw: emitter, api: host.api, context: host.context))
    }
    override func stop() { plugin.stop() }
    override func health() -> Health { plugin.health() }
}

final class SourceBox<S: StarbloomSource>: AnyPluginBox {
    let plugin: S
    init(_ plugin: S) { self.plugin = plugin }
    override func start() throws(PluginError) { try plugin.start() }
    override func run() throws(PluginError) { try plugin.run() }
    override func stop() { plugin.stop() }
    override func health() -> Health { plugin.health() }
}
