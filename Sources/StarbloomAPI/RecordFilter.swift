import Foundation
import StarbloomCore

/// Filters for topic reads: `key=`, `header.NAME=` and `where=FIELD OP VALUE` on the JSON payload
/// (all must hold). FIELD is a dot path (`transfer.amount`); OP is one of == != > >= < <=; VALUE is
/// a number, `true`/`false`/`null`, or a string (quotes optional). Integers are compared exactly,
/// digit by digit (token amounts are uint256: never through Double); `0x…` strings compare without
/// regard to case (addresses); other numbers compare as Double.
struct RecordFilter {
    enum Operator: String, CaseIterable {
        case equal = "==", notEqual = "!=", greaterOrEqual = ">=", lessOrEqual = "<=", greater = ">", less = "<"
    }

    struct Condition {
        let path: [String]
        let op: Operator
        let value: String
    }

    var key: [UInt8]?
    var headers: [(name: String, value: [UInt8])] = []
    var conditions: [Condition] = []

    var isEmpty: Bool { key == nil && headers.isEmpty && conditions.isEmpty }

    /// Parses one `where` expression; nil with the reason when it is malformed.
    static func condition(_ text: String) -> Result<Condition, Problem> {
        // Two-character operators first, so ">=" is not read as ">".
        for op in Operator.allCases {
            guard let range = text.range(of: op.rawValue) else { continue }
            let field = text[..<range.lowerBound].trimmingCharacters(in: .whitespaces)
            var value = text[range.upperBound...].trimmingCharacters(in: .whitespaces)
            let path = field.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard !field.isEmpty, path.allSatisfy({ !$0.isEmpty }) else {
                return .failure(Problem.badRequest("where '\(text)': the field before \(op.rawValue) must be a dot path such as amount or transfer.to"))
            }
            if value.count >= 2, value.first == "\"" || value.first == "'", value.last == value.first { value = String(value.dropFirst().dropLast()) }
            return .success(Condition(path: path, op: op, value: value))
        }
        return .failure(Problem.badRequest("where '\(text)' needs an operator: one of == != > >= < <="))
    }

    func matches(_ record: QueueRecord) -> Bool {
        if let key, record.key != key { return false }
        for header in headers where !record.headers.contains(where: { $0.name == header.name && $0.value == header.value }) {
            return false
        }
        guard !conditions.isEmpty else { return true }
        guard let payload = try? JSONSerialization.jsonObject(with: Data(record.payload), options: [.fragmentsAllowed]) else { return false }
        return conditions.allSatisfy { Self.holds($0, in: payload) }
    }

    private static func holds(_ condition: Condition, in payload: Any) -> Bool {
        var current: Any? = payload
        for segment in condition.path { current = (current as? [String: Any])?[segment] }
        guard let found = current else { return condition.op == .notEqual } // a missing field differs from anything
        let order: ComparisonResult?
        switch found {
        case let number as NSNumber where String(cString: number.objCType) == "c": // JSON true/false (numbers are never chars)
            order = ["true", "false"].contains(condition.value) ? (number.boolValue == (condition.value == "true") ? .orderedSame : .orderedAscending) : nil
        case let number as NSNumber:
            order = compareNumbers(number.stringValue, condition.value)
        case let text as String:
            order = compareStrings(text, condition.value)
        case is NSNull:
            order = condition.value == "null" ? .orderedSame : nil
        default:
            order = nil
        }
        guard let order else { return condition.op == .notEqual }
        switch condition.op {
        case .equal: return order == .orderedSame
        case .notEqual: return order != .orderedSame
        case .greater: return order == .orderedDescending
        case .greaterOrEqual: return order != .orderedAscending
        case .less: return order == .orderedAscending
        case .lessOrEqual: return order != .orderedDescending
        }
    }

    /// Exact for integers of any length; Double otherwise; nil when the value is not a number.
    static func compareNumbers(_ a: String, _ b: String) -> ComparisonResult? {
        if let x = Self.integer(a), let y = Self.integer(b) { return compareIntegers(x, y) }
        guard let x = Double(a), let y = Double(b) else { return nil }
        return x == y ? .orderedSame : (x < y ? .orderedAscending : .orderedDescending)
    }

    private static func compareStrings(_ a: String, _ b: String) -> ComparisonResult {
        if let x = Self.integer(a), let y = Self.integer(b) { return compareIntegers(x, y) } // amounts sent as strings
        if a.hasPrefix("0x") || a.hasPrefix("0X") { return a.lowercased() == b.lowercased() ? .orderedSame : (a.lowercased() < b.lowercased() ? .orderedAscending : .orderedDescending) }
        return a == b ? .orderedSame : (a < b ? .orderedAscending : .orderedDescending)
    }

    /// (negative, digits without leading zeros) for a decimal integer.
    private static func integer(_ text: String) -> (negative: Bool, digits: Substring)? {
        var body = Substring(text)
        let negative = body.first == "-"
        if negative { body = body.dropFirst() }
        guard !body.isEmpty, body.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        let digits = body.drop { $0 == "0" }
        return (negative && !digits.isEmpty, digits)
    }

    private static func compareIntegers(_ x: (negative: Bool, digits: Substring), _ y: (negative: Bool, digits: Substring)) -> ComparisonResult {
        if x.negative != y.negative { return x.negative ? .orderedAscending : .orderedDescending }
        var magnitude: ComparisonResult
        if x.digits.count != y.digits.count {
            magnitude = x.digits.count < y.digits.count ? .orderedAscending : .orderedDescending
        } else {
            magnitude = x.digits == y.digits ? .orderedSame : (x.digits < y.digits ? .orderedAscending : .orderedDescending)
        }
        if x.negative && magnitude != .orderedSame { magnitude = magnitude == .orderedAscending ? .orderedDescending : .orderedAscending }
        return magnitude
    }
}
