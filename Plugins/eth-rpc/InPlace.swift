import StarbloomJSON

/// Reads hex strings and quantities out of a scanned JSON answer without making Strings, and
/// appends them to payloads lowercased (so that nothing but hex digits from the node reaches a
/// payload). Every function returns nil/false when the value is not what it should be.
struct InPlace {
    let buffer: UnsafeRawBufferPointer

    /// The digits of a plain string value "0x…" (without quotes and prefix), nil if the value is not
    /// such a string (escapes are not expected in hex and refused).
    @inline(__always)
    func hexDigits(_ field: JSONField) -> Range<Int>? {
        hexScan(field)?.digits
    }

    /// `hexDigits`, and whether any digit is an uppercase letter. The check runs without a branch
    /// per byte (the digits of hashes are random: a branch per byte would mispredict half the time).
    @inline(__always)
    func hexScan(_ field: JSONField) -> (digits: Range<Int>, hasUpper: Bool)? {
        guard field.kind == .string, !field.valueHasEscapes else { return nil }
        let start = Int(field.valueStart) + 1, end = Int(field.valueEnd) - 1
        guard end - start >= 2, let base = buffer.baseAddress else { return nil }
        let p = base.assumingMemoryBound(to: UInt8.self)
        guard p[start] == UInt8(ascii: "0"), p[start + 1] == UInt8(ascii: "x") else { return nil }
        var bad: UInt8 = 0
        var upper: UInt8 = 0
        var i = start + 2
        while i < end {
            let c = p[i]
            let digit: UInt8 = c &- 48 < 10 ? 1 : 0
            let lower: UInt8 = c &- 97 < 6 ? 1 : 0
            let capital: UInt8 = c &- 65 < 6 ? 1 : 0
            bad |= (digit | lower | capital) ^ 1
            upper |= capital
            i += 1
        }
        return bad == 0 ? ((start + 2)..<end, upper != 0) : nil
    }

    /// Appends `"0x<digits lowercased>"` (with the quotes) if the value is 0x plus exactly `digits`
    /// hex digits (or, with `digits` nil, an even number of them: data). One copy of the whole
    /// string; the letters are lowered afterwards only if there is an uppercase one.
    @inline(__always)
    func appendHex(_ field: JSONField, digits: Int?, to out: inout [UInt8]) -> Bool {
        guard let (range, hasUpper) = hexScan(field) else { return false }
        if let digits { guard range.count == digits else { return false } } else { guard range.count % 2 == 0 else { return false } }
        let from = out.count
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[(range.lowerBound - 3)..<(range.upperBound + 1)]))
        if hasUpper {
            for k in (from + 3)..<(out.count - 1) where out[k] >= 65 && out[k] <= 70 { out[k] |= 0x20 }
        }
        return true
    }

    /// Whether the value is the string "0x<digits>" equal, ignoring case, to `expected` (lowercase,
    /// with its 0x).
    @inline(__always)
    func hexEquals(_ field: JSONField, _ expected: [UInt8]) -> Bool {
        guard let (range, hasUpper) = hexScan(field), range.count + 2 == expected.count, let base = buffer.baseAddress else { return false }
        if !hasUpper {
            return expected.withUnsafeBytes { JSONBytes.equal(base + range.lowerBound, $0.baseAddress! + 2, range.count) }
        }
        var k = 2
        for i in range {
            let c = buffer[i]
            if (c >= 65 && c <= 70 ? c | 0x20 : c) != expected[k] { return false }
            k += 1
        }
        return true
    }

    /// A QUANTITY of at most 64 bits (leading zeros tolerated).
    @inline(__always)
    func quantity(_ field: JSONField) -> UInt64? {
        guard let range = hexDigits(field), !range.isEmpty else { return nil }
        var value: UInt64 = 0
        var significant = 0
        for i in range {
            let c = buffer[i]
            let digit = UInt64(c <= 57 ? c &- 48 : (c | 0x20) &- 87)
            if significant > 0 || digit != 0 { significant += 1 }
            guard significant <= 16 else { return nil }
            value = value << 4 | digit
        }
        return value
    }

    /// Whether the member's key is `key` (plain bytes; keys with escapes never match).
    @inline(__always)
    func key(_ field: JSONField, is key: StaticString) -> Bool {
        let length = Int(field.keyEnd - field.keyStart)
        guard !field.keyHasEscapes, length == key.utf8CodeUnitCount else { return false }
        return JSONBytes.equal(buffer.baseAddress! + Int(field.keyStart), UnsafeRawPointer(key.utf8Start), length)
    }
}

extension Array where Element == UInt8 {
    @inline(__always)
    mutating func append(_ text: StaticString) {
        append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// `"0x…"` with the quotes: a quantity as nodes write it (no leading zeros).
    @inline(__always)
    mutating func appendQuantity(_ value: UInt64) {
        append(UInt8(ascii: "\""))
        append(UInt8(ascii: "0"))
        append(UInt8(ascii: "x"))
        if value == 0 {
            append(UInt8(ascii: "0"))
        } else {
            var shift = (63 - value.leadingZeroBitCount) / 4 * 4
            while shift >= 0 {
                let digit = UInt8((value >> UInt64(shift)) & 0xF)
                append(digit < 10 ? digit + 48 : digit + 87)
                shift -= 4
            }
        }
        append(UInt8(ascii: "\""))
    }
}
