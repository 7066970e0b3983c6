import StarbloomJSON

/// Windowed aggregation in event time: tumbling, hopping and session windows, grouped by fields.
///
/// Time: each event's time comes from `time_field` (or the record's event time). The watermark is
/// the largest event time seen minus `allowed_lateness`; a window closes — its result is emitted —
/// as soon as the watermark reaches its end, checked after every event, so results never depend on
/// how the input was cut into batches (a restart replays to exactly the same outputs).
///
/// Late events: an event whose window has already closed contributes nothing to it and is sent to
/// the late topic (for hopping windows it still counts in those of its windows that are open).
///
/// Reverts: a revert event subtracts its contribution. From an open window that simply changes the
/// result to come; a closed window is kept for `retain_closed` of event time after it closes, and a
/// revert to it emits a correction — the whole new result with `revision` one higher. A revert to
/// a window no longer kept goes to the late topic. Sessions are never split by a revert.
/// A kept window also remembers the events it dropped as late (by a 64-bit hash of the payload,
/// which a revert repeats): the revert of such an event has nothing to take back and goes to the
/// late topic too, instead of subtracting what was never added.
final class WindowStep: PipelineStep {
    struct WindowKey: Hashable {
        var start: Int64
        /// The group's id in `extractor.groups`.
        var group: Int32
    }

    struct Window {
        var end: Int64
        var aggregates: [AggregateState]
        var revision: Int64 = 0
        /// Payload hash → how many events with that payload were dropped as late for this window.
        var lateDropped: [UInt64: Int64] = [:]

        /// Notes a dropped late event; or, for a revert, takes back such a note (true if there was one).
        mutating func noteLate(_ fingerprint: UInt64, revert: Bool) -> Bool {
            guard revert else {
                lateDropped[fingerprint, default: 0] += 1
                return false
            }
            guard let count = lateDropped[fingerprint] else { return false }
            lateDropped[fingerprint] = count > 1 ? count - 1 : nil
            return true
        }
    }

    private let definition: PipelineDefinition.WindowDefinition
    private let extractor: EventExtractor
    private var maxEventTime = Int64.min
    private var open: [WindowKey: Window] = [:]
    /// Open windows by end time (tumbling/hopping), for closing in order without scanning.
    private var openByEnd: [Int64: [WindowKey]] = [:]
    private var openEnds = MinHeap()
    /// Closed windows kept for corrections, and when each may be forgotten.
    private var closed: [WindowKey: Window] = [:]
    private var closedByExpiry: [Int64: [WindowKey]] = [:]
    private var closedExpiries = MinHeap()
    /// Open sessions per group, ordered by start; and the earliest time any of them closes.
    private var sessions: [Int32: [(start: Int64, last: Int64, window: Window)]] = [:]
    private var nextSessionClose = Int64.max

    init(_ definition: PipelineDefinition.WindowDefinition, index: PayloadIndex = PayloadIndex()) {
        self.definition = definition
        self.extractor = EventExtractor(definition, index: index)
        emptyAggregates = definition.aggregates.map { AggregateState($0.function) }
    }

    private let emptyAggregates: [AggregateState]

    private func groupBytes(_ id: Int32) -> [UInt8] { extractor.groups.keys[Int(id)] }

    private func groupOrder(_ a: Int32, _ b: Int32) -> Bool { groupBytes(a).lexicographicallyPrecedes(groupBytes(b)) }

    private var watermark: Int64 {
        maxEventTime == .min ? .min : maxEventTime &- definition.allowedLatenessNs
    }

