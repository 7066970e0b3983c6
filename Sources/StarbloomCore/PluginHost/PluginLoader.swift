import CStarbloomABI
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Opens one `.so` and checks its descriptor before any other plugin code runs.
///
/// Every library is loaded from a content-addressed copy in `cacheDirectory`, never from the file the
/// operator dropped in: overwriting a mapped `.so` in place would corrupt the running image, and
/// dlopen of the same path returns the old image. Libraries are never dlclose'd (Swift-built images
/// crash the runtime when unloaded; see docs/ARCHITECTURE.md), so each distinct content is mapped once.
public struct PluginLoader: Sendable {
    public let cacheDirectory: String

    public init(cacheDirectory: String) {
        self.cacheDirectory = cacheDirectory
    }

    public func load(path: String) throws(PluginLoadError) -> LoadedPlugin {
        let contents: Data
        do {
            contents = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .unreadable(path, (error as NSError).localizedDescription)
        }
        guard contents.count >= 4, contents.prefix(4).elementsEqual([0x7F, 0x45, 0x4C, 0x46]) else {
            throw .notELF(path)
        }
        let hash = Self.contentHash(contents)
        let copy = try copyIntoCache(path: path, contents: contents, hash: hash)

        guard let handle = dlopen(copy, RTLD_NOW | RTLD_LOCAL) else {
            throw .dlopenFailed(path, Self.lastDlerror())
        }
        guard let symbol = dlsym(handle, ABIVersion.entrySymbol) else {
            throw .missingEntry(path)
        }
        let entry = unsafeBitCast(symbol, to: sb_plugin_entry_fn.self)
        guard let descriptor = entry() else {
            throw .malformed(path, "the entry function returned NULL")
        }
        return try Self.read(descriptor: descriptor, path: path, loadedFrom: copy, hash: hash)
    }

