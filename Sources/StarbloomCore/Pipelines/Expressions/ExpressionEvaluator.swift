import StarbloomJSON

/// Evaluates an expression's program on one input. Generic over the input so that evaluating on a
/// `JSONRecordInput` is specialised: field reads are direct calls, and nothing is boxed.
struct ExpressionEvaluator<Input: ExpressionInput> {
    let program: ExpressionProgram
    let input: Input
    /// The input's payload (empty when it has none); payload operands point into it.
    let payload: UnsafeRawBufferPointer
    let readsPayload: Bool

    init(program: ExpressionProgram, input: Input) {
        self.program = program
        self.input = input
        if let payload = input.jsonPayload {
            self.payload = payload
            readsPayload = true
        } else {
            payload = UnsafeRawBufferPointer(start: nil, count: 0)
            readsPayload = false
        }
    }

    /// The value of step `index` of the program.
    func evaluate(_ index: Int) throws(ExpressionEvaluationError) -> Operand {
        switch program.steps[index] {
        case .constant(let constant):
            return program.constants[constant]
        case .path(let path):
            return field(program.paths[path])
        case .exists(let path):
            return .bool(readsPayload ? input.jsonField(at: program.paths[path]) != nil : !input.value(at: program.paths[path]).isMissing)
        case .header(let name):
            guard case .string(let name) = program.constants[name], let value = input.header(name) else { return .missing }
            return .string(String(decoding: value, as: UTF8.self))
        case .negate(let operand):
            return try negate(try evaluate(operand), operand)
        case .not(let operand):
            return .bool(!(try condition(operand, "not")))
        case .all(let operands):
            for k in operands where !(try condition(program.children[k], "and")) { return .bool(false) }
            return .bool(true)
        case .any(let operands):
            for k in operands where try condition(program.children[k], "or") { return .bool(true) }
            return .bool(false)
        case .compare(let op, let left, let right):
            let value = try evaluate(left)
            // A constant on the right (the usual `field OP literal`) is compared where it lies.
            let order: OperandOrder
            if case .constant(let constant) = program.steps[right] {
                order = compare(value, program.constants[constant])
            } else {
                order = compare(value, try evaluate(right))
            }
            switch op {
            case .equal: return .bool(order == .equal)
            case .notEqual: return .bool(order != .equal)
            case .less: return .bool(order == .less)
            case .lessOrEqual: return .bool(order == .less || order == .equal)
            case .greater: return .bool(order == .greater)
            case .greaterOrEqual: return .bool(order == .greater || order == .equal)
            }
        case .member(let operand, let values, let negated):
            let value = try evaluate(operand)
            for k in values where compare(value, program.constants[k]) == .equal { return .bool(!negated) }
            return .bool(negated)
        case .arithmetic(let first, let links):
            var result = try evaluate(first)
            for k in links {
                let link = program.links[k]
                let right = try evaluate(link.operand)
                result = try arithmetic(link.op, result, right, leftStart: program.spans[first].lowerBound, right: link.operand)
            }
            return result
        case .call(let function, let arguments):
            return try call(function, arguments)
        }
    }

    // MARK: - Fields

    @inline(__always)
    private func field(_ path: [PathComponent]) -> Operand {
        guard readsPayload else { return Operand(input.value(at: path)) }
        guard let field = input.jsonField(at: path) else { return .missing }
        return operand(field)
    }

    private func operand(_ field: JSONField) -> Operand {
        guard field.valueStart >= 0, field.valueStart < field.valueEnd, Int(field.valueEnd) <= payload.count else { return .missing }
        switch field.kind {
        case .string:
            guard field.valueEnd - field.valueStart >= 2 else { return .missing }
            return .payloadString(start: Int(field.valueStart) + 1, end: Int(field.valueEnd) - 1, escaped: field.valueHasEscapes)
        case .number:
            let start = Int(field.valueStart), end = Int(field.valueEnd)
            if let (negative, magnitude) = ExpressionValue.integer(payload, start, end) { return .integer(negative: negative, magnitude: magnitude) }
            return .decimal(ExpressionValue.decimal(payload, start, end))
        case .trueValue: return .bool(true)
        case .falseValue: return .bool(false)
        case .null: return .null
        case .object, .array: return .payloadJSON(field)
        }
    }