    func process(_ event: PipelineEvent, into output: inout StepOutput) throws(StepFailure) {
        let (time, group) = try extractor.extract(event)
        let sign: Int64 = event.isRevert ? -1 : 1
        switch definition.kind {
        case .tumbling(let size):
            let start = floorDivide(time, size) * size
            let closed = apply(group, sign: sign, start: start, end: start &+ size, event: event, into: &output) ? 0 : 1
            if closed > 0 { late(event, time: time, closedWindows: closed, sign: sign, into: &output) }
        case .hopping(let size, let hop):
            var start = floorDivide(time, hop) * hop
            while start > time &- size { start -= hop }
            var closed = 0
            start += hop
            while start <= time {
                if !apply(group, sign: sign, start: start, end: start &+ size, event: event, into: &output) { closed += 1 }
                start += hop
            }
            if closed > 0 { late(event, time: time, closedWindows: closed, sign: sign, into: &output) }
        case .session(let gap):
            applySession(group, time: time, sign: sign, gap: gap, event: event, into: &output)
        }
        if !event.isRevert, time > maxEventTime { maxEventTime = time }
        closeWindows(into: &output)
    }

    // MARK: Tumbling and hopping

    /// Adds the event to one window; false when that window has closed and was not corrected.
    private func apply(_ group: Int32, sign: Int64, start: Int64, end: Int64, event: PipelineEvent, into output: inout StepOutput) -> Bool {
        let key = WindowKey(start: start, group: group)
        if end > watermark {
            if open[key] == nil {
                open[key] = Window(end: end, aggregates: emptyAggregates)
                if openByEnd[end] == nil { openEnds.insert(end) }
                openByEnd[end, default: []].append(key)
            }
            add(sign: sign, to: &open[key]!)
            return true
        }
        if var window = closed[key] {
            // A late event is noted; the revert of a noted one is late as well (nothing to take back).
            if sign > 0 || window.noteLate(Self.fingerprint(event), revert: true) {
                if sign > 0 { _ = window.noteLate(Self.fingerprint(event), revert: false) }
                closed[key] = window
                return false
            }
            let before = result(key, window).payload
            add(sign: sign, to: &window)
            window.revision += 1
            closed[key] = window
            output.events.append(correction(key, window, previous: before))
            return true
        }
        return false
    }

    private static func fingerprint(_ event: PipelineEvent) -> UInt64 { event.payload.withUnsafeBytes { StableHash.hash64($0) } }

    private func late(_ event: PipelineEvent, time: Int64, closedWindows: Int, sign: Int64, into output: inout StepOutput) {
        let reason = sign < 0
            ? "revert for \(closedWindows) window(s) no longer kept (closed more than retain_closed ago, or never opened) or of an event that was late there"
            : "late: \(closedWindows) of its window(s) already closed (event time \(time) ns, watermark \(watermark) ns)"
        output.side.append(SideRecord(topic: definition.lateTopic, event: event, reason: reason))
    }

    private func add(sign: Int64, to window: inout Window) {
        let inputs = extractor.inputs
        for index in window.aggregates.indices {
            window.aggregates[index].add(inputs[index], sign: sign)
        }
    }

    // MARK: Sessions