    /// Checks a descriptor and reads it into Swift. Reads only the 8-byte prefix until the major
    /// version and size are known to be ones this host understands.
    static func read(
        descriptor: UnsafePointer<sb_plugin_descriptor>, path: String, loadedFrom: String, hash: String
    ) throws(PluginLoadError) -> LoadedPlugin {
        let raw = UnsafeRawPointer(descriptor)
        let structSize = raw.loadUnaligned(as: UInt32.self)
        let major = raw.loadUnaligned(fromByteOffset: 4, as: UInt16.self)
        let minor = raw.loadUnaligned(fromByteOffset: 6, as: UInt16.self)
        if structSize < 8 {
            throw .malformed(path, "struct_size is \(structSize) bytes; the descriptor must start with its size and ABI version")
        }
        if major != ABIVersion.major {
            throw .abiMismatch(path, major: major, minor: minor)
        }
        if Int(structSize) < ABIVersion.minimumDescriptorSize {
            throw .malformed(path, "struct_size is \(structSize) bytes; ABI \(major).0 needs at least \(ABIVersion.minimumDescriptorSize)")
        }
        let d = descriptor.pointee

        func text(_ pointer: UnsafePointer<CChar>?, _ what: String, required: Bool) throws(PluginLoadError) -> String? {
            guard let value = CStrings.read(pointer) else {
                throw .malformed(path, "\(what) is longer than 4096 bytes or not NUL-terminated")
            }
            if required && value == nil { throw .malformed(path, "\(what) is NULL") }
            return value
        }

        let name = try text(d.name, "name", required: true)!
        guard Naming.isValidPluginName(name) else {
            throw .malformed(path, "name '\(name)' must be 1-64 characters of a-z, 0-9, '-' or '_'")
        }
        let version = try text(d.version, "version of '\(name)'", required: true)!
        guard let kind = PluginKind(d.kind) else {
            throw .malformed(path, "plugin '\(name)' has unknown kind \(d.kind.rawValue) (expected 1 source, 2 processor, 3 sink)")
        }
        let description = try text(d.description, "description", required: false) ?? ""
        if d.create == nil { throw .malformed(path, "plugin '\(name)' has no create function") }
        if d.destroy == nil { throw .malformed(path, "plugin '\(name)' has no destroy function") }
        switch kind {
        case .source where d.run == nil:
            throw .malformed(path, "source plugin '\(name)' has no run function")
        case .processor where d.process == nil, .sink where d.process == nil:
            throw .malformed(path, "\(kind.rawValue) plugin '\(name)' has no process function")
        default: break
        }

        // Config fields.
        var fields: [ConfigField] = []
        if d.config_field_count > 256 {
            throw .malformed(path, "plugin '\(name)' declares \(d.config_field_count) config fields (at most 256)")
        }
        if d.config_field_count > 0 {
            guard let table = d.config_fields else {
                throw .malformed(path, "plugin '\(name)' declares \(d.config_field_count) config fields but config_fields is NULL")
            }
            for index in 0..<d.config_field_count {
                let field = table[index]
                let fieldName = try text(field.name, "config field #\(index) name", required: true)!
                guard Naming.isValidFieldName(fieldName) else {
                    throw .malformed(path, "config field '\(fieldName)' must be 1-64 characters of a-z, 0-9 or '_'")
                }
                if fields.contains(where: { $0.name == fieldName }) {
                    throw .malformed(path, "config field '\(fieldName)' is declared twice")
                }
                guard let type = ValueType(field.type) else {
                    throw .malformed(path, "config field '\(fieldName)' has unknown type \(field.type.rawValue)")
                }
                let defaultText = try text(field.default_value, "default of '\(fieldName)'", required: false)
                var defaultValue: SettingValue?
                if let defaultText {
                    guard let parsed = SettingValue.parse(defaultText, as: type) else {
                        throw .malformed(path, "config field '\(fieldName)' has default '\(defaultText)', which is not \(type.article)")
                    }
                    defaultValue = parsed
                }
                let doc = try text(field.doc, "doc of '\(fieldName)'", required: false) ?? ""
                fields.append(ConfigField(
                    name: fieldName, type: type, required: field.required != 0,
                    defaultText: defaultText, defaultValue: defaultValue, doc: doc))
            }
        }

        // Commands.
        var commands: [CommandSpec] = []
        var functions: [UnsafeMutableRawPointer] = []
        if d.command_count > 64 {
            throw .malformed(path, "plugin '\(name)' declares \(d.command_count) commands (at most 64)")
        }
        if d.command_count > 0 {
            guard let table = d.commands else {
                throw .malformed(path, "plugin '\(name)' declares \(d.command_count) commands but commands is NULL")
            }
            for index in 0..<d.command_count {
                let command = table[index]
                let commandName = try text(command.name, "command #\(index) name", required: true)!
                guard Naming.isValidPluginName(commandName) else {
                    throw .malformed(path, "command '\(commandName)' must be 1-64 characters of a-z, 0-9, '-' or '_'")
                }
                if commands.contains(where: { $0.name == commandName }) {
                    throw .malformed(path, "command '\(commandName)' is declared twice")
                }
                guard let function = command.fn else {
                    throw .malformed(path, "command '\(commandName)' has no function")
                }
                if command.param_count > 16 {
                    throw .malformed(path, "command '\(commandName)' has \(command.param_count) parameters (at most 16)")
                }
                var parameters: [CommandSpec.Parameter] = []
                if command.param_count > 0 {
                    guard let params = command.params else {
                        throw .malformed(path, "command '\(commandName)' declares parameters but params is NULL")
                    }
                    for p in 0..<command.param_count {
                        let paramName = try text(params[p].name, "parameter #\(p) of '\(commandName)'", required: true)!
                        guard let type = ValueType(params[p].type), type != .stringList else {
                            throw .malformed(path, "parameter '\(paramName)' of command '\(commandName)' has unsupported type \(params[p].type.rawValue)")
                        }
                        let doc = try text(params[p].doc, "doc of parameter '\(paramName)'", required: false) ?? ""
                        parameters.append(.init(name: paramName, type: type, doc: doc))
                    }
                }
                let doc = try text(command.doc, "doc of command '\(commandName)'", required: false) ?? ""
                commands.append(CommandSpec(name: commandName, doc: doc, parameters: parameters))
                functions.append(unsafeBitCast(function, to: UnsafeMutableRawPointer.self))
            }
        }

        return LoadedPlugin(
            name: name, version: version, kind: kind, description: description,
            abiMajor: major, abiMinor: minor, fields: fields, commands: commands,
            path: path, loadedFrom: loadedFrom, contentHash: hash,
            descriptor: descriptor, commandFunctions: functions)
    }

    private func copyIntoCache(path: String, contents: Data, hash: String) throws(PluginLoadError) -> String {
        let base = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        let target = "\(cacheDirectory)/\(base)-\(hash).so"
        if FileManager.default.fileExists(atPath: target) { return target }
        do {
            try FileManager.default.createDirectory(atPath: cacheDirectory, withIntermediateDirectories: true)
            let temporary = "\(target).tmp-\(getpid())"
            try contents.write(to: URL(fileURLWithPath: temporary))
            if rename(temporary, target) != 0 {
                throw PluginLoadError.unreadable(path, "cannot place copy at \(target): \(String(cString: strerror(errno)))")
            }
        } catch let error as PluginLoadError {
            throw error
        } catch {
            throw .unreadable(path, "cannot copy into \(cacheDirectory): \(error)")
        }
        return target
    }

    /// FNV-1a, 64 bits, as 16 hex digits: enough to tell versions of one file apart.
    static func contentHash(_ data: Data) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        data.withUnsafeBytes { bytes in
            for byte in bytes {
                hash ^= UInt64(byte)
                hash &*= 0x0000_0100_0000_01B3
            }
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    private static func lastDlerror() -> String {
        guard let message = dlerror() else { return "unknown error" }
        return String(cString: message)
    }
}