    /// The operand as a public value: payload strings decoded, payload JSON copied.
    func value(of operand: Operand) -> ExpressionValue {
        switch operand {
        case .missing: return .missing
        case .null: return .null
        case .bool(let value): return .bool(value)
        case .integer(let negative, let magnitude): return .integer(negative: negative, magnitude: magnitude)
        case .decimal(let value): return .decimal(value)
        case .string(let text): return .string(text)
        case .json(let bytes): return .json(bytes)
        case .payloadString: return .string(withText(operand) { String(decoding: $0, as: UTF8.self) })
        case .payloadJSON(let field): return .json(Array(payload[field.valueRange]))
        }
    }

    /// Calls `body` with the UTF-8 of a text operand (decoding payload escapes first when there are
    /// any); an empty buffer for operands that are not text.
    @inline(__always)
    func withText<R>(_ operand: Operand, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        switch operand {
        case .string(var text):
            return text.withUTF8 { body(UnsafeRawBufferPointer($0)) }
        case .payloadString(let start, let end, let escaped):
            guard escaped else { return body(UnsafeRawBufferPointer(rebasing: payload[start..<end])) }
            var decoded: [UInt8] = []
            decoded.reserveCapacity(end - start)
            JSONScanner.appendDecoded(payload, start, end, to: &decoded)
            return decoded.withUnsafeBytes(body)
        default:
            return body(UnsafeRawBufferPointer(start: nil, count: 0))
        }
    }

    /// Calls `body` with the JSON text of an object or array operand (empty for other operands).
    private func withJSON<R>(_ operand: Operand, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        switch operand {
        case .json(let bytes): return bytes.withUnsafeBytes(body)
        case .payloadJSON(let field): return body(UnsafeRawBufferPointer(rebasing: payload[field.valueRange]))
        default: return body(UnsafeRawBufferPointer(start: nil, count: 0))
        }
    }

    // MARK: - Booleans

    /// A boolean operand of `and`, `or` or `not`; anything else is an error.
    @inline(__always)
    private func condition(_ node: Int, _ operatorName: String) throws(ExpressionEvaluationError) -> Bool {
        let value = try evaluate(node)
        guard case .bool(let result) = value else {
            throw failure("\(text(node)) is \(describe(value)), not a boolean (needed by '\(operatorName)')")
        }
        return result
    }

    // MARK: - Comparison

    func compare(_ a: Operand, _ b: Operand) -> OperandOrder {
        switch a {
        case .missing:
            return .unordered
        case .null:
            if case .null = b { return .equal }
            return .unordered
        case .bool(let x):
            if case .bool(let y) = b { return x == y ? .equal : .unordered }
            return .unordered
        case .integer, .decimal:
            if b.isNumber { return Self.compareNumbers(a, b) }
            guard b.isText, let number = integer(inText: b) else { return .unordered }
            return Self.compareNumbers(a, number)
        case .string, .payloadString:
            if b.isText { return withText(a) { x in withText(b) { y in Self.compareText(x, y) } } }
            guard b.isNumber, let number = integer(inText: a) else { return .unordered }
            return Self.compareNumbers(number, b)
        case .json, .payloadJSON:
            switch b {
            case .json, .payloadJSON:
                let same = withJSON(a) { x in withJSON(b) { y in x.count == y.count && JSONBytes.equal(x.baseAddress, y.baseAddress, x.count) } }
                return same ? .equal : .unordered
            default:
                return .unordered
            }
        }
    }

