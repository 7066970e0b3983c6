/// Drops events whose key was seen within the window (event time). Keys are remembered with a
/// multiplicity, so reverts stay exact: a duplicate's revert is dropped too, and the revert of the
/// last remaining copy passes, retracting the one event that went downstream.
final class DedupeStep: PipelinePredicateStep {
    private let definition: PipelineDefinition.DedupeDefinition
    private let index: PayloadIndex
    /// Key hash → (copies seen and not reverted, event time of the first copy).
    private var seen: [UInt64: (count: Int64, firstNs: Int64)] = [:]
    private var maxEventTime = Int64.min
    private var sinceSweep = 0

    init(_ definition: PipelineDefinition.DedupeDefinition, index: PayloadIndex = PayloadIndex()) {
        self.definition = definition
        self.index = index
    }

    func keeps(_ event: PipelineEvent) throws(StepFailure) -> Bool {
        try index.load(event)
        let hash = try index.value(definition.key, of: event).keyBytes.withUnsafeBytes { StableHash.hash64($0) }
        let time = event.eventTimeNs
        if event.isRevert {
            guard let entry = seen[hash] else { return true } // nothing known: let downstream decide
            if entry.count <= 1 {
                seen[hash] = nil
                return true
            }
            seen[hash] = (entry.count - 1, entry.firstNs)
            return false
        }
        let keep: Bool
        if let entry = seen[hash], time &- entry.firstNs < definition.windowNs {
            seen[hash] = (entry.count + 1, entry.firstNs)
            keep = false
        } else {
            seen[hash] = (1, time)
            keep = true
        }
        maxEventTime = max(maxEventTime, time)
        sinceSweep += 1
        if sinceSweep >= 4_096 {
            sinceSweep = 0
            let horizon = maxEventTime &- definition.windowNs
            seen = seen.filter { $0.value.firstNs > horizon }
        }
        return keep
    }

    func saveState(into writer: inout StateWriter) {
        writer.int(maxEventTime)
        writer.int(sinceSweep)
        writer.varint(UInt64(seen.count))
        for (hash, entry) in seen.sorted(by: { $0.key < $1.key }) {
            writer.varint(hash); writer.int(entry.count); writer.int(entry.firstNs)
        }
    }

    func loadState(from reader: inout StateReader) throws(StateDecodingError) {
        maxEventTime = try reader.int()
        sinceSweep = Int(try reader.int())
        seen = [:]
        for _ in 0..<(try reader.count()) { seen[try reader.varint()] = (try reader.int(), try reader.int()) }
    }
}
