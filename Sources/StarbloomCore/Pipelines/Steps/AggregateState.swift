import StarbloomJSON

/// An exact number taken from an event: integers (token amounts, up to 256 bits, either sign) stay
/// exact; numbers with a fraction or exponent are Doubles.
enum AggregateNumber: Hashable {
    case integer(negative: Bool, magnitude: UInt256)
    case decimal(Double)

    /// The number in a field value; nil for missing and null (aggregates skip them, as SQL does).
    static func from(_ value: ExpressionValue, aggregate: String) throws(StepFailure) -> AggregateNumber? {
        switch value {
        case .missing, .null: return nil
        case .integer(let negative, let magnitude): return .integer(negative: negative, magnitude: magnitude)
        case .decimal(let number):
            guard number.isFinite else { throw StepFailure("\(aggregate): \(number) is not a finite number") }
            return .decimal(number)
        case .string(let text):
            if let magnitude = UInt256(text) { return .integer(negative: false, magnitude: magnitude) }
            if text.hasPrefix("-"), let magnitude = UInt256(decimal: text.dropFirst()) {
                return .integer(negative: !magnitude.isZero, magnitude: magnitude)
            }
            if let number = Double(text), number.isFinite { return .decimal(number) }
            throw StepFailure("\(aggregate): the string \"\(text.prefix(80))\" is not a number")
        case .bool, .json:
            throw StepFailure("\(aggregate): expected a number, got \(value.typeDescription)")
        }
    }

    var doubleValue: Double {
        switch self {
        case .integer(let negative, let magnitude): negative ? -magnitude.doubleValue : magnitude.doubleValue
        case .decimal(let number): number
        }
    }

    static func isLess(_ a: AggregateNumber, _ b: AggregateNumber) -> Bool {
        switch (a, b) {
        case (.integer(let an, let am), .integer(let bn, let bm)):
            if an != bn { return an }
            return an ? bm < am : am < bm
        default:
            return a.doubleValue < b.doubleValue
        }
    }

    func write(to writer: inout JSONWriter) {
        switch self {
        case .integer(let negative, let magnitude):
            ExpressionValue.integer(negative: negative, magnitude: magnitude).write(to: &writer)
        case .decimal(let number):
            writer.number(number)
        }
    }
}

/// A signed sum kept exactly: integers in sign and 256-bit magnitude, fractions as a Double beside
/// them (with a count of fractional terms, so that when every fractional term was retracted the
/// sum is exact again and rounding residue is dropped).
struct ExactSum: Equatable {
    var negative = false
    var magnitude = UInt256.zero
    var fraction = 0.0
    var fractionTerms: Int64 = 0
    var overflowed = false

    mutating func add(_ number: AggregateNumber, sign: Int64) {
        switch number {
        case .integer(let valueNegative, let value):
            addInteger(negative: valueNegative != (sign < 0), value)
        case .decimal(let value):
            fraction += sign < 0 ? -value : value
            fractionTerms += sign
            if fractionTerms == 0 { fraction = 0 }
        }
    }

    private mutating func addInteger(negative valueNegative: Bool, _ value: UInt256) {
        if value.isZero { return }
        if magnitude.isZero || negative == valueNegative {
            let (sum, overflow) = magnitude.addingReportingOverflow(value)
            if overflow { overflowed = true }
            magnitude = sum
            negative = valueNegative
        } else if magnitude >= value {
            magnitude = magnitude.subtractingReportingOverflow(value).partialValue
            if magnitude.isZero { negative = false }
        } else {
            magnitude = value.subtractingReportingOverflow(magnitude).partialValue
            negative = valueNegative
        }
    }

    var isExact: Bool { fractionTerms == 0 }

    mutating func merge(_ other: ExactSum) {
        addInteger(negative: other.negative, other.magnitude)
        fraction += other.fraction
        fractionTerms += other.fractionTerms
        overflowed = overflowed || other.overflowed
        if fractionTerms == 0 { fraction = 0 }
    }

    var doubleValue: Double { (negative ? -magnitude.doubleValue : magnitude.doubleValue) + fraction }

    /// Exact sums are JSON strings of digits (token amounts exceed what JSON numbers carry safely);
    /// sums with fractional terms are numbers.
    func write(to writer: inout JSONWriter) {
        if overflowed {
            writer.null() // past 2^256-1 in magnitude at some point: no exact answer to give
        } else if isExact {
            var digits: [UInt8] = negative ? [UInt8(ascii: "-")] : []
            magnitude.appendDecimal(to: &digits)
            digits.withUnsafeBytes { writer.string(utf8: $0) }
        } else {
            writer.number(doubleValue)
        }
    }

    func save(into writer: inout StateWriter) {
        writer.bool(negative); writer.uint256(magnitude); writer.double(fraction); writer.int(fractionTerms); writer.bool(overflowed)
    }

    static func load(from reader: inout StateReader) throws(StateDecodingError) -> ExactSum {
        ExactSum(negative: try reader.bool(), magnitude: try reader.uint256(), fraction: try reader.double(),
                 fractionTerms: try reader.int(), overflowed: try reader.bool())
    }
}

/// Distinct values of a window: exact (hash → multiplicity, so reverts retract) up to
/// `exactLimit` values, then a HyperLogLog sketch (approximate; from then on reverts are not
/// subtracted — a sketch cannot forget).
struct DistinctCounter: Equatable {
    static let exactLimit = 4_096
    var exact: [UInt64: Int64] = [:]
    var sketch: HyperLogLog?