    /// Two number operands: exactly when both are integers, else as Doubles.
    private static func compareNumbers(_ a: Operand, _ b: Operand) -> OperandOrder {
        if case .integer(let an, let am) = a, case .integer(let bn, let bm) = b {
            if an != bn { return an ? .less : .greater }
            if am == bm { return .equal }
            return (am < bm) != an ? .less : .greater
        }
        let x = a.doubleValue, y = b.doubleValue
        if x < y { return .less }
        if x > y { return .greater }
        return x == y ? .equal : .unordered
    }

    /// Bytes in order; when both start with "0x"/"0X", ASCII case is ignored. Eight bytes are
    /// compared at a time (lower-cased together when case is ignored) until a difference.
    private static func compareText(_ x: UnsafeRawBufferPointer, _ y: UnsafeRawBufferPointer) -> OperandOrder {
        let ignoreCase = isHex(x) && isHex(y)
        let common = min(x.count, y.count)
        var k = 0
        while k + 8 <= common {
            var a = x.loadUnaligned(fromByteOffset: k, as: UInt64.self)
            var b = y.loadUnaligned(fromByteOffset: k, as: UInt64.self)
            if a != b && ignoreCase {
                a = lowercased(a)
                b = lowercased(b)
            }
            if a != b { break }
            k += 8
        }
        while k < common {
            var c = x[k], d = y[k]
            if c != d && ignoreCase {
                if c &- 0x41 < 26 { c |= 0x20 }
                if d &- 0x41 < 26 { d |= 0x20 }
            }
            if c != d { return c < d ? .less : .greater }
            k += 1
        }
        if x.count == y.count { return .equal }
        return x.count < y.count ? .less : .greater
    }

    /// The eight bytes with ASCII 'A'...'Z' turned into 'a'...'z' (other bytes unchanged).
    @inline(__always)
    private static func lowercased(_ word: UInt64) -> UInt64 {
        let seven = word & 0x7F7F_7F7F_7F7F_7F7F
        let atLeastA = seven &+ 0x3F3F_3F3F_3F3F_3F3F // high bit set when byte >= 0x41
        let pastZ = seven &+ 0x2525_2525_2525_2525 // high bit set when byte >= 0x5B
        let upper = atLeastA & ~pastZ & ~word & 0x8080_8080_8080_8080
        return word | (upper >> 2)
    }

    @inline(__always)
    private static func isHex(_ text: UnsafeRawBufferPointer) -> Bool {
        text.count >= 2 && text[0] == 0x30 && text[1] | 0x20 == UInt8(ascii: "x")
    }

    /// The integer a text operand spells: decimal digits only, or "0x"/"0X" and hex digits.
    private func integer(inText operand: Operand) -> Operand? {
        withText(operand) { bytes -> Operand? in
            let magnitude = Self.isHex(bytes) ? UInt256(hexUTF8: bytes) : UInt256(decimalUTF8: bytes)
            return magnitude.map { .integer(negative: false, magnitude: $0) }
        }
    }

    // MARK: - Arithmetic

    /// A number operand, or the integer a digit string spells; nil for anything else.
    private func number(_ operand: Operand) -> Operand? {
        if operand.isNumber { return operand }
        return operand.isText ? integer(inText: operand) : nil
    }

