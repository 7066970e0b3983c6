/// An unchecked walk through the members or elements of one container that a validating scan has
/// already accepted. It reports no errors, but every read stays inside the container's range, so a
/// wrong field can give wrong answers, never an out-of-bounds read.
struct JSONWalker {
    private let base: UnsafeRawPointer
    private var i: Int
    private let end: Int

    /// Positioned just inside `container`'s opening bracket; nil when the range is not inside `bytes`.
    init?(_ bytes: UnsafeRawBufferPointer, _ container: JSONField) {
        guard let base = bytes.baseAddress, container.valueStart >= 0, container.valueStart < container.valueEnd,
              Int(container.valueEnd) <= bytes.count else { return nil }
        self.base = base
        i = Int(container.valueStart) + 1
        end = Int(container.valueEnd) - 1 // the closing bracket
    }

    /// The next member of an object, nil after the last.
    mutating func nextMember() -> JSONField? {
        skipSeparator()
        guard i < end, byte(i) == JSONByte.quote else { return nil }
        let keyStart = i + 1
        let keyEscaped = skipString()
        let keyEnd = i - 1
        skipWhitespace()
        guard i < end, byte(i) == JSONByte.colon else { return nil }
        i += 1
        skipWhitespace()
        return value(keyStart: keyStart, keyEnd: keyEnd, keyEscaped: keyEscaped)
    }

    /// The next element of an array; when it is an object, `members` receives its members, found in
    /// the same walk that finds the object's end (each byte is walked once, not twice as with
    /// `nextElement` then a walk of the object). nil after the last element.
    mutating func nextElement(members: inout [JSONField]) -> JSONField? {
        members.removeAll(keepingCapacity: true)
        skipSeparator()
        guard i < end else { return nil }
        guard byte(i) == JSONByte.openBrace else { return value(keyStart: i, keyEnd: i, keyEscaped: false) }
        let start = i
        var inner = self
        inner.i = start + 1
        while let member = inner.nextMember() { members.append(member) }
        inner.skipWhitespace()
        guard inner.i < end, inner.byte(inner.i) == JSONByte.closeBrace else {
            // Not what a validated object looks like: walk it the ordinary way.
            members.removeAll(keepingCapacity: true)
            return value(keyStart: i, keyEnd: i, keyEscaped: false)
        }
        i = inner.i + 1
        return JSONField(keyStart: Int32(truncatingIfNeeded: start), keyEnd: Int32(truncatingIfNeeded: start),
                         valueStart: Int32(truncatingIfNeeded: start), valueEnd: Int32(truncatingIfNeeded: i), kind: .object)
    }

    /// The next element of an array, nil after the last.
    mutating func nextElement() -> JSONField? {
        skipSeparator()
        return value(keyStart: i, keyEnd: i, keyEscaped: false)
    }

    private mutating func value(keyStart: Int, keyEnd: Int, keyEscaped: Bool) -> JSONField? {
        guard i < end else { return nil }
        let start = i
        var escaped = false
        let kind: JSONKind
        switch byte(i) {
        case JSONByte.quote:
            escaped = skipString()
            kind = .string
        case JSONByte.openBrace, JSONByte.openBracket:
            kind = byte(i) == JSONByte.openBrace ? .object : .array
            skipContainer()
        case UInt8(ascii: "t"):
            kind = .trueValue
            skipScalar()
        case UInt8(ascii: "f"):
            kind = .falseValue
            skipScalar()
        case UInt8(ascii: "n"):
            kind = .null
            skipScalar()
        default:
            kind = .number
            skipScalar()
        }
        return JSONField(keyStart: Int32(truncatingIfNeeded: keyStart), keyEnd: Int32(truncatingIfNeeded: keyEnd), keyHasEscapes: keyEscaped,
                         valueStart: Int32(truncatingIfNeeded: start), valueEnd: Int32(truncatingIfNeeded: i), kind: kind, valueHasEscapes: escaped)
    }

    @inline(__always)
    private func byte(_ offset: Int) -> UInt8 { base.load(fromByteOffset: offset, as: UInt8.self) }

    @inline(__always)
    private mutating func skipWhitespace() {
        while i < end {
            let c = byte(i)
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
            i += 1
        }
    }

    /// Whitespace and at most one comma.
    @inline(__always)
    private mutating func skipSeparator() {
        skipWhitespace()
        if i < end && byte(i) == JSONByte.comma {
            i += 1
            skipWhitespace()
        }
    }

    /// From an opening quote to just past the closing one; true when a backslash was seen.
    private mutating func skipString() -> Bool {
        i += 1
        var escaped = false
        while i < end {
            while i + 8 <= end && !JSONBytes.hasQuoteOrBackslash(base.loadUnaligned(fromByteOffset: i, as: UInt64.self)) {
                i += 8
            }
            guard i < end else { break }
            let c = byte(i)
            if c == JSONByte.quote {
                i += 1
                return escaped
            }
            if c == JSONByte.backslash {
                escaped = true
                i += 2
            } else {
                i += 1
            }
        }
        i = min(i, end)
        return escaped
    }

    private mutating func skipContainer() {
        var depth = 0
        while i < end {
            let c = byte(i)
            if c == JSONByte.quote {
                _ = skipString()
                continue
            }
            if c == JSONByte.openBrace || c == JSONByte.openBracket {
                depth += 1
            } else if c == JSONByte.closeBrace || c == JSONByte.closeBracket {
                depth -= 1
                if depth == 0 {
                    i += 1
                    return
                }
            }
            i += 1
        }
    }

    /// A number or literal: up to the next separator, bracket or whitespace.
    private mutating func skipScalar() {
        while i < end {
            switch byte(i) {
            case JSONByte.comma, JSONByte.closeBrace, JSONByte.closeBracket, 0x20, 0x0A, 0x0D, 0x09: return
            default: i += 1
            }
        }
    }
}
