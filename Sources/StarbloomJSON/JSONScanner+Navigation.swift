extension JSONScanner {
    /// Replaces `fields` with the members of `value`, an object found by an earlier scan of the same
    /// `bytes`. The walk trusts that validation and reports nothing, but never reads outside
    /// `value`'s range. Leaves `fields` empty when `value` is not an object.
    public static func members(of bytes: UnsafeRawBufferPointer, object value: JSONField, into fields: inout [JSONField]) {
        fields.removeAll(keepingCapacity: true)
        guard value.kind == .object, var walker = JSONWalker(bytes, value) else { return }
        while let member = walker.nextMember() { fields.append(member) }
    }

    /// Replaces `fields` with the elements of `value`, an array found by an earlier scan (key ranges
    /// are empty). Leaves `fields` empty when `value` is not an array.
    public static func elements(of bytes: UnsafeRawBufferPointer, array value: JSONField, into fields: inout [JSONField]) {
        fields.removeAll(keepingCapacity: true)
        guard value.kind == .array, var walker = JSONWalker(bytes, value) else { return }
        while let element = walker.nextElement() { fields.append(element) }
    }

    /// A walk over the elements of `array` (found by an earlier scan) that hands each object element
    /// over with its members, walking each byte once. nil when `array` is not an array.
    public static func elementWalk(of bytes: UnsafeRawBufferPointer, array: JSONField) -> JSONElementWalk? {
        guard array.kind == .array, let walker = JSONWalker(bytes, array) else { return nil }
        return JSONElementWalk(walker: walker)
    }

    /// The member of `object` named `key` (the last one when the key repeats, as in `lookup`),
    /// found by walking the object: nothing is allocated unless a key in it has escapes.
    public static func member(_ key: [UInt8], in object: JSONField, of bytes: UnsafeRawBufferPointer) -> JSONField? {
        guard object.kind == .object, var walker = JSONWalker(bytes, object) else { return nil }
        return key.withUnsafeBytes { key in
            var found: JSONField?
            while let member = walker.nextMember() {
                if keyEquals(bytes, member, key) { found = member }
            }
            return found
        }
    }

    /// Element `index` (0-based) of `array`, nil when out of range or `array` is not an array.
    public static func element(_ index: Int, in array: JSONField, of bytes: UnsafeRawBufferPointer) -> JSONField? {
        guard array.kind == .array, index >= 0, var walker = JSONWalker(bytes, array) else { return nil }
        var position = 0
        while let element = walker.nextElement() {
            if position == index { return element }
            position += 1
        }
        return nil
    }

    /// The number of members of an object or elements of an array; nil for other values.
    public static func count(of bytes: UnsafeRawBufferPointer, _ value: JSONField) -> Int? {
        guard var walker = JSONWalker(bytes, value) else { return nil }
        var count = 0
        switch value.kind {
        case .object: while walker.nextMember() != nil { count += 1 }
        case .array: while walker.nextElement() != nil { count += 1 }
        default: return nil
        }
        return count
    }

    /// The member named `key` among `fields` (an index of `bytes`). When a key occurs more than once
    /// the LAST occurrence wins, as in JavaScript's `JSON.parse`. Keys written with escapes
    /// (`"\u0061mount"`) are decoded before comparing; plain keys are compared as bytes.
    public static func lookup(_ bytes: UnsafeRawBufferPointer, fields: [JSONField], key: [UInt8]) -> JSONField? {
        key.withUnsafeBytes { lookup(bytes, fields: fields, key: $0) }
    }

    /// `lookup` with the key as raw UTF-8 bytes.
    public static func lookup(_ bytes: UnsafeRawBufferPointer, fields: [JSONField], key: UnsafeRawBufferPointer) -> JSONField? {
        var index = fields.count
        while index > 0 {
            index -= 1
            if keyEquals(bytes, fields[index], key) { return fields[index] }
        }
        return nil
    }

    /// The text of a string value with its escapes decoded (\uXXXX surrogate pairs joined, a lone
    /// surrogate becomes U+FFFD, invalid UTF-8 becomes U+FFFD). For any other kind of value: its raw
    /// JSON text.
    public static func decodeString(_ bytes: UnsafeRawBufferPointer, _ value: JSONField) -> String {
        guard value.valueEnd <= bytes.count, value.valueStart >= 0, value.valueStart <= value.valueEnd else { return "" }
        let isString = value.kind == .string && value.valueEnd - value.valueStart >= 2
        let start = Int(value.valueStart) + (isString ? 1 : 0)
        let end = Int(value.valueEnd) - (isString ? 1 : 0)
        guard isString, value.valueHasEscapes || contains(bytes, start, end, JSONByte.backslash) else {
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
        }
        var decoded: [UInt8] = []
        decoded.reserveCapacity(end - start)
        appendDecoded(bytes, start, end, to: &decoded)
        return String(decoding: decoded, as: UTF8.self)
    }

    // MARK: - Internals

    /// Whether the key of `field` (decoded if it has escapes) equals `key`.
    @inline(__always)
    static func keyEquals(_ bytes: UnsafeRawBufferPointer, _ field: JSONField, _ key: UnsafeRawBufferPointer) -> Bool {
        let start = Int(field.keyStart), end = Int(field.keyEnd)
        guard end <= bytes.count, start <= end else { return false }
        if !field.keyHasEscapes {
            return end - start == key.count && JSONBytes.equal(bytes.baseAddress! + start, key.baseAddress, key.count)
        }
        var decoded: [UInt8] = []
        appendDecoded(bytes, start, end, to: &decoded)
        return decoded.withUnsafeBytes { $0.count == key.count && JSONBytes.equal($0.baseAddress, key.baseAddress, key.count) }
    }

    private static func contains(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int, _ byte: UInt8) -> Bool {
        var k = start
        while k < end {
            if bytes[k] == byte { return true }
            k += 1
        }
        return false
    }

    /// Appends the UTF-8 of string text `bytes[start..<end]` (between the quotes) with escapes
    /// decoded. Malformed escapes (possible only in text that was never validated) are kept as-is.
    public static func appendDecoded(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int, to output: inout [UInt8]) {
        guard let base = bytes.baseAddress, start < end else { return }
        var runStart = start
        var k = start
        while k < end {
            guard base.load(fromByteOffset: k, as: UInt8.self) == JSONByte.backslash, k + 1 < end else {
                k += 1
                continue
            }
            output.append(contentsOf: UnsafeRawBufferPointer(start: base + runStart, count: k - runStart))
            let escape = base.load(fromByteOffset: k + 1, as: UInt8.self)
            var consumed = 2
            switch escape {
            case UInt8(ascii: "b"): output.append(0x08)
            case UInt8(ascii: "f"): output.append(0x0C)
            case UInt8(ascii: "n"): output.append(0x0A)
            case UInt8(ascii: "r"): output.append(0x0D)
            case UInt8(ascii: "t"): output.append(0x09)
            case UInt8(ascii: "u"):
                guard k + 6 <= end, let unit = JSONBytes.hexValue(base, k + 2, 4) else {
                    output.append(JSONByte.backslash)
                    consumed = 1
                    break
                }
                consumed = 6
                var scalar = unit
                if unit >= 0xD800 && unit <= 0xDBFF {
                    // A high surrogate counts only when a low one follows as the next escape.
                    if k + 12 <= end,
                       base.load(fromByteOffset: k + 6, as: UInt8.self) == JSONByte.backslash,
                       base.load(fromByteOffset: k + 7, as: UInt8.self) == UInt8(ascii: "u"),
                       let low = JSONBytes.hexValue(base, k + 8, 4), low >= 0xDC00 && low <= 0xDFFF {
                        scalar = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                        consumed = 12
                    } else {
                        scalar = 0xFFFD
                    }
                } else if unit >= 0xDC00 && unit <= 0xDFFF {
                    scalar = 0xFFFD
                }
                JSONBytes.appendUTF8(scalar, to: &output)
            default:
                output.append(escape) // \" \\ \/ (and, unvalidated, anything else)
            }
            k += consumed
            runStart = k
        }
        output.append(contentsOf: UnsafeRawBufferPointer(start: base + runStart, count: end - runStart))
    }
}