    private func arithmetic(_ op: ExpressionNode.ArithmeticOperator, _ a: Operand, _ b: Operand,
                            leftStart: Int, right: Int) throws(ExpressionEvaluationError) -> Operand {
        if case .missing = a { return .missing }
        if case .missing = b { return .missing }
        if case .null = a { return .null }
        if case .null = b { return .null }
        if op == .add && a.isText && b.isText {
            var joined: [UInt8] = []
            withText(a) { joined.append(contentsOf: $0) }
            withText(b) { joined.append(contentsOf: $0) }
            return .string(String(decoding: joined, as: UTF8.self))
        }
        let leftEnd = program.spans[right].lowerBound
        guard let x = number(a) else { throw notANumber(text(leftStart, leftEnd, trimmingOperator: true), a, op) }
        guard let y = number(b) else { throw notANumber(text(right), b, op) }
        let whole = { text(leftStart, program.spans[right].upperBound) }
        if case .integer(let xn, let xm) = x, case .integer(let yn, let ym) = y {
            switch op {
            case .add, .subtract:
                let yNegative = op == .add ? yn : !yn
                if xn == yNegative {
                    let (sum, overflow) = xm.addingReportingOverflow(ym)
                    guard !overflow else { throw failure("\(whole()) overflows: the result exceeds 2^256-1 in magnitude") }
                    return .signed(xn, sum)
                }
                return xm >= ym ? .signed(xn, xm.subtractingReportingOverflow(ym).partialValue)
                                : .signed(yNegative, ym.subtractingReportingOverflow(xm).partialValue)
            case .multiply:
                let (product, overflow) = xm.multipliedReportingOverflow(by: ym)
                guard !overflow else { throw failure("\(whole()) overflows: the result exceeds 2^256-1 in magnitude") }
                return .signed(xn != yn, product)
            case .divide, .remainder:
                guard !ym.isZero else { throw divisionByZero(op, right) }
                let (quotient, remainder) = xm.quotientAndRemainder(dividingBy: ym)
                return op == .divide ? .signed(xn != yn, quotient) : .signed(xn, remainder)
            }
        }
        let p = x.doubleValue, q = y.doubleValue
        let result: Double
        switch op {
        case .add: result = p + q
        case .subtract: result = p - q
        case .multiply: result = p * q
        case .divide, .remainder:
            guard q != 0 else { throw divisionByZero(op, right) }
            result = op == .divide ? p / q : p.truncatingRemainder(dividingBy: q)
        }
        guard result.isFinite else { throw failure("\(whole()) is not a finite number") }
        return .decimal(result)
    }

    private func negate(_ value: Operand, _ node: Int) throws(ExpressionEvaluationError) -> Operand {
        switch value {
        case .missing, .null: return value
        case .integer(let negative, let magnitude): return .signed(!negative, magnitude)
        case .decimal(let number): return .decimal(-number)
        default:
            guard case .integer(_, let magnitude)? = integer(inText: value) else {
                throw failure("\(text(node)) is \(describe(value)), not a number (needed by '-')")
            }
            return .signed(true, magnitude)
        }
    }

    // MARK: - Functions

    private func call(_ function: ExpressionFunction, _ arguments: Range<Int>) throws(ExpressionEvaluationError) -> Operand {
        let first = program.children[arguments.lowerBound]
        switch function {
        case .coalesce:
            var value = Operand.missing
            for k in arguments {
                value = try evaluate(program.children[k])
                switch value {
                case .missing, .null: continue
                default: return value
                }
            }
            return value
        case .lower, .upper:
            let value = try evaluate(first)
            switch value {
            case .missing, .null:
                return value
            case .string, .payloadString:
                let lower = function == .lower
                let mapped = withText(value) { bytes in
                    String(decoding: bytes.map { c in
                        if lower { return c &- 0x41 < 26 ? c | 0x20 : c }
                        return c &- 0x61 < 26 ? c & ~0x20 : c
                    }, as: UTF8.self)
                }
                return .string(mapped)
            default:
                throw failure("\(function.rawValue)() needs a string; \(text(first)) is \(describe(value))")
            }
        case .length:
            let value = try evaluate(first)
            switch value {
            case .missing, .null:
                return value
            case .string, .payloadString:
                let count = withText(value) { bytes in
                    bytes.allSatisfy { $0 < 0x80 } ? bytes.count : String(decoding: bytes, as: UTF8.self).count
                }
                return .integer(negative: false, magnitude: UInt256(UInt64(count)))
            case .json, .payloadJSON:
                let count = withJSON(value) { bytes -> Int in
                    let kind: JSONKind = bytes.first == JSONByte.openBracket ? .array : .object
                    let whole = JSONField(keyStart: 0, keyEnd: 0, valueStart: 0, valueEnd: Int32(truncatingIfNeeded: bytes.count), kind: kind)
                    return JSONScanner.count(of: bytes, whole) ?? 0
                }
                return .integer(negative: false, magnitude: UInt256(UInt64(count)))
            default:
                throw failure("length() needs a string, an array or an object; \(text(first)) is \(describe(value))")
            }
        case .concat:
            var joined: [UInt8] = []
            var sawNull = false
            for k in arguments {
                let value = try evaluate(program.children[k])
                switch value {
                case .missing:
                    return .missing
                case .null:
                    sawNull = true
                case .bool(let flag):
                    joined.append(contentsOf: flag ? Array("true".utf8) : Array("false".utf8))
                case .integer(let negative, let magnitude):
                    if negative { joined.append(UInt8(ascii: "-")) }
                    magnitude.appendDecimal(to: &joined)
                case .decimal(let number):
                    var writer = JSONWriter(capacity: 24)
                    writer.number(number)
                    joined.append(contentsOf: writer.bytes)
                case .string, .payloadString:
                    withText(value) { joined.append(contentsOf: $0) }
                case .json, .payloadJSON:
                    withJSON(value) { joined.append(contentsOf: $0) }
                }
            }
            return sawNull ? .null : .string(String(decoding: joined, as: UTF8.self))
        }
    }

