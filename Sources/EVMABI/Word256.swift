/// A 256-bit word as four 64-bit limbs, most significant first: enough arithmetic for exact
/// decimal output (no Double anywhere).
struct Word256: Sendable, Hashable {
    var limbs: (UInt64, UInt64, UInt64, UInt64)

    init(_ l0: UInt64, _ l1: UInt64, _ l2: UInt64, _ l3: UInt64) {
        limbs = (l0, l1, l2, l3)
    }

    /// Big-endian, 32 bytes from `offset` (the caller has checked the bounds).
    init(_ bytes: [UInt8], at offset: Int) {
        func limb(_ start: Int) -> UInt64 {
            var value: UInt64 = 0
            for i in start..<(start + 8) { value = value << 8 | UInt64(bytes[i]) }
            return value
        }
        self.init(limb(offset), limb(offset + 8), limb(offset + 16), limb(offset + 24))
    }

    static func == (a: Word256, b: Word256) -> Bool {
        a.limbs.0 == b.limbs.0 && a.limbs.1 == b.limbs.1 && a.limbs.2 == b.limbs.2 && a.limbs.3 == b.limbs.3
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(limbs.0); hasher.combine(limbs.1); hasher.combine(limbs.2); hasher.combine(limbs.3)
    }

    var isZero: Bool { limbs.0 | limbs.1 | limbs.2 | limbs.3 == 0 }
    var isNegative: Bool { limbs.0 >> 63 == 1 }

    /// Two's complement negation (modulo 2^256).
    var negated: Word256 {
        var l3 = ~limbs.3, l2 = ~limbs.2, l1 = ~limbs.1, l0 = ~limbs.0
        var carry: Bool
        (l3, carry) = l3.addingReportingOverflow(1)
        if carry { (l2, carry) = l2.addingReportingOverflow(1) }
        if carry { (l1, carry) = l1.addingReportingOverflow(1) }
        if carry { l0 &+= 1 }
        return Word256(l0, l1, l2, l3)
    }

    /// Divides in place by `divisor`, returning the remainder.
    mutating func divide(by divisor: UInt64) -> UInt64 {
        var remainder: UInt64 = 0
        var quotient: UInt64
        (quotient, remainder) = divisor.dividingFullWidth((remainder, limbs.0)); limbs.0 = quotient
        (quotient, remainder) = divisor.dividingFullWidth((remainder, limbs.1)); limbs.1 = quotient
        (quotient, remainder) = divisor.dividingFullWidth((remainder, limbs.2)); limbs.2 = quotient
        (quotient, remainder) = divisor.dividingFullWidth((remainder, limbs.3)); limbs.3 = quotient
        return remainder
    }

    /// Appends the unsigned decimal digits.
    func writeUnsignedDecimal(to writer: inout JSONWriter) {
        if limbs.0 | limbs.1 | limbs.2 == 0 {
            writer.decimal(limbs.3)
            return
        }
        // 2^256 < 10^78: at most five chunks of 19 digits.
        let chunkBase: UInt64 = 10_000_000_000_000_000_000
        var value = self
        var chunks = InlineArray<5, UInt64>(repeating: 0)
        var count = 0
        while !value.isZero {
            chunks[count] = value.divide(by: chunkBase)
            count += 1
        }
        writer.decimal(chunks[count - 1])
        var index = count - 2
        while index >= 0 {
            writer.decimal(chunks[index], width: 19)
            index -= 1
        }
    }

    /// Appends the decimal digits of the word read as a two's complement signed integer.
    func writeSignedDecimal(to writer: inout JSONWriter) {
        if isNegative {
            writer.raw("-")
            negated.writeUnsignedDecimal(to: &writer)
        } else {
            writeUnsignedDecimal(to: &writer)
        }
    }

    /// The unsigned decimal text.
    var unsignedDecimal: String {
        var writer = JSONWriter(capacity: 80)
        writeUnsignedDecimal(to: &writer)
        return writer.text
    }

    /// The signed (two's complement) decimal text.
    var signedDecimal: String {
        var writer = JSONWriter(capacity: 80)
        writeSignedDecimal(to: &writer)
        return writer.text
    }
}
