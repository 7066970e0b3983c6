import Testing
@testable import StarbloomCore
import StarbloomJSON

@Suite("Expressions")
struct ExpressionTests {
    static let max = "115792089237316195423570985008687907853269984665640564039457584007913129639935"
    static let maxLess1 = "115792089237316195423570985008687907853269984665640564039457584007913129639934"

    /// The record most semantics cases read.
    static let record = """
        {"max":"\(max)","maxLess1":"\(maxLess1)","maxNumber":\(max),"maxLess1Number":\(maxLess1),
         "tooBig":\(max)0,
         "token":"0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48","escapedHex":"0x\\u0041b",
         "amount":1500,"amountText":"1500","price":2.5,"name":"Alice","accented":"h\\u00e9llo","flag":true,"nothing":null,
         "transfer":{"to":"0xabc","amount":"42","logs":[{"topic":"t0"},{"topic":"t1"}]},"tags":["a","b","c"]}
        """
    static let headers = [QueueRecord.Header(name: "source", value: Array("chain-a".utf8))]

    static func evaluate(_ text: String, on json: String = record) throws -> ExpressionValue {
        let expression = try Expression.parse(text)
        let bytes = Array(json.utf8)
        var fields: [JSONField] = []
        try JSONScanner.indexObject(bytes, into: &fields)
        return try bytes.withUnsafeBytes { try expression.evaluate(JSONRecordInput(payload: $0, fields: fields, headers: headers)) }
    }

    static func evaluationError(_ text: String, on json: String = record) throws -> ExpressionEvaluationError? {
        do {
            _ = try evaluate(text, on: json)
            return nil
        } catch let error as ExpressionEvaluationError {
            return error
        }
    }

    static func int(_ value: Int64) -> ExpressionValue {
        .integer(negative: value < 0, magnitude: UInt256(value.magnitude))
    }

    // MARK: - Parsing

    struct BadInput: Sendable, CustomTestStringConvertible {
        let text: String
        let position: Int
        let message: String
        var testDescription: String { text.count > 40 ? String(text.prefix(40)) + "…" : text }
    }

