/// Percent-decoding of path segments, without Foundation: `removingPercentEncoding` bridges
/// through NSString and cost about 5% of a key-value GET. A segment with no `%` (the usual case)
/// is returned as it is.
enum PercentDecoding {
    /// The decoded bytes, or nil when a `%` is not followed by two hex digits.
    static func bytes(_ segment: Substring) -> [UInt8]? {
        let utf8 = segment.utf8
        guard utf8.contains(UInt8(ascii: "%")) else { return Array(utf8) }
        var result: [UInt8] = []
        result.reserveCapacity(utf8.count)
        var index = utf8.startIndex
        while index != utf8.endIndex {
            let byte = utf8[index]
            utf8.formIndex(after: &index)
            guard byte == UInt8(ascii: "%") else { result.append(byte); continue }
            guard index != utf8.endIndex, let high = hexValue(utf8[index]) else { return nil }
            utf8.formIndex(after: &index)
            guard index != utf8.endIndex, let low = hexValue(utf8[index]) else { return nil }
            utf8.formIndex(after: &index)
            result.append(high << 4 | low)
        }
        return result
    }

    /// The decoded text, or nil when the escapes are malformed or decode to invalid UTF-8.
    static func string(_ segment: Substring) -> String? {
        guard segment.utf8.contains(UInt8(ascii: "%")) else { return String(segment) }
        return bytes(segment).flatMap { String(validating: $0, as: UTF8.self) }
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
