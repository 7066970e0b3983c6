import StarbloomJSON

/// A record on its way through a pipeline's steps.
public struct PipelineEvent: Sendable {
    public var key: [UInt8]
    public var payload: [UInt8] {
        didSet { indexedFields = nil }
    }
    public var headers: [QueueRecord.Header]
    /// The payload's top-level members when the reader already indexed it (see `PipelineReader`);
    /// cleared whenever the payload changes.
    var indexedFields: [JSONField]?
    public var eventTimeNs: Int64
    /// Set by chain connectors (header `starbloom-revert`) when the block that produced the record
    /// was orphaned: the record's earlier contribution must be taken back.
    public var isRevert: Bool

    public init(key: [UInt8], payload: [UInt8], headers: [QueueRecord.Header], eventTimeNs: Int64, isRevert: Bool) {
        self.key = key
        self.payload = payload
        self.headers = headers
        self.eventTimeNs = eventTimeNs
        self.isRevert = isRevert
    }

    init(_ record: QueueRecord) {
        self.init(key: record.key, payload: record.payload, headers: record.headers, eventTimeNs: record.eventTimeNs,
                  isRevert: record.headers.contains { $0.name == PipelineHeaders.revert && PipelineHeaders.isTrue($0.value) })
    }

    func header(_ name: String) -> [UInt8]? { headers.last { $0.name == name }?.value }
}

/// Header names pipelines read and write.
public enum PipelineHeaders {
    /// "1" or "true": the record retracts an earlier one with the same payload (chain reorganisation).
    public static let revert = "starbloom-revert"
    /// Why a record went to a dead-letter or late topic.
    public static let error = "starbloom-error"
    /// On window results: 0 for the first result of a window, 1, 2, … for corrections after reverts.
    public static let revision = "starbloom-revision"
    /// On window corrections: the result being replaced.
    public static let previousResult = "starbloom-previous-result"
    /// On pipeline outputs: pipeline name and output sequence number, which make re-publishing after a
    /// crash idempotent (the runner looks for them before publishing again).
    public static let pipeline = "starbloom-pipeline"
    public static let sequence = "starbloom-pipeline-seq"

    static func isTrue(_ value: [UInt8]) -> Bool { value == [0x31] || value == Array("true".utf8) }
}

/// A record sent aside (dead letter, late event) rather than down the pipeline.
struct SideRecord {
    var topic: String
    var event: PipelineEvent
    var reason: String
}

/// Why one record could not pass a step; the record goes to the dead-letter topic with this text.
struct StepFailure: Error, CustomStringConvertible {
    let message: String
    /// Not the record's fault (a processor instance is down): the pipeline waits and retries from its
    /// last checkpoint instead of dead-lettering the record.
    var isTransient = false
    init(_ message: String, isTransient: Bool = false) {
        self.message = message
        self.isTransient = isTransient
    }
    var description: String { message }
}

/// What a step produces while it handles one event: events for the next step, and records sent aside.
struct StepOutput {
    var events: [PipelineEvent] = []
    var side: [SideRecord] = []
}

/// One step of a running pipeline. Steps run on the pipeline's thread only.
protocol PipelineStep: AnyObject {
    func process(_ event: PipelineEvent, into output: inout StepOutput) throws(StepFailure)
    /// State carried across restarts (windows, dedupe keys); stateless steps write nothing.
    func saveState(into writer: inout StateWriter)
    func loadState(from reader: inout StateReader) throws(StateDecodingError)
}

/// A step that only keeps or drops each event, unchanged (filter, dedupe). The runner asks it
/// instead of having it copy the event into an output: a copy retains the event's four buffers,
/// which the reader thread allocated, so each retain and release moves a cache line between cores.
protocol PipelinePredicateStep: PipelineStep {
    func keeps(_ event: PipelineEvent) throws(StepFailure) -> Bool
}

extension PipelinePredicateStep {
    func process(_ event: PipelineEvent, into output: inout StepOutput) throws(StepFailure) {
        if try keeps(event) { output.events.append(event) }
    }
}

extension PipelineStep {
    func saveState(into writer: inout StateWriter) {}
    func loadState(from reader: inout StateReader) throws(StateDecodingError) {}
}
