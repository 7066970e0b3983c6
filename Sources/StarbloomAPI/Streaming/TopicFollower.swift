import StarbloomCore

/// Follows the topics a subscription selects (SSE streams and WebSocket subscriptions): each call to
/// `poll` returns the records published since the last one, at most a page per partition, and
/// advances `position`. Topics created after the start are followed from their first record.
struct TopicFollower {
    let follows: @Sendable (String) -> Bool
    private(set) var position: StreamPosition
    static let pageSize = 100

    /// Starts at `position` when given (a resume), else at the end (`fromEarliest`: the oldest
    /// retained record) of every topic that exists now.
    init(queue: any MessageQueue, follows: @escaping @Sendable (String) -> Bool, resumeAt: StreamPosition?, fromEarliest: Bool) {
        self.follows = follows
        if let resumeAt {
            position = resumeAt
            return
        }
        position = StreamPosition()
        for topic in queue.topics() where follows(topic.name) {
            for partition in topic.partitions {
                position.next[.init(topic: topic.name, partition: partition.partition)] = fromEarliest ? partition.firstOffset : partition.nextOffset
            }
        }
    }

    /// The topics a subscription follows: those matching one of `patterns` (comma-separated) and,
    /// with a key, the key's own patterns. The problem names the first invalid pattern.
    static func selection(_ patterns: String, key: APIKey?) -> Result<@Sendable (String) -> Bool, Problem> {
        let requested = patterns.split(separator: ",").map(String.init)
        for pattern in requested {
            if let problem = TopicName.patternProblem(pattern) { return .failure(Problem.badRequest(problem)) }
        }
        return .success { topic in
            requested.contains { TopicName.matches(pattern: $0, topic: topic) } && (key?.allows(topic: topic) ?? true)
        }
    }

    enum Arrival { case next, duplicate, gap }

    /// A record the live feed delivered: the next one of its partition (the position moves past
    /// it), one already delivered, or one beyond a gap (read the log first).
    mutating func accept(_ record: QueueRecord) -> Arrival {
        let key = StreamPosition.Key(topic: record.topic, partition: record.partition)
        guard let next = position.next[key] else { return .gap } // a partition not read yet: from the log
        if record.offset < next { return .duplicate }
        if record.offset > next { return .gap }
        position.next[key] = next + 1
        return .next
    }

    /// New records with the position after each (what a client resumes from).
    mutating func poll(_ queue: any MessageQueue) -> [(record: QueueRecord, position: StreamPosition)] {
        var result: [(record: QueueRecord, position: StreamPosition)] = []
        for topic in queue.topics() where follows(topic.name) {
            for partition in topic.partitions {
                let key = StreamPosition.Key(topic: topic.name, partition: partition.partition)
                let offset = position.next[key] ?? partition.firstOffset
                guard offset < partition.nextOffset else {
                    position.next[key] = offset
                    continue
                }
                let records: [QueueRecord]
                do throws(QueueError) {
                    records = try queue.read(topic: topic.name, partition: partition.partition, from: offset, limit: Self.pageSize)
                } catch {
                    continue // retention may have moved the start; the next poll reads from the oldest
                }
                for record in records {
                    position.next[key] = record.offset + 1
                    result.append((record, position))
                }
            }
        }
        return result
    }
}
