import Foundation

/// Takes from one event what a window step needs: its event time, its group (interned as a small
/// id) and each aggregate's input. Expressions that are a single top-level field — nearly all of
/// them in practice — are read straight from the payload bytes (digits parsed in place, group
/// values copied raw); anything else goes through the expression evaluator.
final class EventExtractor {
    private let definition: PipelineDefinition.WindowDefinition
    private let index: PayloadIndex
    let groups = GroupTable()
    /// Each aggregate's input for the event last extracted (reused: no allocation per event).
    private(set) var inputs: [AggregateState.Input]
    private var scratch: [UInt8] = []
    private var valueRanges: [Range<Int>] = []
    private let timeKey: [UInt8]?
    private let groupKeys: [[UInt8]?]
    private let argumentKeys: [[UInt8]?]
    private let needsPayload: Bool
    private let aggregates: [PipelineDefinition.AggregateDefinition]

    init(_ definition: PipelineDefinition.WindowDefinition, index: PayloadIndex) {
        self.definition = definition
        self.index = index
        inputs = Array(repeating: .none, count: definition.aggregates.count)
        timeKey = definition.timeField?.topLevelKey
        groupKeys = definition.groupBy.map(\.expression.topLevelKey)
        argumentKeys = definition.aggregates.map { $0.argument?.topLevelKey }
        aggregates = definition.aggregates
        needsPayload = definition.timeField != nil || !definition.groupBy.isEmpty || definition.aggregates.contains { $0.argument != nil }
    }

    func extract(_ event: PipelineEvent) throws(StepFailure) -> (timeNs: Int64, group: Int32) {
        if needsPayload { try index.load(event) }
        let time = try eventTime(event)
        let group = try groupID(event)
        for position in 0..<aggregates.count {
            inputs[position] = try input(for: aggregates[position], position: position, event)
        }
        return (time, group)
    }

    // MARK: Time

    private func eventTime(_ event: PipelineEvent) throws(StepFailure) -> Int64 {
        guard let timeField = definition.timeField else { return event.eventTimeNs }
        if let timeKey, let field = index.topLevelField(timeKey, of: event), field.kind == .number,
           let units = event.payload.withUnsafeBytes({ Self.unsignedDigits($0, field.valueRange) }) {
            guard units <= UInt64(Int64.max) / UInt64(definition.timeUnitNs) else {
                throw StepFailure("time_field \(timeField.text) = \(units) is out of range")
            }
            return Int64(units) * definition.timeUnitNs
        }
        let value = try index.value(timeField, of: event)
        guard let number = try AggregateNumber.from(value, aggregate: "time_field \(timeField.text)") else {
            throw StepFailure("time_field \(timeField.text) is missing or null")
        }
        switch number {
        case .integer(let negative, let magnitude):
            guard !negative, magnitude.w1 == 0, magnitude.w2 == 0, magnitude.w3 == 0,
                  magnitude.w0 <= UInt64(Int64.max) / UInt64(definition.timeUnitNs) else {
                throw StepFailure("time_field \(timeField.text) = \(magnitude) is out of range")
            }
            return Int64(magnitude.w0) * definition.timeUnitNs
        case .decimal(let units):
            let scaled = units * Double(definition.timeUnitNs)
            guard scaled >= 0, scaled < 9.2e18 else { throw StepFailure("time_field \(timeField.text) = \(units) is out of range") }
            return Int64(scaled)
        }
    }

