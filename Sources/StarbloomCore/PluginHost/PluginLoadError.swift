/// Why a file in the plugins directory was refused. The description is the one line shown to operators.
public struct PluginLoadError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Reason: String, Sendable, Codable {
        case unreadable, notELF = "not-elf", dlopenFailed = "dlopen-failed", missingEntry = "missing-entry"
        case abiMismatch = "abi-mismatch", malformedDescriptor = "malformed-descriptor"
        case duplicateName = "duplicate-name"
    }
    public let reason: Reason
    public let message: String
    public var description: String { message }

    static func unreadable(_ path: String, _ detail: String) -> Self {
        .init(reason: .unreadable, message: "cannot read \(path): \(detail)")
    }
    static func notELF(_ path: String) -> Self {
        .init(reason: .notELF, message: "\(path) is not an ELF shared library")
    }
    static func dlopenFailed(_ path: String, _ detail: String) -> Self {
        .init(reason: .dlopenFailed, message: "dlopen failed for \(path): \(detail)")
    }
    static func missingEntry(_ path: String) -> Self {
        .init(reason: .missingEntry,
              message: "\(path) does not export the entry symbol '\(ABIVersion.entrySymbol)'")
    }
    static func abiMismatch(_ path: String, major: UInt16, minor: UInt16) -> Self {
        .init(reason: .abiMismatch,
              message: "\(path) was built for plugin ABI \(major).\(minor); this host supports ABI \(ABIVersion.major).x")
    }
    static func malformed(_ path: String, _ detail: String) -> Self {
        .init(reason: .malformedDescriptor, message: "\(path) has a malformed descriptor: \(detail)")
    }
    static func duplicate(_ path: String, name: String, existing: String) -> Self {
        .init(reason: .duplicateName,
              message: "\(path) declares plugin name '\(name)', already loaded from \(existing)")
    }
}