    private func applySession(_ group: Int32, time: Int64, sign: Int64, gap: Int64,
                              event: PipelineEvent, into output: inout StepOutput) {
        var groupSessions = sessions[group] ?? []
        defer { sessions[group] = groupSessions.isEmpty ? nil : groupSessions }
        let openIndex = groupSessions.firstIndex(where: { $0.start <= time && time <= $0.last })
        // The closed session holding `time`: a scan of every kept window, so only reverts and late
        // events (the rare paths) ask for it.
        var closedKey: WindowKey? {
            openIndex != nil ? nil : closed.keys.first(where: { $0.group == group && $0.start <= time && time <= closed[$0]!.end - gap })
        }
        if sign < 0 {
            let closedKey = closedKey
            // The revert of an event dropped as late takes nothing back.
            let wasLate = openIndex.map { groupSessions[$0].window.noteLate(Self.fingerprint(event), revert: true) }
                ?? closedKey.map { closed[$0]!.noteLate(Self.fingerprint(event), revert: true) } ?? false
            if wasLate {
                output.side.append(SideRecord(topic: definition.lateTopic, event: event, reason: "revert of an event that was late for its session"))
                return
            }
            if let index = openIndex {
                add(sign: sign, to: &groupSessions[index].window)
                return
            }
            if let key = closedKey, var window = closed[key] {
                let before = result(key, window).payload
                add(sign: sign, to: &window)
                window.revision += 1
                closed[key] = window
                output.events.append(correction(key, window, previous: before))
                return
            }
            output.side.append(SideRecord(topic: definition.lateTopic, event: event, reason: "revert for a session no longer kept"))
            return
        }
        if time &+ gap <= watermark {
            let closedKey = closedKey
            if let index = openIndex { _ = groupSessions[index].window.noteLate(Self.fingerprint(event), revert: false) }
            else if let key = closedKey { _ = closed[key]!.noteLate(Self.fingerprint(event), revert: false) }
            output.side.append(SideRecord(topic: definition.lateTopic, event: event,
                                          reason: "late: its session would already have closed (event time \(time) ns, watermark \(watermark) ns)"))
            return
        }
        // Every open session within `gap` of the event merges with it.
        var merged: (start: Int64, last: Int64, window: Window)?
        groupSessions.removeAll { session in
            guard session.start &- gap < time, time < session.last &+ gap else { return false }
            if var current = merged {
                current.start = min(current.start, session.start)
                current.last = max(current.last, session.last)
                for index in current.window.aggregates.indices {
                    current.window.aggregates[index] = merge(current.window.aggregates[index], session.window.aggregates[index])
                }
                current.window.lateDropped.merge(session.window.lateDropped, uniquingKeysWith: +)
                merged = current
            } else {
                merged = session
            }
            return true
        }
        var session = merged ?? (time, time, Window(end: 0, aggregates: emptyAggregates))
        session.start = min(session.start, time)
        session.last = max(session.last, time)
        add(sign: sign, to: &session.window)
        let position = groupSessions.firstIndex { $0.start > session.start } ?? groupSessions.endIndex
        groupSessions.insert(session, at: position)
        nextSessionClose = min(nextSessionClose, session.last &+ gap)
    }

    /// Two sessions' aggregates combined (when an event bridges them).
    private func merge(_ a: AggregateState, _ b: AggregateState) -> AggregateState {
        switch (a, b) {
        case (.count(let x), .count(let y)): return .count(x + y)
        case (.sum(var x), .sum(let y)):
            x.merge(y)
            return .sum(x)
        case (.average(var x, let n), .average(let y, let m)):
            x.merge(y)
            return .average(x, n + m)
        case (.extreme(let isMinimum, var x), .extreme(_, let y)):
            for (number, count) in y {
                let total = x[number, default: 0] + count
                x[number] = total == 0 ? nil : total
            }
            return .extreme(isMinimum: isMinimum, counts: x)
        case (.distinct(var x), .distinct(let y)):
            if let sketch = y.sketch {
                var combined = x.sketch ?? HyperLogLog(precision: 12)
                for (hash, count) in x.exact where count > 0 { combined.insert(hash: hash) }
                combined.merge(sketch)
                x = DistinctCounter(exact: [:], sketch: combined)
            } else {
                for (hash, count) in y.exact { x.add(hash: hash, sign: count) }
            }
            return .distinct(x)
        default:
            return a
        }
    }

    // MARK: Closing

    private func closeWindows(into output: inout StepOutput) {
        let watermark = self.watermark
        while let end = openEnds.minimum, end <= watermark {
            openEnds.removeMinimum()
            // Same end: by group, so the order never depends on arrival or on a restart.
            for key in (openByEnd.removeValue(forKey: end) ?? []).sorted(by: { groupOrder($0.group, $1.group) }) {
                guard let window = open.removeValue(forKey: key) else { continue }
                output.events.append(result(key, window))
                retain(key, window, closedAt: end)
            }
        }
        if case .session(let gap) = definition.kind, nextSessionClose <= watermark {
            var next = Int64.max
            var emptied: [Int32] = []
            var closing: [(key: WindowKey, window: Window)] = []
            for (group, groupSessions) in sessions {
                var kept: [(start: Int64, last: Int64, window: Window)] = []
                for var session in groupSessions {
                    let end = session.last &+ gap
                    if end <= watermark {
                        session.window.end = end
                        closing.append((WindowKey(start: session.start, group: group), session.window))
                    } else {
                        kept.append(session)
                        next = min(next, end)
                    }
                }
                if kept.isEmpty { emptied.append(group) } else { sessions[group] = kept }
            }
            for group in emptied { sessions[group] = nil }
            // Session results come out in a fixed order (by end, start, group) whatever the dictionary order.
            closing.sort { a, b in
                if a.window.end != b.window.end { return a.window.end < b.window.end }
                if a.key.start != b.key.start { return a.key.start < b.key.start }
                return groupOrder(a.key.group, b.key.group)
            }
            for (key, window) in closing {
                output.events.append(result(key, window))
                retain(key, window, closedAt: window.end)
            }
            nextSessionClose = next
        }
        while let expiry = closedExpiries.minimum, expiry <= watermark {
            closedExpiries.removeMinimum()
            for key in closedByExpiry.removeValue(forKey: expiry) ?? [] { closed[key] = nil }
        }
    }

