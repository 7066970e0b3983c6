extension PipelineDefinition {
    /// The running form of the steps, sharing one payload index.
    func makeSteps(index: PayloadIndex, keyValues: any KeyValueStore, instances: PipelineInstances = .none) -> [any PipelineStep] {
        steps.map { step -> any PipelineStep in
            switch step {
            case .filter(let expression): FilterStep(expression, index: index)
            case .map(let map): MapStep(map, index: index)
            case .enrich(let enrich): EnrichStep(enrich, store: keyValues, index: index)
            case .dedupe(let dedupe): DedupeStep(dedupe, index: index)
            case .window(let window): WindowStep(window, index: index)
            case .processor(let name): ProcessorStep(instance: name, instances: instances)
            }
        }
    }
}

/// A pipeline's steps run in memory over given records, with no queue and no checkpoints: for the
/// benchmark's "steps alone" figure and for trying a definition on sample data.
public final class PipelineEvaluator {
    private let steps: [any PipelineStep]
    private var events: [PipelineEvent] = []
    private var output = StepOutput()

    public init(_ definition: PipelineDefinition, keyValues: any KeyValueStore = InMemoryKeyValueStore()) {
        steps = definition.makeSteps(index: PayloadIndex(), keyValues: keyValues)
    }

    /// Runs one record through every step; returns how many results came out of the last step
    /// (records a step failed or sent aside are not counted).
    public func process(_ record: QueueRecord) -> Int {
        events.removeAll(keepingCapacity: true)
        events.append(PipelineEvent(record))
        for step in steps {
            output.events.removeAll(keepingCapacity: true)
            output.side.removeAll(keepingCapacity: true)
            for event in events {
                do throws(StepFailure) { try step.process(event, into: &output) } catch { continue }
            }
            swap(&events, &output.events)
            if events.isEmpty { return 0 }
        }
        return events.count
    }
}
