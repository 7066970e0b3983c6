/// A setting as an operator wrote it (TOML, JSON or `key=value` on the command line), before it is
/// checked against the plugin's declared fields.
public enum SettingValue: Sendable, Equatable, Codable, CustomStringConvertible {
    case string(String)
    case int(Int64)
    case float(Double)
    case bool(Bool)
    case list([SettingValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Bool.self) { self = .bool(value); return }
        if let value = try? container.decode(Int64.self) { self = .int(value); return }
        if let value = try? container.decode(Double.self) { self = .float(value); return }
        if let value = try? container.decode(String.self) { self = .string(value); return }
        if let value = try? container.decode([SettingValue].self) { self = .list(value); return }
        throw DecodingError.dataCorruptedError(
            in: container, debugDescription: "a setting must be a string, number, boolean or list of strings")
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .float(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        case .list(let value): try container.encode(value)
        }
    }

    /// What kind of value this is, for error messages.
    public var typeName: String {
        switch self {
        case .string: "string"
        case .int: "integer"
        case .float: "number"
        case .bool: "boolean"
        case .list: "list"
        }
    }

    public var description: String {
        switch self {
        case .string(let value): value
        case .int(let value): String(value)
        case .float(let value): String(value)
        case .bool(let value): String(value)
        case .list(let values): values.map(\.description).joined(separator: ",")
        }
    }

    /// Parses text (a descriptor default, a `key=value` argument) as a value of `type`.
    static func parse(_ text: String, as type: ValueType) -> SettingValue? {
        switch type {
        case .string: return .string(text)
        case .int:
            return Int64(text.replacingOccurrences(of: "_", with: "")).map(SettingValue.int)
        case .float:
            guard let value = Double(text), value.isFinite else { return nil }
            return .float(value)
        case .bool:
            switch text.lowercased() {
            case "true", "1", "yes", "on": return .bool(true)
            case "false", "0", "no", "off": return .bool(false)
            default: return nil
            }
        case .stringList:
            if text.isEmpty { return .list([]) }
            return .list(text.split(separator: ",", omittingEmptySubsequences: false).map {
                .string($0.trimmingCharacters(in: .whitespaces))
            })
        }
    }
}

import Foundation
