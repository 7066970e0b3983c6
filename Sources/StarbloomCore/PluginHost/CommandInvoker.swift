import CFFI
import CStarbloomABI
#if canImport(Glibc)
import Glibc
#endif

/// A command that could not be called, or that the plugin reported as failed. Shown to the operator.
public struct CommandError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// Calls a plugin's declared command through libffi:
/// `sb_status fn(void *instance, sb_message *reply, P1, P2, …)` with each Pi the C type of the
/// declared parameter. The arguments arrive as text (CLI, HTTP) and are converted by the declared
/// types first; a wrong count or an unconvertible value is refused before any plugin code runs.
enum CommandInvoker {
    static func invoke(
        plugin: LoadedPlugin, instance: UnsafeMutableRawPointer?, command name: String, arguments: [String], timeout: Double
    ) throws(CommandError) -> String {
        guard let index = plugin.commands.firstIndex(where: { $0.name == name }) else {
            let known = plugin.commands.map(\.name).joined(separator: ", ")
            throw CommandError(message: "plugin '\(plugin.name)' has no command '\(name)' (commands: \(known.isEmpty ? "none" : known))")
        }
        let spec = plugin.commands[index]
        guard arguments.count == spec.parameters.count else {
            throw CommandError(message: "command '\(name)' takes \(spec.parameters.count) argument(s), got \(arguments.count); usage: \(spec.usage)")
        }
        var values: [SettingValue] = []
        for (parameter, text) in zip(spec.parameters, arguments) {
            guard let value = SettingValue.parse(text, as: parameter.type) else {
                throw CommandError(message: "command '\(name)': argument '\(parameter.name)' must be \(parameter.type.article), got '\(text)'")
            }
            if parameter.type == .string, text.utf8.contains(0) {
                throw CommandError(message: "command '\(name)': argument '\(parameter.name)' contains a NUL byte")
            }
            values.append(value)
        }
        let function = UnsafeTransfer(plugin.commandFunctions[index])
        let instancePointer = UnsafeTransfer(instance)
        let boxedValues = UnsafeTransfer(values)
        let outcome = BlockingCall.run(timeout: timeout, name: "sb-command-\(name)") {
            UnsafeTransfer(call(function.value, instance: instancePointer.value, values: boxedValues.value))
        }
        guard let outcome = outcome?.value else {
            throw CommandError(message: "command '\(name)' did not return within \(Int(timeout)) s")
        }
        if outcome.status != SB_OK {
            throw CommandError(message: "command '\(name)' failed (\(outcome.status.name)): \(outcome.reply)")
        }
        return outcome.reply
    }

    /// Builds the call frame and calls. Every argument lives in `storage` for the duration of the call.
    private static func call(
        _ function: UnsafeMutableRawPointer, instance: UnsafeMutableRawPointer?, values: [SettingValue]
    ) -> (status: sb_status, reply: String) {
        let count = values.count + 2
        let types = UnsafeMutablePointer<UnsafeMutablePointer<ffi_type>?>.allocate(capacity: count)
        let arguments = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: count)
        let storage = UnsafeMutableRawPointer.allocate(byteCount: count * 8, alignment: 8)
        var strings: [UnsafeMutablePointer<CChar>] = []
        let reply = UnsafeMutablePointer<sb_message>.allocate(capacity: 1)
        reply.initialize(to: sb_message())
        defer {
            types.deallocate()
            arguments.deallocate()
            storage.deallocate()
            for string in strings { free(string) }
            reply.deallocate()
        }

        types[0] = sb_ffi_type_pointer()
        storage.storeBytes(of: instance, as: UnsafeMutableRawPointer?.self)
        arguments[0] = storage
        types[1] = sb_ffi_type_pointer()
        (storage + 8).storeBytes(of: UnsafeMutableRawPointer(reply), as: UnsafeMutableRawPointer.self)
        arguments[1] = storage + 8

        for (offset, value) in values.enumerated() {
            let slot = storage + (offset + 2) * 8
            switch value {
            case .string(let text):
                let copy = strdup(text)!
                strings.append(copy)
                slot.storeBytes(of: copy, as: UnsafeMutablePointer<CChar>.self)
                types[offset + 2] = sb_ffi_type_pointer()
            case .int(let number):
                slot.storeBytes(of: number, as: Int64.self)
                types[offset + 2] = sb_ffi_type_sint64()
            case .float(let number):
                slot.storeBytes(of: number, as: Double.self)
                types[offset + 2] = sb_ffi_type_double()
            case .bool(let flag):
                slot.storeBytes(of: Int32(flag ? 1 : 0), as: Int32.self)
                types[offset + 2] = sb_ffi_type_sint32()
            case .list:
                return (SB_ERR_INVALID_ARGUMENT, "list arguments are not supported")
            }
            arguments[offset + 2] = slot
        }

        var cif = ffi_cif()
        let prepared = ffi_prep_cif(&cif, FFI_DEFAULT_ABI, UInt32(count), sb_ffi_type_sint32(), types)
        guard prepared == FFI_OK else {
            return (SB_ERR_INTERNAL, "libffi could not prepare the call (status \(prepared.rawValue))")
        }
        // The return value is widened to ffi_arg by libffi.
        var result: ffi_arg = 0
        ffi_call(&cif, unsafeBitCast(function, to: (@convention(c) () -> Void).self), &result, arguments)
        let status = sb_status(rawValue: UInt32(truncatingIfNeeded: result))
        return (status, CStrings.read(message: reply))
    }
}
