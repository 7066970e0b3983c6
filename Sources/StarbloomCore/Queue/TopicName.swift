/// Topic names and subscription patterns.
///
/// A topic is dot-separated segments of [A-Za-z0-9_-], at most 255 bytes: `eth.mainnet.logs`.
/// A pattern may use `*` for exactly one segment and a final `>` for one or more remaining segments.
public enum TopicName {
    public static let maxLength = 255

    /// nil when valid, otherwise what is wrong.
    public static func problem(with name: String) -> String? {
        Array(name.utf8).withUnsafeBufferPointer { problem(with: $0, text: name) }
    }

    static func problem(with bytes: UnsafeBufferPointer<UInt8>, text: @autoclosure () -> String) -> String? {
        if bytes.isEmpty { return "topic name is empty" }
        if bytes.count > maxLength { return "topic name is \(bytes.count) bytes (at most \(maxLength))" }
        var segmentLength = 0
        for byte in bytes {
            if byte == 0x2E {
                if segmentLength == 0 { return "topic name '\(text())' has an empty segment" }
                segmentLength = 0
                continue
            }
            let ok = (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A)
                || (byte >= 0x30 && byte <= 0x39) || byte == 0x5F || byte == 0x2D
            if !ok { return "topic name '\(text())' contains '\(Character(Unicode.Scalar(byte)))'; use letters, digits, '_', '-' and '.' between segments" }
            segmentLength += 1
        }
        if segmentLength == 0 { return "topic name '\(text())' has an empty segment" }
        return nil
    }

    /// nil when the pattern is valid.
    public static func patternProblem(_ pattern: String) -> String? {
        let segments = pattern.split(separator: ".", omittingEmptySubsequences: false)
        if pattern.isEmpty { return "topic pattern is empty" }
        for (index, segment) in segments.enumerated() {
            if segment == "*" { continue }
            if segment == ">" {
                if index != segments.count - 1 { return "in topic pattern '\(pattern)', '>' must be the last segment" }
                continue
            }
            if let problem = problem(with: String(segment)) {
                return "topic pattern '\(pattern)': \(problem)"
            }
        }
        return nil
    }

    /// Whether `topic` matches `pattern` (`*` one segment, trailing `>` one or more segments).
    public static func matches(pattern: String, topic: String) -> Bool {
        let p = pattern.split(separator: ".", omittingEmptySubsequences: false)
        let t = topic.split(separator: ".", omittingEmptySubsequences: false)
        var i = 0
        while i < p.count {
            if p[i] == ">" { return t.count > i }
            if i >= t.count { return false }
            if p[i] != "*" && p[i] != t[i] { return false }
            i += 1
        }
        return i == t.count
    }
}