    // MARK: - Messages

    func failure(_ message: String) -> ExpressionEvaluationError {
        ExpressionEvaluationError(expression: program.text, message: message)
    }

    private func notANumber(_ operandText: String, _ value: Operand, _ op: ExpressionNode.ArithmeticOperator) -> ExpressionEvaluationError {
        failure("\(operandText) is \(describe(value)), not a number (needed by '\(op.rawValue)')")
    }

    private func divisionByZero(_ op: ExpressionNode.ArithmeticOperator, _ divisor: Int) -> ExpressionEvaluationError {
        let what = op == .divide ? "division by zero" : "modulo by zero"
        if case .constant = program.steps[divisor] { return failure(what) }
        return failure("\(what) (\(text(divisor)) is 0)")
    }

    /// How a value reads in a message: "the string \"abc\"", "the integer 5", "missing", "an array".
    func describe(_ value: Operand) -> String {
        switch value {
        case .missing: return "missing"
        case .null: return "null"
        case .bool(let flag): return "the boolean \(flag)"
        case .integer(let negative, let magnitude): return "the integer \(negative ? "-" : "")\(magnitude)"
        case .decimal(let number): return "the number \(number)"
        case .string, .payloadString:
            let text = withText(value) { String(decoding: $0, as: UTF8.self) }
            let shown = text.count > 60 ? String(text.prefix(57)) + "..." : text
            var writer = JSONWriter(capacity: 64)
            writer.string(shown)
            return "the string \(String(decoding: writer.bytes, as: UTF8.self))"
        case .json, .payloadJSON:
            return withJSON(value) { $0.first == JSONByte.openBracket } ? "an array" : "an object"
        }
    }

    private func text(_ step: Int) -> String { text(program.spans[step].lowerBound, program.spans[step].upperBound) }

    /// The expression text between two scalar offsets, trimmed; with `trimmingOperator`, the
    /// arithmetic operator that ends the span (the left operand of a step) is cut off too.
    private func text(_ start: Int, _ end: Int, trimmingOperator: Bool = false) -> String {
        var snippet = Substring(ExpressionSource(program.text).snippet(start, end))
        let blanks: Set<Character> = [" ", "\t", "\n", "\r"]
        while let last = snippet.last, blanks.contains(last) { snippet.removeLast() }
        if trimmingOperator, let last = snippet.last, "+-*/%".contains(last) { snippet.removeLast() }
        while let last = snippet.last, blanks.contains(last) { snippet.removeLast() }
        while let first = snippet.first, blanks.contains(first) { snippet.removeFirst() }
        return String(snippet)
    }
}