extension JSONBytes {
    /// Byte equality of two ranges of `count` bytes, eight at a time.
    @inline(__always)
    public static func equal(_ a: UnsafeRawPointer?, _ b: UnsafeRawPointer?, _ count: Int) -> Bool {
        guard count > 0, let a, let b else { return true }
        var k = 0
        while k + 8 <= count {
            if a.loadUnaligned(fromByteOffset: k, as: UInt64.self) != b.loadUnaligned(fromByteOffset: k, as: UInt64.self) { return false }
            k += 8
        }
        while k < count {
            if a.load(fromByteOffset: k, as: UInt8.self) != b.load(fromByteOffset: k, as: UInt8.self) { return false }
            k += 1
        }
        return true
    }

    /// Appends a Unicode scalar value (already free of surrogates) as UTF-8.
    static func appendUTF8(_ scalar: UInt32, to output: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            output.append(UInt8(scalar))
        case 0x80..<0x800:
            output.append(0xC0 | UInt8(scalar >> 6))
            output.append(0x80 | UInt8(scalar & 0x3F))
        case 0x800..<0x10000:
            output.append(0xE0 | UInt8(scalar >> 12))
            output.append(0x80 | UInt8((scalar >> 6) & 0x3F))
            output.append(0x80 | UInt8(scalar & 0x3F))
        default:
            output.append(0xF0 | UInt8(scalar >> 18))
            output.append(0x80 | UInt8((scalar >> 12) & 0x3F))
            output.append(0x80 | UInt8((scalar >> 6) & 0x3F))
            output.append(0x80 | UInt8(scalar & 0x3F))
        }
    }
}

/// See `JSONScanner.elementWalk(of:array:)`.
public struct JSONElementWalk {
    var walker: JSONWalker

    /// The next element, nil after the last; for an object, `members` receives its members (empty
    /// for any other kind).
    public mutating func next(members: inout [JSONField]) -> JSONField? {
        walker.nextElement(members: &members)
    }
}
