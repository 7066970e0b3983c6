import CStarbloomABI

public enum PluginKind: String, Sendable, Codable {
    case source, processor, sink

    init?(_ raw: sb_plugin_kind) {
        switch raw {
        case SB_KIND_SOURCE: self = .source
        case SB_KIND_PROCESSOR: self = .processor
        case SB_KIND_SINK: self = .sink
        default: return nil
        }
    }
}

public enum ValueType: String, Sendable, Codable {
    case string, int, float, bool
    case stringList = "string-list"

    init?(_ raw: sb_value_type) {
        switch raw {
        case SB_TYPE_STRING: self = .string
        case SB_TYPE_INT: self = .int
        case SB_TYPE_FLOAT: self = .float
        case SB_TYPE_BOOL: self = .bool
        case SB_TYPE_STRING_LIST: self = .stringList
        default: return nil
        }
    }

    var cValue: sb_value_type {
        switch self {
        case .string: SB_TYPE_STRING
        case .int: SB_TYPE_INT
        case .float: SB_TYPE_FLOAT
        case .bool: SB_TYPE_BOOL
        case .stringList: SB_TYPE_STRING_LIST
        }
    }

    /// How the type reads in an error message: "an integer", "a string list".
    var article: String {
        switch self {
        case .string: "a string"
        case .int: "an integer"
        case .float: "a number"
        case .bool: "a boolean"
        case .stringList: "a list of strings"
        }
    }
}
