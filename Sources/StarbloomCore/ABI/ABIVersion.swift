import CStarbloomABI

/// The ABI this host implements. The numbers come from the header so there is one source of truth.
public enum ABIVersion {
    public static let major = UInt16(SB_ABI_MAJOR)
    public static let minor = UInt16(SB_ABI_MINOR)
    public static let entrySymbol = SB_PLUGIN_ENTRY_SYMBOL
    /// The smallest descriptor a v1.0 plugin can have: everything up to and including `command_count`.
    /// (SB_DESCRIPTOR_SIZE_1_0 in the header; frozen, so 1.0 plugins keep loading in every 1.x host.)
    public static let minimumDescriptorSize = MemoryLayout<sb_plugin_descriptor>.offset(of: \.command_count)! + MemoryLayout<Int>.size
    public static var description: String { "\(major).\(minor)" }
}

extension sb_status {
    /// Name used in messages and logs.
    var name: String {
        switch self {
        case SB_OK: "OK"
        case SB_ERR_INVALID_ARGUMENT: "INVALID_ARGUMENT"
        case SB_ERR_NOT_FOUND: "NOT_FOUND"
        case SB_ERR_CONFLICT: "CONFLICT"
        case SB_ERR_FULL: "FULL"
        case SB_ERR_TOO_LARGE: "TOO_LARGE"
        case SB_ERR_STOPPING: "STOPPING"
        case SB_ERR_TIMEOUT: "TIMEOUT"
        case SB_ERR_UNAVAILABLE: "UNAVAILABLE"
        case SB_ERR_INTERNAL: "INTERNAL"
        case SB_ERR_UNSUPPORTED: "UNSUPPORTED"
        case SB_ERR_PLUGIN: "PLUGIN"
        default: "status \(rawValue)"
        }
    }
}
