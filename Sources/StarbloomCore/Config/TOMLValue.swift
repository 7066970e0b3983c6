// TOML document model used by the configuration loader (`starbloom.toml`).
//
// `TOMLParser` produces these values; nothing here parses text.

/// One TOML value.
///
/// Date-time values (offset date-time, local date-time, local date, local time) are kept as the
/// raw text written in the document (`1979-05-27T07:32:00Z`, `1979-05-27 07:32:00`, `07:32:00`);
/// the parser only checks their shape and field ranges.
///
/// Equality is structural. As with `Double`, `.float(.nan)` is not equal to itself.
public enum TOMLValue: Sendable, Equatable {
    case string(String)
    case integer(Int64)
    case float(Double)
    case bool(Bool)
    /// Raw text of an offset date-time, local date-time, local date or local time.
    case datetime(String)
    case array([TOMLValue])
    case table(TOMLTable)
}

extension TOMLValue {
    /// The string, if this is `.string`.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The integer, if this is `.integer`.
    public var intValue: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    /// The number as a `Double`: a `.float` as is, or an `.integer` converted (so `rate = 5`
    /// is accepted where a float is expected). `nil` for every other type.
    public var doubleValue: Double? {
        switch self {
        case .float(let value): return value
        case .integer(let value): return Double(value)
        default: return nil
        }
    }

    /// The boolean, if this is `.bool`.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The raw date-time text, if this is `.datetime`.
    public var datetimeValue: String? {
        if case .datetime(let value) = self { return value }
        return nil
    }

    /// The elements, if this is `.array` (arrays of tables included).
    public var arrayValue: [TOMLValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// The table, if this is `.table`.
    public var tableValue: TOMLTable? {
        if case .table(let value) = self { return value }
        return nil
    }

    /// The TOML type name: "string", "integer", "float", "boolean", "datetime", "array" or "table".
    public var typeName: String {
        switch self {
        case .string: return "string"
        case .integer: return "integer"
        case .float: return "float"
        case .bool: return "boolean"
        case .datetime: return "datetime"
        case .array: return "array"
        case .table: return "table"
        }
    }

    /// `value["key"]`: the entry of a table value; `nil` if this is not a table or has no such key.
    public subscript(key: String) -> TOMLValue? {
        tableValue?[key]
    }
}

/// A TOML table: string keys mapped to values, remembering the order in which keys were defined.
///
/// Equality compares keys and values only; key order is not part of a table's meaning in TOML.
public struct TOMLTable: Sendable, Equatable {
    /// Keys in definition order.
    public private(set) var keys: [String]
    private var storage: [String: TOMLValue]

    /// An empty table.
    public init() {
        keys = []
        storage = [:]
    }

    /// Builds a table from already consistent parts (every key once in `keys`, and in `storage`).
    init(orderedKeys: [String], storage: [String: TOMLValue]) {
        self.keys = orderedKeys
        self.storage = storage
    }

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }

    /// Reads, replaces, adds (at the end of the key order) or, when set to `nil`, removes an entry.
    public subscript(key: String) -> TOMLValue? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil {
                    keys.append(key)
                }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    /// Looks up a nested entry: `table[path: ["server", "port"]]`. An empty path yields `nil`.
    public subscript(path path: [String]) -> TOMLValue? {
        guard let first = path.first, var value = storage[first] else { return nil }
        for key in path.dropFirst() {
            guard let next = value.tableValue?[key] else { return nil }
            value = next
        }
        return value
    }

    public func contains(key: String) -> Bool {
        storage[key] != nil
    }

    /// Entries in definition order.
    public var entries: [(key: String, value: TOMLValue)] {
        keys.compactMap { key in storage[key].map { (key: key, value: $0) } }
    }

    public static func == (lhs: TOMLTable, rhs: TOMLTable) -> Bool {
        lhs.storage == rhs.storage
    }
}

extension TOMLTable: ExpressibleByDictionaryLiteral {
    /// `["a": .integer(1), "b": .bool(true)]`, keeping the literal's order. A repeated key keeps
    /// its first position and its last value.
    public init(dictionaryLiteral elements: (String, TOMLValue)...) {
        self.init()
        for (key, value) in elements {
            self[key] = value
        }
    }
}
