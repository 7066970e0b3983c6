/// Takes from one event what a window step needs: its event time, its group and each aggregate's
/// input — every expression evaluated once over a payload indexed once.
final class EventExtractor {
    struct Extracted {
        var timeNs: Int64
        var groupKey: [UInt8]
        var groupValues: [[UInt8]]
        var inputs: [AggregateState.Input]
    }

    private let definition: PipelineDefinition.WindowDefinition
    private var index = PayloadIndex()
    private let needsPayload: Bool

    init(_ definition: PipelineDefinition.WindowDefinition) {
        self.definition = definition
        needsPayload = definition.timeField != nil || !definition.groupBy.isEmpty || definition.aggregates.contains { $0.argument != nil }
    }

    func extract(_ event: PipelineEvent) throws(StepFailure) -> Extracted {
        if needsPayload { try index.load(event) }
        var time = event.eventTimeNs
        if let timeField = definition.timeField {
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
                time = Int64(magnitude.w0) * definition.timeUnitNs
            case .decimal(let seconds):
                let scaled = seconds * Double(definition.timeUnitNs)
                guard scaled >= 0, scaled < 9.2e18 else { throw StepFailure("time_field \(timeField.text) = \(seconds) is out of range") }
                time = Int64(scaled)
            }
        }
        var groupKey: [UInt8] = []
        var groupValues: [[UInt8]] = []
        groupValues.reserveCapacity(definition.groupBy.count)
        for (position, group) in definition.groupBy.enumerated() {
            let json = try index.value(group.expression, of: event).json
            if position > 0 { groupKey.append(0x1F) }
            groupKey.append(contentsOf: json)
            groupValues.append(json)
        }
        var inputs: [AggregateState.Input] = []
        inputs.reserveCapacity(definition.aggregates.count)
        for aggregate in definition.aggregates {
            guard let argument = aggregate.argument else {
                inputs.append(.none)
                continue
            }
            let value = try index.value(argument, of: event)
            switch aggregate.function {
            case .count:
                // count(x) counts events where x is present and not null.
                switch value {
                case .missing, .null: inputs.append(.skip)
                default: inputs.append(.none)
                }
            case .distinct:
                switch value {
                case .missing, .null: inputs.append(.skip)
                default: inputs.append(.hash(value.keyBytes.withUnsafeBytes { StableHash.hash64($0) }))
                }
            case .sum, .avg, .min, .max:
                if let number = try AggregateNumber.from(value, aggregate: "\(aggregate.name) = \(aggregate.function.rawValue)(\(argument.text))") {
                    inputs.append(.number(number))
                } else {
                    inputs.append(.skip)
                }
            }
        }
        return Extracted(timeNs: time, groupKey: groupKey, groupValues: groupValues, inputs: inputs)
    }
}