    /// A plain run of decimal digits (at most 18, so it fits) as a number; nil for anything else.
    private static func unsignedDigits(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> UInt64? {
        guard !range.isEmpty, range.count <= 18 else { return nil }
        var value: UInt64 = 0
        for offset in range {
            let digit = bytes[offset] &- 0x30
            guard digit < 10 else { return nil }
            value = value * 10 + UInt64(digit)
        }
        return value
    }

    // MARK: Group

    /// The group's key is its values' JSON (0x-hex strings lower-cased) joined by 0x1F.
    private func groupID(_ event: PipelineEvent) throws(StepFailure) -> Int32 {
        scratch.removeAll(keepingCapacity: true)
        valueRanges.removeAll(keepingCapacity: true)
        for (position, group) in definition.groupBy.enumerated() {
            if position > 0 { scratch.append(0x1F) }
            let start = scratch.count
            // A one-segment path is looked up once: copied raw when plain, null when absent.
            let key = groupKeys[position]
            let field = key.flatMap { index.topLevelField($0, of: event) }
            if let field, !field.valueHasEscapes, field.kind != .object, field.kind != .array {
                event.payload.withUnsafeBytes { bytes in
                    scratch.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[field.valueRange]))
                }
                // "0x…" strings: lower-case in place (addresses group regardless of case).
                if field.kind == .string, scratch.count - start >= 3, scratch[start + 1] == 0x30, scratch[start + 2] | 0x20 == 0x78 {
                    scratch.withUnsafeMutableBufferPointer { buffer in
                        for offset in start..<buffer.count where buffer[offset] >= 0x41 && buffer[offset] <= 0x5A { buffer[offset] |= 0x20 }
                    }
                }
            } else if key != nil && field == nil {
                scratch.append(contentsOf: "null".utf8)
            } else {
                scratch.append(contentsOf: try index.value(group.expression, of: event).json)
            }
            valueRanges.append(start..<scratch.count)
        }
        return groups.intern(scratch, valueRanges)
    }

    // MARK: Aggregate inputs

    private func input(for aggregate: PipelineDefinition.AggregateDefinition, position: Int, _ event: PipelineEvent) throws(StepFailure) -> AggregateState.Input {
        guard let argument = aggregate.argument else { return .none }
        // Fast path: a top-level field holding an unsigned integer, as a number or a digit string.
        if let key = argumentKeys[position], aggregate.function != .distinct, aggregate.function != .count {
            guard let field = index.topLevelField(key, of: event) else { return .skip }
            if field.kind == .null { return .skip }
            if (field.kind == .number || (field.kind == .string && !field.valueHasEscapes)),
               let value = event.payload.withUnsafeBytes({ bytes -> UInt256? in
                   let range = field.kind == .string ? field.valueStart + 1..<field.valueEnd - 1 : field.valueStart..<field.valueEnd
                   return UInt256(decimalUTF8: UnsafeRawBufferPointer(rebasing: bytes[Int(range.lowerBound)..<Int(range.upperBound)]))
               }) {
                return .number(.integer(negative: false, magnitude: value))
            }
        }
        let value = try index.value(argument, of: event)
        switch aggregate.function {
        case .count:
            switch value {
            case .missing, .null: return .skip
            default: return .none
            }
        case .distinct:
            switch value {
            case .missing, .null: return .skip
            default: return .hash(value.keyBytes.withUnsafeBytes { StableHash.hash64($0) })
            }
        case .sum, .avg, .min, .max:
            if let number = try AggregateNumber.from(value, aggregate: "\(aggregate.name) = \(aggregate.function.rawValue)(\(argument.text))") {
                return .number(number)
            }
            return .skip
        }
    }
}

/// Group keys interned to small ids, so windows are keyed by (start, id) — cheap to hash — and a
/// lookup hashes the key bytes once without allocating.
final class GroupTable {
    /// The first id with a given hash; ids sharing a hash are chained through `nextWithSameHash`.
    private var firstByHash: [UInt64: Int32] = [:]
    private var nextWithSameHash: [Int32] = []
    private(set) var keys: [[UInt8]] = []
    /// Each group's values (raw JSON), in `group_by` order.
    private(set) var values: [[[UInt8]]] = []
    /// The key of a group's result records: a single string value without its quotes (`0xab…`),
    /// otherwise the group's key (values' JSON joined by 0x1F).
    private(set) var recordKeys: [[UInt8]] = []

    func intern(_ key: [UInt8], _ ranges: [Range<Int>]) -> Int32 {
        let hash = key.withUnsafeBytes { StableHash.hash64($0) }
        var candidate = firstByHash[hash] ?? -1
        while candidate >= 0 {
            if keys[Int(candidate)] == key { return candidate }
            candidate = nextWithSameHash[Int(candidate)]
        }
        let id = Int32(keys.count)
        keys.append(key)
        values.append(ranges.map { Array(key[$0]) })
        if ranges.count == 1, key.count >= 2, key.first == 0x22, key.last == 0x22, !key.contains(0x5C) {
            recordKeys.append(Array(key.dropFirst().dropLast()))
        } else {
            recordKeys.append(key)
        }
        nextWithSameHash.append(firstByHash[hash] ?? -1)
        firstByHash[hash] = id
        return id
    }

    /// Interns a key read back from a checkpoint (values split at 0x1F, which JSON text never holds raw).
    func intern(savedKey key: [UInt8]) -> Int32 {
        var ranges: [Range<Int>] = []
        var start = 0
        for (offset, byte) in key.enumerated() where byte == 0x1F {
            ranges.append(start..<offset)
            start = offset + 1
        }
        ranges.append(start..<key.count)
        return intern(key, key.isEmpty ? [] : ranges)
    }
}