    private func retain(_ key: WindowKey, _ window: Window, closedAt end: Int64) {
        guard definition.retainClosedNs > 0 else { return }
        closed[key] = window
        let expiry = end &+ definition.retainClosedNs
        if closedByExpiry[expiry] == nil { closedExpiries.insert(expiry) }
        closedByExpiry[expiry, default: []].append(key)
    }

    /// A window's result record: group fields, window_start/window_end (in `time_unit`), the
    /// aggregates in their declared order, and its revision.
    private func result(_ key: WindowKey, _ window: Window) -> PipelineEvent {
        var writer = JSONWriter()
        writer.beginObject()
        let groupValues = extractor.groups.values[Int(key.group)]
        for (index, group) in definition.groupBy.enumerated() {
            writer.key(group.name)
            writer.raw(groupValues[index])
        }
        writer.key("window_start")
        writer.integer(floorDivide(key.start, definition.timeUnitNs))
        writer.key("window_end")
        writer.integer(floorDivide(window.end, definition.timeUnitNs))
        for (index, aggregate) in definition.aggregates.enumerated() {
            writer.key(aggregate.name)
            window.aggregates[index].write(to: &writer)
        }
        writer.key("revision")
        writer.integer(window.revision)
        writer.endObject()
        return PipelineEvent(key: extractor.groups.recordKeys[Int(key.group)], payload: writer.bytes,
                             headers: [QueueRecord.Header(name: PipelineHeaders.revision, value: Array(String(window.revision).utf8))],
                             eventTimeNs: key.start, isRevert: false)
    }

    /// A corrected result; it carries the result it replaces, so outputs that add up values (time
    /// series) can write the difference.
    private func correction(_ key: WindowKey, _ window: Window, previous: [UInt8]) -> PipelineEvent {
        var event = result(key, window)
        event.headers.append(QueueRecord.Header(name: PipelineHeaders.previousResult, value: previous))
        return event
    }

    // MARK: State