    @Test("parse errors name the position, what was expected and what was found", arguments: [
        BadInput(text: "", position: 1, message: "expected an expression, found end of expression"),
        BadInput(text: "a ==", position: 5, message: "expected a value after '==', found end of expression"),
        BadInput(text: "(a == 1", position: 8, message: "expected ')' to close '(' at 1, found end of expression"),
        BadInput(text: "x and (a == 1 or b", position: 19, message: "expected ')' to close '(' at 7, found end of expression"),
        BadInput(text: "a == 1)", position: 7, message: "expected end of expression, found ')'"),
        BadInput(text: "a == 1 b", position: 8, message: "expected end of expression, found 'b'"),
        BadInput(text: "foo(a)", position: 1, message: "unknown function 'foo'; known functions: coalesce, concat, exists, header, length, lower, upper"),
        BadInput(text: "a == 'abc", position: 6, message: "unterminated string: missing the closing '"),
        BadInput(text: #"a == "x\qy""#, position: 8, message: #"unknown escape '\q' in string (use \\, \', \", \n, \t or \r)"#),
        BadInput(text: "a in 1", position: 6, message: "expected '[' after 'in', found '1'"),
        BadInput(text: "a not in (1)", position: 10, message: "expected '[' after 'not in', found '('"),
        BadInput(text: "a in [b]", position: 7, message: "expected a literal (number, string, true, false or null) in the list, found 'b'"),
        BadInput(text: "a in []", position: 7, message: "expected a literal (number, string, true, false or null) in the list, found ']'"),
        BadInput(text: "a in [1, 2", position: 11, message: "expected ',' or ']' to close '[' at 6, found end of expression"),
        BadInput(text: "a not b", position: 7, message: "expected 'in' after 'not', found 'b'"),
        BadInput(text: "a.", position: 3, message: "expected a field name after '.', found end of expression"),
        BadInput(text: "a[x]", position: 3, message: "expected an array index (a non-negative integer) after '[', found 'x'"),
        BadInput(text: "a[1", position: 4, message: "expected ']' after the array index, found end of expression"),
        BadInput(text: "a @ b", position: 3, message: "unexpected character '@'"),
        BadInput(text: "a = 1", position: 3, message: "unexpected '='; compare with '=='"),
        BadInput(text: "a & b", position: 3, message: "unexpected '&'; write 'and' or '&&'"),
        BadInput(text: "1 == 2 == 3", position: 8, message: "comparisons do not chain: combine them with 'and', found '=='"),
        BadInput(text: "a and or b", position: 7, message: "expected a value after 'and', found 'or'"),
        BadInput(text: "exists(a + 1)", position: 1, message: "exists() takes one field path, e.g. exists(transfer.amount)"),
        BadInput(text: "header(name)", position: 1, message: "header() takes the header name as a string, e.g. header('source')"),
        BadInput(text: "lower(a, b)", position: 1, message: "lower() takes 1 argument, found 2"),
        BadInput(text: "concat()", position: 1, message: "concat() takes at least 1 argument, found 0"),
        BadInput(text: "lower(a b)", position: 9, message: "expected ',' or ')' to close 'lower(' at 6, found 'b'"),
        BadInput(text: "`abc == 1", position: 1, message: "unterminated field name: missing the closing '`'"),
        BadInput(text: "token == 0xAbc", position: 10, message: "malformed number '0xAbc' (hex values are written as strings: '0xAbc')"),
        BadInput(text: "a > 12abc", position: 5, message: "malformed number '12abc'"),
        BadInput(text: "a > \(max)0", position: 5, message: "integer \(max)0 is larger than 2^256-1"),
        // Columns count characters: "e" + combining acute is one character.
        BadInput(text: "'he\u{301}llo' == 1 ==", position: 14, message: "comparisons do not chain: combine them with 'and', found '=='"),
        BadInput(text: String(repeating: "(", count: 65) + "1" + String(repeating: ")", count: 65), position: 65, message: "nesting deeper than 64 levels"),
        BadInput(text: String(repeating: "-", count: 65) + "1", position: 65, message: "nesting deeper than 64 levels"),
        BadInput(text: String(repeating: "not ", count: 65) + "true", position: 257, message: "nesting deeper than 64 levels"),
        BadInput(text: String(repeating: "a", count: 4097), position: 4097, message: "the expression is longer than 4096 characters"),
    ])
    func parseErrors(_ bad: BadInput) {
        #expect(throws: ExpressionError(position: bad.position, message: bad.message)) { try Expression.parse(bad.text) }
    }

    @Test("the limits themselves parse: 64 levels of nesting, 4096 characters, a long flat chain")
    func limits() throws {
        _ = try Expression.parse(String(repeating: "(", count: 64) + "1" + String(repeating: ")", count: 64))
        _ = try Expression.parse(String(repeating: "a", count: 4096))
        let chain = Array(repeating: "1", count: 2000).joined(separator: "+")
        #expect(try Self.evaluate(chain) == Self.int(2000), "chains are flat: no deep recursion")
        let error = ExpressionError(position: 12, message: "expected ')' to close '(' at 5, found end of expression")
        #expect(error.description == "at 12: expected ')' to close '(' at 5, found end of expression")
    }

    @Test("fieldPaths lists every referenced path once, in order of appearance")
    func fieldPaths() throws {
        let expression = try Expression.parse("a.b > 1 and exists(c) or a.b == 2 and d[0].`odd key` in [1] and header('h') == lower(c)")
        #expect(expression.fieldPaths == [[.key("a"), .key("b")], [.key("c")], [.key("d"), .index(0), .key("odd key")]])
        #expect(expression.fieldPaths.map(PathComponent.render) == ["a.b", "c", "d[0].`odd key`"])
        #expect(try Expression.parse("transfer.to").path == [.key("transfer"), .key("to")])
        #expect(try Expression.parse("transfer.to == 1").path == nil)
        #expect(try Expression.parse(" x  ").text == " x  ")
    }

    // MARK: - Semantics

    struct Case: Sendable, CustomTestStringConvertible {
        let expression: String
        let expected: ExpressionValue
        init(_ expression: String, _ expected: ExpressionValue) {
            self.expression = expression
            self.expected = expected
        }
        var testDescription: String { expression }
    }

    @Test("evaluation follows the documented semantics", arguments: [
        // Exact uint256 comparisons, as strings and as numbers.
        Case("max > maxLess1", .bool(true)),
        Case("maxLess1 < max", .bool(true)),
        Case("max == maxLess1", .bool(false)),
        Case("max == maxNumber", .bool(true)),
        Case("maxLess1Number < max", .bool(true)),
        Case("maxNumber > maxLess1Number", .bool(true)),
        Case("maxNumber >= maxNumber and maxNumber <= maxNumber", .bool(true)),
        Case("maxNumber == \(maxLess1)", .bool(false)),
        Case("maxLess1 == \(maxLess1)", .bool(true)),
        Case("max - 1 == maxLess1", .bool(true)),
        Case("maxLess1 + 1 == maxNumber", .bool(true)),
        Case("maxNumber - maxLess1Number", int(1)),
        Case("0 - max", .integer(negative: true, magnitude: .max)),
        Case("tooBig > maxNumber", .bool(true)),
        Case("'100' < '99'", .bool(true)),
        Case("amountText > 999", .bool(true)),
        Case("amountText == 1500", .bool(true)),
        Case("'0x10' == 16", .bool(true)),
        // 0x strings ignore case; others do not.
        Case("token == '0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48'", .bool(true)),
        Case("token == '0XA0B86991C6218B36C1D19D4A2E9EB0CE3606EB48'", .bool(true)),
        Case("token < '0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB49'", .bool(true)),
        Case("token != '0xa0b8'", .bool(true)),
        Case("escapedHex == '0xAB'", .bool(true)),
        Case("name == 'alice'", .bool(false)),
        Case("name == 'Alice'", .bool(true)),
        // Missing fields and type mismatches.
        Case("nope == 1", .bool(false)),
        Case("nope != 1", .bool(true)),
        Case("nope < 1", .bool(false)),
        Case("nope >= 1", .bool(false)),
        Case("nope == other", .bool(false)),
        Case("nope == null", .bool(false)),
        Case("nothing == null", .bool(true)),
        Case("name == 1", .bool(false)),
        Case("name != 1", .bool(true)),
        Case("flag == 1", .bool(false)),
        Case("flag == true", .bool(true)),
        Case("flag < true", .bool(false)),
        Case("flag != false", .bool(true)),
        Case("tags == tags", .bool(true)),
        Case("nope", .missing),
        Case("tags[7]", .missing),
        // in / not in.
        Case("name in ['Bob', 'Alice']", .bool(true)),
        Case("name not in ['Bob', 'Alice']", .bool(false)),
        Case("amount in [1, 1500]", .bool(true)),
        Case("amountText in [1500]", .bool(true)),
        Case("amount in [-1, 2.5, 'x', null]", .bool(false)),
        Case("nope in [1]", .bool(false)),
        Case("nope not in [1]", .bool(true)),
        Case("nothing in [null]", .bool(true)),
        // Arithmetic.
        Case("1 + 2 * 3", int(7)),
        Case("(1 + 2) * 3", int(9)),
        Case("10 - 2 - 3", int(5)),
        Case("2 * -3", int(-6)),
        Case("- -4", int(4)),
        Case("amount / 1000", int(1)),
        Case("-7 / 2", int(-3)),
        Case("7 / -2", int(-3)),
        Case("7 % -3", int(1)),
        Case("-7 % 3", int(-1)),
        Case("-6 % 3", int(0)),
        Case("amountText + 1", int(1501)),
        Case("amount + 0.5", .decimal(1500.5)),
        Case("price * 2 == 5", .bool(true)),
        Case("price > 2", .bool(true)),
        Case("amount == 1500.0", .bool(true)),
        Case("name + '!'", .string("Alice!")),
        Case("'12' + '34'", .string("1234")),
        Case("nope + 1", .missing),
        Case("nothing * 2", .null),
        // Short circuits.
        Case("false and (1/0 == 1)", .bool(false)),
        Case("true or (1/0 == 1)", .bool(true)),
        Case("amount > 1000 && !(name == 'Bob') || nope", .bool(true)),
        Case("not flag", .bool(false)),
        // Functions and paths.
        Case("exists(nothing)", .bool(true)),
        Case("exists(nope)", .bool(false)),
        Case("exists(transfer.logs[1].topic)", .bool(true)),
        Case("transfer.logs[1].topic == 't1'", .bool(true)),
        Case("transfer.amount > 41", .bool(true)),
        Case("transfer", .json(Array(#"{"to":"0xabc","amount":"42","logs":[{"topic":"t0"},{"topic":"t1"}]}"#.utf8))),
        Case("lower(token)", .string("0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48")),
        Case("upper(accented)", .string("H\u{e9}LLO")),
        Case("length(accented)", int(5)),
        Case("length(tags)", int(3)),
        Case("length(transfer)", int(3)),
        Case("length(nope)", .missing),
        Case("concat(name, '-', amount, '-', price, '-', flag)", .string("Alice-1500-2.5-true")),
        Case("concat(name, nothing)", .null),
        Case("concat(name, nope, nothing)", .missing),
        Case("coalesce(nope, nothing, name, amount)", .string("Alice")),
        Case("coalesce(nope, nothing)", .null),
        Case("header('source')", .string("chain-a")),
        Case("header('absent')", .missing),
        Case("`name` == name", .bool(true)),
    ])
    func semantics(_ testCase: Case) throws {
        #expect(try Self.evaluate(testCase.expression) == testCase.expected)
    }

    @Test("evaluation errors name the expression and the problem", arguments: [
        ("name + 1", #"'name + 1': name is the string "Alice", not a number (needed by '+')"#),
        ("amount * flag", "'amount * flag': flag is the boolean true, not a number (needed by '*')"),
        ("tags - 1", "'tags - 1': tags is an array, not a number (needed by '-')"),
        ("max + 1", "'max + 1': max + 1 overflows: the result exceeds 2^256-1 in magnitude"),
        ("maxNumber * 2", "'maxNumber * 2': maxNumber * 2 overflows: the result exceeds 2^256-1 in magnitude"),
        ("-maxNumber - 1", "'-maxNumber - 1': -maxNumber - 1 overflows: the result exceeds 2^256-1 in magnitude"),
        ("1 / 0", "'1 / 0': division by zero"),
        ("amount % (amount - 1500)", "'amount % (amount - 1500)': modulo by zero ((amount - 1500) is 0)"),
        ("price / 0", "'price / 0': division by zero"),
        ("true and (1/0 == 1)", "'true and (1/0 == 1)': division by zero"),
        ("not name", "'not name': name is the string \"Alice\", not a boolean (needed by 'not')"),
        ("nope and true", "'nope and true': nope is missing, not a boolean (needed by 'and')"),
        ("-name", "'-name': name is the string \"Alice\", not a number (needed by '-')"),
        ("lower(amount)", "'lower(amount)': lower() needs a string; amount is the integer 1500"),
        ("length(flag)", "'length(flag)': length() needs a string, an array or an object; flag is the boolean true"),
    ])
    func evaluationErrors(_ text: String, _ description: String) throws {
        let error = try #require(try Self.evaluationError(text))
        #expect(error.description == description)
    }

    @Test("matches is true only for the boolean true; other results are errors that name the expression")
    func matches() throws {
        let bytes = Array(Self.record.utf8)
        var fields: [JSONField] = []
        try JSONScanner.indexObject(bytes, into: &fields)
        try bytes.withUnsafeBytes { payload throws in
            let input = JSONRecordInput(payload: payload, fields: fields)
            #expect(try Expression.parse("amount > 1000 and token == '0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48'").matches(input))
            #expect(try !Expression.parse("amount > 2000").matches(input))
            #expect(throws: ExpressionEvaluationError(expression: "amount", message: "the result is the integer 1500, not a boolean (a filter must be true or false)")) {
                try Expression.parse("amount").matches(input)
            }
            #expect(throws: ExpressionEvaluationError(expression: "nope", message: "the result is missing, not a boolean (a filter must be true or false)")) {
                try Expression.parse("nope").matches(input)
            }
        }
    }

    @Test("inputs without a payload are read through value(at:)")
    func plainInput() throws {
        struct Fields: ExpressionInput {
            var values: [[PathComponent]: ExpressionValue]
            func value(at path: [PathComponent]) -> ExpressionValue { values[path] ?? .missing }
            func header(_ name: String) -> [UInt8]? { name == "h" ? Array("v".utf8) : nil }
        }
        let input = Fields(values: [[.key("amount")]: .string("1500"), [.key("to")]: .string("0xABC"), [.key("tags")]: .json(Array("[1,2]".utf8))])
        #expect(try Expression.parse("amount > 1000 and to == '0xabc' and length(tags) == 2 and header('h') == 'v'").matches(input))
        #expect(try Expression.parse("exists(to) and not exists(from)").matches(input))
    }

    @Test("values convert from JSON exactly and write back as JSON, large integers as strings")
    func valuesAndJSON() throws {
        try JSONScannerTests.withIndex(#"{"a":-0,"b":9007199254740991,"c":9007199254740992,"d":-\#(Self.max),"e":1.5e2,"f":"x\ny","g":[1, 2],"h":\#(Self.max)9}"#) { bytes, fields in
            let values = fields.map { ExpressionValue.fromJSON(bytes, $0) }
            #expect(values[0] == Self.int(0))
            #expect(values[1] == Self.int(9_007_199_254_740_991))
            #expect(values[3] == .integer(negative: true, magnitude: .max))
            #expect(values[4] == .decimal(150))
            #expect(values[5] == .string("x\ny"))
            #expect(values[6] == .json(Array("[1, 2]".utf8)))
            guard case .decimal(let beyond) = values[7] else {
                Issue.record("an integer past 2^256-1 is a decimal, got \(values[7])")
                return
            }
            #expect(beyond > 1.15e78 && beyond < 1.16e78)
            var writer = JSONWriter()
            writer.beginArray()
            for value in values.prefix(7) { value.write(to: &writer) }
            ExpressionValue.missing.write(to: &writer)
            writer.endArray()
            #expect(String(decoding: writer.bytes, as: UTF8.self) == #"[0,9007199254740991,"9007199254740992","-\#(Self.max)",150,"x\ny",[1, 2],null]"#)
        }
    }

    @Test("0x strings order as their lower-case forms, whatever the case of each letter (seeded)")
    func hexOrdering() throws {
        var random = SplitMix64(state: 77)
        let digits = Array("0123456789abcdefABCDEF")
        for _ in 0..<300 {
            func hex() -> String {
                let count = Int.random(in: 0...70, using: &random)
                return (Bool.random(using: &random) ? "0x" : "0X") + String((0..<count).map { _ in digits.randomElement(using: &random)! })
            }
            let a = hex()
            // Half the time the same text with letters re-cased, so long equal runs are exercised.
            let b = Bool.random(using: &random) ? String(a.map { Bool.random(using: &random) ? Character($0.uppercased()) : Character($0.lowercased()) }) : hex()
            let lowerA = Array(a.lowercased().utf8), lowerB = Array(b.lowercased().utf8)
            let json = #"{"a":"\#(a)","b":"\#(b)"}"#
            #expect(try Self.evaluate("a < b", on: json) == .bool(lowerA.lexicographicallyPrecedes(lowerB)), "\(a) < \(b)")
            #expect(try Self.evaluate("a == b", on: json) == .bool(lowerA == lowerB), "\(a) == \(b)")
            #expect(try Self.evaluate("a > b", on: json) == .bool(lowerB.lexicographicallyPrecedes(lowerA)), "\(a) > \(b)")
        }
    }

    @Test("random integer arithmetic matches Int arithmetic (seeded)")
    func arithmeticProperty() throws {
        var random = SplitMix64(state: 20_250_101)
        let json = #"{"x":7,"s":"12"}"#
        var checked = 0
        for _ in 0..<400 {
            let term = Term.random(depth: 4, using: &random)
            let outcome: Result<ExpressionValue, ExpressionEvaluationError>
            do {
                outcome = .success(try Self.evaluate("0 + \(term.text)", on: json))
            } catch let error as ExpressionEvaluationError {
                outcome = .failure(error)
            }
            switch (term.value, outcome) {
            case (.value(let expected), .success(let result)):
                #expect(result == Self.int(Int64(expected)), "\(term.text)")
                checked += 1
            case (.divisionByZero, .failure(let error)):
                #expect(error.message.hasPrefix("division by zero") || error.message.hasPrefix("modulo by zero"), "\(term.text): \(error)")
            case (.intOverflow, _):
                continue // beyond Int: nothing to compare with
            default:
                Issue.record("\(term.text): expected \(term.value), got \(outcome)")
            }
        }
        #expect(checked > 250)
    }

    /// A random arithmetic expression over small integers and the fields x (7) and s ("12", a digit
    /// string, so numeric in arithmetic), with its value computed with Int.
    indirect enum Term {
        case literal(Int)
        case field(String, Int)
        case negate(Term)
        case binary(Character, Term, Term)

        static func random(depth: Int, using generator: inout SplitMix64) -> Term {
            if depth == 0 || Int.random(in: 0..<4, using: &generator) == 0 {
                switch Int.random(in: 0..<6, using: &generator) {
                case 0: return .field("x", 7)
                case 1: return .field("s", 12)
                default: return .literal(Int.random(in: -20...20, using: &generator))
                }
            }
            if Int.random(in: 0..<8, using: &generator) == 0 { return .negate(random(depth: depth - 1, using: &generator)) }
            let op = Array("+-*/%").randomElement(using: &generator)!
            let left = random(depth: depth - 1, using: &generator)
            return .binary(op, left, random(depth: depth - 1, using: &generator))
        }

        var text: String {
            switch self {
            case .literal(let value): return "\(value)"
            case .field(let name, _): return name
            case .negate(let inner): return "-(\(inner.text))"
            case .binary(let op, let left, let right): return "(\(left.text) \(op) \(right.text))"
            }
        }

        enum Outcome { case value(Int), divisionByZero, intOverflow }

        /// The value with Int arithmetic, evaluated left before right as the evaluator does.
        var value: Outcome {
            switch self {
            case .literal(let value), .field(_, let value): return .value(value)
            case .negate(let inner):
                guard case .value(let value) = inner.value else { return inner.value }
                return .value(-value)
            case .binary("+", .field("s", _), .field("s", _)):
                return .value(1212) // two strings: + concatenates ("12" + "12"), then 0 + "1212" is numeric
            case .binary(let op, let left, let right):
                guard case .value(let a) = left.value else { return left.value }
                guard case .value(let b) = right.value else { return right.value }
                let result: (partialValue: Int, overflow: Bool)
                switch op {
                case "+": result = a.addingReportingOverflow(b)
                case "-": result = a.subtractingReportingOverflow(b)
                case "*": result = a.multipliedReportingOverflow(by: b)
                case "/": if b == 0 { return .divisionByZero }; result = a.dividedReportingOverflow(by: b)
                default: if b == 0 { return .divisionByZero }; result = a.remainderReportingOverflow(dividingBy: b)
                }
                return result.overflow ? .intOverflow : .value(result.partialValue)
            }
        }
    }
}
