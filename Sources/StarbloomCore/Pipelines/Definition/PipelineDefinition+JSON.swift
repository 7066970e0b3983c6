import Foundation
import StarbloomJSON

/// Pipelines arrive as TOML (`starbloom.toml`) or JSON (the API); both become a `TOMLTable`, parsed
/// by one function, so the two accept exactly the same definitions and give the same errors.
extension PipelineDefinition {
    /// Parses a JSON object (a request body) into a table.
    public static func table(fromJSON data: [UInt8]) throws(PipelineConfigError) -> TOMLTable {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(data), options: [])
        } catch {
            throw PipelineConfigError("the body is not valid JSON: \(error.localizedDescription)")
        }
        guard case .table(let table) = try tomlValue(object, path: "") else {
            throw PipelineConfigError("the body must be a JSON object describing the pipeline")
        }
        return table
    }

    private static func tomlValue(_ value: Any, path: String) throws(PipelineConfigError) -> TOMLValue {
        switch value {
        case let text as String:
            return .string(text)
        case let number as NSNumber:
            if String(cString: number.objCType) == "c" { return .bool(number.boolValue) }
            let double = number.doubleValue
            if double == double.rounded(), abs(double) < 9e15, !"\(number)".contains(".") { return .integer(number.int64Value) }
            return .float(double)
        case let array as [Any]:
            var items: [TOMLValue] = []
            for (index, item) in array.enumerated() { items.append(try tomlValue(item, path: "\(path)[\(index)]")) }
            return .array(items)
        case let dictionary as [String: Any]:
            var table = TOMLTable()
            for key in dictionary.keys.sorted() { table[key] = try tomlValue(dictionary[key]!, path: path.isEmpty ? key : "\(path).\(key)") }
            return .table(table)
        default:
            throw PipelineConfigError("\(path.isEmpty ? "the body" : path): null is not allowed in a pipeline definition; leave the key out")
        }
    }

    /// The definition as JSON (for the API and for storage), keys in the order given.
    public var sourceJSON: [UInt8] {
        var writer = JSONWriter()
        Self.write(.table(source), to: &writer, sortKeys: false)
        return writer.bytes
    }

    /// The same with every object's keys sorted: equal for equal definitions whether they came
    /// from TOML or JSON (which does not keep key order).
    public var canonicalJSON: [UInt8] {
        var writer = JSONWriter()
        Self.write(.table(source), to: &writer, sortKeys: true)
        return writer.bytes
    }

    static func canonicalJSON(_ value: TOMLValue) -> [UInt8] {
        var writer = JSONWriter()
        write(value, to: &writer, sortKeys: true)
        return writer.bytes
    }

    private static func write(_ value: TOMLValue, to writer: inout JSONWriter, sortKeys: Bool) {
        switch value {
        case .string(let text), .datetime(let text): writer.string(text)
        case .integer(let number): writer.integer(number)
        case .float(let number): writer.number(number)
        case .bool(let flag): writer.bool(flag)
        case .array(let items):
            writer.beginArray()
            for item in items { write(item, to: &writer, sortKeys: sortKeys) }
            writer.endArray()
        case .table(let table):
            writer.beginObject()
            for (key, item) in sortKeys ? table.entries.sorted(by: { $0.key < $1.key }) : table.entries {
                writer.key(key)
                write(item, to: &writer, sortKeys: sortKeys)
            }
            writer.endObject()
        }
    }
}