    func saveState(into writer: inout StateWriter) {
        writer.int(maxEventTime)
        func save(_ key: WindowKey, _ window: Window) {
            writer.int(key.start); writer.bytes(groupBytes(key.group)); writer.int(window.end); writer.int(window.revision)
            for aggregate in window.aggregates { aggregate.save(into: &writer) }
        }
        // Sorted, so that equal states encode to equal bytes.
        let byOrder: (WindowKey, WindowKey) -> Bool = { $0.start != $1.start ? $0.start < $1.start : self.groupOrder($0.group, $1.group) }
        writer.varint(UInt64(open.count))
        for key in open.keys.sorted(by: byOrder) { save(key, open[key]!) }
        writer.varint(UInt64(closed.count))
        for key in closed.keys.sorted(by: byOrder) { save(key, closed[key]!) }
        let sessionList = sessions.flatMap { group, list in list.map { (group, $0) } }
            .sorted { $0.1.start != $1.1.start ? $0.1.start < $1.1.start : groupOrder($0.0, $1.0) }
        writer.varint(UInt64(sessionList.count))
        for (group, session) in sessionList {
            writer.int(session.last)
            save(WindowKey(start: session.start, group: group), session.window)
        }
        // Added after the first format (older checkpoints end above): the late events each kept
        // window dropped, as (closed windows in the order above, then sessions) index → hash counts.
        var notes: [(Int, [(UInt64, Int64)])] = []
        for (index, key) in closed.keys.sorted(by: byOrder).enumerated() where !closed[key]!.lateDropped.isEmpty {
            notes.append((index, closed[key]!.lateDropped.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }))
        }
        for (index, (_, session)) in sessionList.enumerated() where !session.window.lateDropped.isEmpty {
            notes.append((closed.count + index, session.window.lateDropped.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }))
        }
        writer.varint(UInt64(notes.count))
        for (index, counts) in notes {
            writer.varint(UInt64(index))
            writer.varint(UInt64(counts.count))
            for (hash, count) in counts { writer.varint(hash); writer.int(count) }
        }
    }

    func loadState(from reader: inout StateReader) throws(StateDecodingError) {
        maxEventTime = try reader.int()
        func load() throws(StateDecodingError) -> (WindowKey, Window) {
            let start = try reader.int()
            let group = extractor.groups.intern(savedKey: try reader.bytes())
            guard extractor.groups.values[Int(group)].count == definition.groupBy.count else {
                throw StateDecodingError(message: "a window's group has \(extractor.groups.values[Int(group)].count) values, the definition \(definition.groupBy.count)")
            }
            let end = try reader.int()
            let revision = try reader.int()
            var aggregates: [AggregateState] = []
            for _ in definition.aggregates { aggregates.append(try AggregateState.load(from: &reader)) }
            return (WindowKey(start: start, group: group), Window(end: end, aggregates: aggregates, revision: revision))
        }
        open = [:]; openByEnd = [:]; openEnds = MinHeap(); closed = [:]; closedByExpiry = [:]; closedExpiries = MinHeap(); sessions = [:]
        for _ in 0..<(try reader.count()) {
            let (key, window) = try load()
            open[key] = window
            if openByEnd[window.end] == nil { openEnds.insert(window.end) }
            openByEnd[window.end, default: []].append(key)
        }
        var closedKeys: [WindowKey] = []
        for _ in 0..<(try reader.count()) {
            let (key, window) = try load()
            closedKeys.append(key)
            retain(key, window, closedAt: window.end)
        }
        nextSessionClose = .max
        var sessionKeys: [WindowKey] = []
        for _ in 0..<(try reader.count()) {
            let last = try reader.int()
            let (key, window) = try load()
            sessionKeys.append(key)
            sessions[key.group, default: []].append((key.start, last, window))
            if case .session(let gap) = definition.kind { nextSessionClose = min(nextSessionClose, last &+ gap) }
        }
        guard !reader.isAtEnd else { return }
        for _ in 0..<(try reader.count()) {
            let index = try reader.count()
            var counts: [UInt64: Int64] = [:]
            for _ in 0..<(try reader.count()) { counts[try reader.varint()] = try reader.int() }
            if index < closedKeys.count {
                closed[closedKeys[index]]?.lateDropped = counts
            } else if index - closedKeys.count < sessionKeys.count {
                let key = sessionKeys[index - closedKeys.count]
                if let position = sessions[key.group]?.firstIndex(where: { $0.start == key.start }) { sessions[key.group]![position].window.lateDropped = counts }
            } else {
                throw StateDecodingError(message: "late-event notes for window \(index) of \(closedKeys.count + sessionKeys.count)")
            }
        }
    }
}

@inline(__always)
func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
    let quotient = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? quotient - 1 : quotient
}

/// A binary min-heap of times (window ends, expiries).
struct MinHeap {
    private var items: [Int64] = []

    var minimum: Int64? { items.first }

    mutating func insert(_ value: Int64) {
        items.append(value)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child] < items[parent] else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func removeMinimum() {
        guard !items.isEmpty else { return }
        items.swapAt(0, items.count - 1)
        items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < items.count && items[left] < items[smallest] { smallest = left }
            if right < items.count && items[right] < items[smallest] { smallest = right }
            if smallest == parent { return }
            items.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
