/// A pipeline as declared in `starbloom.toml` (`[[pipelines]]`) or sent to `PUT /v1/pipelines/{name}`:
/// inputs (topic patterns, read as one consumer), steps in order, outputs. Parsed and checked once
/// (`PipelineDefinition.parse`); every expression is compiled here, so a running pipeline never meets
/// a syntax error.
public struct PipelineDefinition: Sendable {
    public var name: String
    public var inputs: [String]
    public var steps: [StepDefinition]
    public var outputs: [OutputDefinition]
    /// Where records that fail a step go, with the reason in `starbloom-error`.
    public var deadLetterTopic: String
    /// Records read per pass over the inputs, and the longest time outputs wait for a checkpoint.
    public var batchSize: Int
    public var checkpointIntervalMs: Int
    /// Where a new pipeline starts reading: "earliest" (default: nothing already published is missed) or "latest".
    public var startAtLatest: Bool
    /// The definition as given (TOML or JSON converted), kept so the API can show and store it.
    public var source: TOMLTable

    public enum StepDefinition: Sendable {
        case filter(Expression)
        case map(MapDefinition)
        case enrich(EnrichDefinition)
        case dedupe(DedupeDefinition)
        case window(WindowDefinition)
        /// Hands each event to the `process` function of a processor plugin instance configured on
        /// the host (`{ type = "processor", instance = "NAME" }`); what it emits goes on. The instance
        /// is looked up while the pipeline runs (see `ProcessorStep`), so it may be created later.
        case processor(instance: String)

        public var kind: String {
            switch self {
            case .filter: "filter"
            case .map: "map"
            case .enrich: "enrich"
            case .dedupe: "dedupe"
            case .window: "window"
            case .processor: "processor"
            }
        }
    }

    public struct MapDefinition: Sendable {
        /// Top-level fields kept (all when nil), then renamed, then computed fields added or replaced.
        public var select: [String]?
        public var rename: [(from: String, to: String)]
        public var drop: [String]
        public var set: [(name: String, expression: Expression)]
    }

    public struct EnrichDefinition: Sendable {
        public var namespace: String
        public var key: Expression
        /// The field the looked-up value is stored in (JSON values are merged as JSON, others as strings).
        public var into: String
        /// What to do when the key has no entry: keep the record unchanged, drop it, or dead-letter it.
        public var onMissing: MissingPolicy
        public enum MissingPolicy: String, Sendable { case keep, drop, deadLetter = "dead-letter" }
    }

    public struct DedupeDefinition: Sendable {
        public var key: Expression
        /// How long (event time) a key is remembered.
        public var windowNs: Int64
    }

    public struct WindowDefinition: Sendable {
        public enum Kind: Sendable, Equatable {
            case tumbling(sizeNs: Int64)
            case hopping(sizeNs: Int64, hopNs: Int64)
            case session(gapNs: Int64)
        }
        public var kind: Kind
        /// Event time: a payload field in `timeUnitNs` units, or the record's own event time when nil.
        public var timeField: Expression?
        public var timeUnitNs: Int64
        public var groupBy: [(name: String, expression: Expression)]
        public var aggregates: [AggregateDefinition]
        public var allowedLatenessNs: Int64
        /// How long a closed window is kept so that a revert can still correct it.
        public var retainClosedNs: Int64
        public var lateTopic: String
    }

    public struct AggregateDefinition: Sendable {
        public enum Function: String, Sendable, CaseIterable { case count, sum, min, max, avg, distinct }
        public var name: String
        public var function: Function
        public var argument: Expression?
    }

    public enum OutputDefinition: Sendable {
        case topic(String)
        /// One metric per listed field: `<metric>.<field>`, tagged with `tags` fields, at the record's
        /// event time (a window result's: its start) or at the `time` field read in `time_unit`.
        case series(metric: String, values: [String], tags: [String], time: (field: Expression, unitNs: Int64)?)
        /// The whole output record stored under the key expression's value.
        case keyValue(namespace: String, key: Expression)
    }
}

/// A pipeline definition that does not make sense, saying where.
public struct PipelineConfigError: Error, Sendable, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