    mutating func add(hash: UInt64, sign: Int64) {
        if var sketch {
            if sign > 0 { sketch.insert(hash: hash) }
            self.sketch = sketch
            return
        }
        let count = exact[hash, default: 0] + sign
        exact[hash] = count == 0 ? nil : count
        if exact.count > Self.exactLimit {
            var sketch = HyperLogLog(precision: 12)
            for (hash, count) in exact where count > 0 { sketch.insert(hash: hash) }
            self.sketch = sketch
            exact = [:]
        }
    }

    var estimate: UInt64 {
        if let sketch { return sketch.estimate }
        return UInt64(exact.values.filter { $0 > 0 }.count)
    }
}

/// The running value of one aggregate in one window.
enum AggregateState: Equatable {
    case count(Int64)
    case sum(ExactSum)
    case average(ExactSum, Int64)
    /// min and max keep every value's multiplicity, so a revert can take the extreme back.
    case extreme(isMinimum: Bool, counts: [AggregateNumber: Int64])
    case distinct(DistinctCounter)

    init(_ function: PipelineDefinition.AggregateDefinition.Function) {
        switch function {
        case .count: self = .count(0)
        case .sum: self = .sum(ExactSum())
        case .avg: self = .average(ExactSum(), 0)
        case .min: self = .extreme(isMinimum: true, counts: [:])
        case .max: self = .extreme(isMinimum: false, counts: [:])
        case .distinct: self = .distinct(DistinctCounter())
        }
    }

    /// The input one aggregate takes from one event.
    enum Input {
        /// Counted by count, ignored by the others.
        case none
        /// Ignored by this aggregate (its argument is missing or null).
        case skip
        case number(AggregateNumber)
        case hash(UInt64)
    }

    mutating func add(_ input: Input, sign: Int64) {
        switch (self, input) {
        case (.count(let count), .none), (.count(let count), .number), (.count(let count), .hash):
            self = .count(count + sign)
        case (.sum(var sum), .number(let number)):
            sum.add(number, sign: sign)
            self = .sum(sum)
        case (.average(var sum, let count), .number(let number)):
            sum.add(number, sign: sign)
            self = .average(sum, count + sign)
        case (.extreme(let isMinimum, var counts), .number(let number)):
            let count = counts[number, default: 0] + sign
            counts[number] = count == 0 ? nil : count
            self = .extreme(isMinimum: isMinimum, counts: counts)
        case (.distinct(var counter), .hash(let hash)):
            counter.add(hash: hash, sign: sign)
            self = .distinct(counter)
        default:
            break // a missing value: this aggregate skips the event
        }
    }

    func write(to writer: inout JSONWriter) {
        switch self {
        case .count(let count):
            writer.integer(count)
        case .sum(let sum):
            sum.write(to: &writer)
        case .average(let sum, let count):
            if count <= 0 { writer.null() } else { writer.number(sum.doubleValue / Double(count)) }
        case .extreme(let isMinimum, let counts):
            let present = counts.filter { $0.value > 0 }.keys
            let best = present.min { isMinimum ? AggregateNumber.isLess($0, $1) : AggregateNumber.isLess($1, $0) }
            if let best { best.write(to: &writer) } else { writer.null() }
        case .distinct(let counter):
            writer.unsigned(counter.estimate)
        }
    }

    func save(into writer: inout StateWriter) {
        switch self {
        case .count(let count):
            writer.varint(0); writer.int(count)
        case .sum(let sum):
            writer.varint(1); sum.save(into: &writer)
        case .average(let sum, let count):
            writer.varint(2); sum.save(into: &writer); writer.int(count)
        case .extreme(let isMinimum, let counts):
            writer.varint(3); writer.bool(isMinimum); writer.varint(UInt64(counts.count))
            for (number, count) in counts.sorted(by: { AggregateNumber.isLess($0.key, $1.key) }) {
                switch number {
                case .integer(let negative, let magnitude): writer.varint(0); writer.bool(negative); writer.uint256(magnitude)
                case .decimal(let value): writer.varint(1); writer.double(value)
                }
                writer.int(count)
            }
        case .distinct(let counter):
            writer.varint(4)
            if let sketch = counter.sketch {
                writer.bool(true); writer.bytes(sketch.serialized())
            } else {
                writer.bool(false); writer.varint(UInt64(counter.exact.count))
                for (hash, count) in counter.exact.sorted(by: { $0.key < $1.key }) { writer.varint(hash); writer.int(count) }
            }
        }
    }

    static func load(from reader: inout StateReader) throws(StateDecodingError) -> AggregateState {
        switch try reader.varint() {
        case 0: return .count(try reader.int())
        case 1: return .sum(try ExactSum.load(from: &reader))
        case 2: return .average(try ExactSum.load(from: &reader), try reader.int())
        case 3:
            let isMinimum = try reader.bool()
            var counts: [AggregateNumber: Int64] = [:]
            for _ in 0..<(try reader.count()) {
                let number: AggregateNumber = try reader.varint() == 0
                    ? .integer(negative: try reader.bool(), magnitude: try reader.uint256())
                    : .decimal(try reader.double())
                counts[number] = try reader.int()
            }
            return .extreme(isMinimum: isMinimum, counts: counts)
        case 4:
            var counter = DistinctCounter()
            if try reader.bool() {
                guard let sketch = HyperLogLog(serialized: try reader.bytes()) else { throw StateDecodingError(message: "bad distinct sketch") }
                counter.sketch = sketch
            } else {
                for _ in 0..<(try reader.count()) { counter.exact[try reader.varint()] = try reader.int() }
            }
            return .distinct(counter)
        case let tag:
            throw StateDecodingError(message: "unknown aggregate tag \(tag)")
        }
    }
}
