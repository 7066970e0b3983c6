/// An exact unsigned 256-bit integer, for token amounts (EVM `uint256`).
///
/// Amounts never pass through `Double`: they are parsed from decimal or hex text, or from a 32-byte
/// big-endian EVM word, and printed back exactly. `doubleValue` exists for charts and estimates only.
///
/// Storage is four 64-bit limbs, least significant first. Arithmetic reports overflow rather than
/// trapping, because the operands come from outside data.
public struct UInt256: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var w0, w1, w2, w3: UInt64

    public init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        self.w0 = w0
        self.w1 = w1
        self.w2 = w2
        self.w3 = w3
    }

    public init(_ value: UInt64) {
        self.init(w0: value, w1: 0, w2: 0, w3: 0)
    }

    public static let zero = UInt256(w0: 0, w1: 0, w2: 0, w3: 0)
    public static let max = UInt256(w0: .max, w1: .max, w2: .max, w3: .max)

    public var isZero: Bool { (w0 | w1 | w2 | w3) == 0 }

    /// True when the value fits in `w0` alone.
    var fitsInUInt64: Bool { (w1 | w2 | w3) == 0 }

    /// Limb `index` (0 = least significant). With a constant index the switch folds away.
    subscript(limb index: Int) -> UInt64 {
        get {
            switch index {
            case 0: return w0
            case 1: return w1
            case 2: return w2
            default: return w3
            }
        }
        set {
            switch index {
            case 0: w0 = newValue
            case 1: w1 = newValue
            case 2: w2 = newValue
            default: w3 = newValue
            }
        }
    }

    public var leadingZeroBitCount: Int {
        if w3 != 0 { return w3.leadingZeroBitCount }
        if w2 != 0 { return 64 + w2.leadingZeroBitCount }
        if w1 != 0 { return 128 + w1.leadingZeroBitCount }
        return 192 + w0.leadingZeroBitCount
    }

    public static func < (a: UInt256, b: UInt256) -> Bool {
        if a.w3 != b.w3 { return a.w3 < b.w3 }
        if a.w2 != b.w2 { return a.w2 < b.w2 }
        if a.w1 != b.w1 { return a.w1 < b.w1 }
        return a.w0 < b.w0
    }
}

// MARK: - Arithmetic

extension UInt256 {
    public func addingReportingOverflow(_ other: UInt256) -> (partialValue: UInt256, overflow: Bool) {
        let (s0, c0) = w0.addingReportingOverflow(other.w0)
        let (t1, c1a) = w1.addingReportingOverflow(other.w1)
        let (s1, c1b) = t1.addingReportingOverflow(c0 ? 1 : 0)
        let (t2, c2a) = w2.addingReportingOverflow(other.w2)
        let (s2, c2b) = t2.addingReportingOverflow((c1a || c1b) ? 1 : 0)
        let (t3, c3a) = w3.addingReportingOverflow(other.w3)
        let (s3, c3b) = t3.addingReportingOverflow((c2a || c2b) ? 1 : 0)
        return (UInt256(w0: s0, w1: s1, w2: s2, w3: s3), c3a || c3b)
    }

    public func subtractingReportingOverflow(_ other: UInt256) -> (partialValue: UInt256, overflow: Bool) {
        let (d0, b0) = w0.subtractingReportingOverflow(other.w0)
        let (t1, b1a) = w1.subtractingReportingOverflow(other.w1)
        let (d1, b1b) = t1.subtractingReportingOverflow(b0 ? 1 : 0)
        let (t2, b2a) = w2.subtractingReportingOverflow(other.w2)
        let (d2, b2b) = t2.subtractingReportingOverflow((b1a || b1b) ? 1 : 0)
        let (t3, b3a) = w3.subtractingReportingOverflow(other.w3)
        let (d3, b3b) = t3.subtractingReportingOverflow((b2a || b2b) ? 1 : 0)
        return (UInt256(w0: d0, w1: d1, w2: d2, w3: d3), b3a || b3b)
    }

    /// Schoolbook multiplication keeping the low 256 bits; `overflow` is true when any product bit
    /// landed above them.
    public func multipliedReportingOverflow(by other: UInt256) -> (partialValue: UInt256, overflow: Bool) {
        var result = UInt256.zero
        var overflow = false
        for i in 0..<4 {
            let a = self[limb: i]
            if a == 0 { continue }
            var carry: UInt64 = 0
            for j in 0..<(4 - i) {
                // a*b + r + carry <= (2^64-1)^2 + 2(2^64-1) = 2^128-1, so the new carry fits.
                let (high, low) = a.multipliedFullWidth(by: other[limb: j])
                let (s1, o1) = low.addingReportingOverflow(result[limb: i + j])
                let (s2, o2) = s1.addingReportingOverflow(carry)
                result[limb: i + j] = s2
                carry = high &+ (o1 ? 1 : 0) &+ (o2 ? 1 : 0)
            }
            if carry != 0 { overflow = true }
            for j in (4 - i)..<4 where other[limb: j] != 0 { overflow = true }
        }
        return (result, overflow)
    }

    /// Division by a 64-bit divisor, one `dividingFullWidth` per limb. Precondition: divisor non-zero.
    public func quotientAndRemainder(dividingBy divisor: UInt64) -> (quotient: UInt256, remainder: UInt64) {
        precondition(divisor != 0, "UInt256 division by zero")
        var remainder: UInt64 = 0
        var quotient = UInt256.zero
        for i in stride(from: 3, through: 0, by: -1) {
            // remainder < divisor, so the quotient of (remainder, limb) / divisor fits in 64 bits.
            let (q, r) = divisor.dividingFullWidth((high: remainder, low: self[limb: i]))
            quotient[limb: i] = q
            remainder = r
        }
        return (quotient, remainder)
    }

    /// Shift-and-subtract long division; a 64-bit divisor takes the fast path above.
    /// Precondition: divisor non-zero.
    public func quotientAndRemainder(dividingBy divisor: UInt256) -> (quotient: UInt256, remainder: UInt256) {
        precondition(!divisor.isZero, "UInt256 division by zero")
        if divisor.fitsInUInt64 {
            let (q, r) = quotientAndRemainder(dividingBy: divisor.w0)
            return (q, UInt256(r))
        }
        if self < divisor { return (.zero, self) }
        let shift = divisor.leadingZeroBitCount - leadingZeroBitCount
        var shifted = divisor << shift
        var remainder = self
        var quotient = UInt256.zero
        for bit in stride(from: shift, through: 0, by: -1) {
            if remainder >= shifted {
                remainder = remainder.subtractingReportingOverflow(shifted).partialValue
                quotient[limb: bit >> 6] |= 1 << UInt64(bit & 63)
            }
            shifted = shifted >> 1
        }
        return (quotient, remainder)
    }

    /// Logical shift left; bits shifted past bit 255 are lost. A negative amount shifts right.
    public static func << (value: UInt256, amount: Int) -> UInt256 {
        if amount < 0 { return value >> (0 - amount) }
        if amount >= 256 { return .zero }
        let limbs = amount >> 6
        let bits = UInt64(amount & 63)
        var result = UInt256.zero
        for i in limbs..<4 {
            var limb = value[limb: i - limbs] &<< bits
            if bits != 0 && i - limbs - 1 >= 0 {
                limb |= value[limb: i - limbs - 1] &>> (64 - bits)
            }
            result[limb: i] = limb
        }
        return result
    }

    /// Logical shift right. A negative amount shifts left.
    public static func >> (value: UInt256, amount: Int) -> UInt256 {
        if amount < 0 { return value << (0 - amount) }
        if amount >= 256 { return .zero }
        let limbs = amount >> 6
        let bits = UInt64(amount & 63)
        var result = UInt256.zero
        for i in 0..<(4 - limbs) {
            var limb = value[limb: i + limbs] &>> bits
            if bits != 0 && i + limbs + 1 < 4 {
                limb |= value[limb: i + limbs + 1] &<< (64 - bits)
            }
            result[limb: i] = limb
        }
        return result
    }
}

// MARK: - Parsing

extension UInt256 {
    /// Parses decimal digits: no sign, no whitespace, no leading '+'; leading zeros are allowed.
    /// nil when empty, on any non-digit, or when the value exceeds 2^256-1.
    ///
    /// The hot path: no allocation. Digits are read 19 at a time into a UInt64 (eight at a time
    /// with SWAR), and each chunk is folded in with one multiply-add by 10^19.
    public init?(decimalUTF8 bytes: UnsafeRawBufferPointer) {
        let count = bytes.count
        guard count > 0, let base = bytes.baseAddress else { return nil }
        // The first chunk takes the odd digits so every later chunk is exactly 19 long.
        var first = count % 19
        if first == 0 { first = 19 }
        guard let head = Self.parseDigits(base, count: first) else { return nil }
        var w0 = head, w1: UInt64 = 0, w2: UInt64 = 0, w3: UInt64 = 0
        var offset = first
        while offset < count {
            guard let chunk = Self.parseDigits(base + offset, count: 19) else { return nil }
            offset += 19
            let scale: UInt64 = 10_000_000_000_000_000_000
            // The high half of a 64x64 product is at most 2^64-2, so `high + 1` cannot overflow.
            var (high, low) = w0.multipliedFullWidth(by: scale)
            var (sum, carried) = low.addingReportingOverflow(chunk)
            w0 = sum
            var carry = high &+ (carried ? 1 : 0)
            (high, low) = w1.multipliedFullWidth(by: scale)
            (sum, carried) = low.addingReportingOverflow(carry)
            w1 = sum
            carry = high &+ (carried ? 1 : 0)
            (high, low) = w2.multipliedFullWidth(by: scale)
            (sum, carried) = low.addingReportingOverflow(carry)
            w2 = sum
            carry = high &+ (carried ? 1 : 0)
            (high, low) = w3.multipliedFullWidth(by: scale)
            (sum, carried) = low.addingReportingOverflow(carry)
            w3 = sum
            if high != 0 || carried { return nil }
        }
        self.init(w0: w0, w1: w1, w2: w2, w3: w3)
    }

    /// Parses 0...19 ASCII digits at `base`; nil on a non-digit.
    @inline(__always)
    static func parseDigits(_ base: UnsafeRawPointer, count: Int) -> UInt64? {
        var value: UInt64 = 0
        var offset = 0
        while count - offset >= 8 {
            guard let eight = parseEightDigits(base + offset) else { return nil }
            value = value &* 100_000_000 &+ eight
            offset += 8
        }
        while offset < count {
            let digit = base.load(fromByteOffset: offset, as: UInt8.self) &- 0x30
            if digit > 9 { return nil }
            value = value &* 10 &+ UInt64(digit)
            offset += 1
        }
        return value
    }

    /// Eight ASCII digits in one 64-bit word: validate every byte, then combine neighbours into
    /// pairs, pairs into fours, fours into eight (three multiplies instead of eight).
    @inline(__always)
    static func parseEightDigits(_ base: UnsafeRawPointer) -> UInt64? {
        // Little-endian load: the first (most significant) digit sits in the lowest byte.
        let word = UInt64(littleEndian: base.loadUnaligned(as: UInt64.self))
        // A byte is a digit when its high nibble is 3 and adding 6 keeps it 3 (low nibble <= 9).
        // A carry out of one byte can only come from a byte that already failed the first test.
        let highNibbles = word & 0xF0F0_F0F0_F0F0_F0F0
        let plusSix = (word &+ 0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0
        guard highNibbles | (plusSix >> 4) == 0x3333_3333_3333_3333 else { return nil }
        var v = word & 0x0F0F_0F0F_0F0F_0F0F
        // byte k = 10*d[k] + d[k+1]; keep even bytes: four 16-bit lanes of two digits.
        v = (v &* 10 &+ (v >> 8)) & 0x00FF_00FF_00FF_00FF
        // two 32-bit lanes of four digits.
        v = (v &* 100 &+ (v >> 16)) & 0x0000_FFFF_0000_FFFF
        // one value of eight digits.
        return (v &* 10_000 &+ (v >> 32)) & 0xFFFF_FFFF
    }

    public init?(decimal text: some StringProtocol) {
        guard let value = Self.withUTF8(text, { UInt256(decimalUTF8: $0) }) else { return nil }
        self = value
    }

    /// Parses "0x"/"0X" followed by 1...64 hex digits in any case. More digits are accepted only
    /// when the extra ones are leading zeros. nil otherwise.
    public init?(hexUTF8 bytes: UnsafeRawBufferPointer) {
        let count = bytes.count
        guard count >= 3, bytes[0] == 0x30, bytes[1] == 0x78 || bytes[1] == 0x58 else { return nil }
        var start = 2
        while start < count - 1 && bytes[start] == 0x30 { start += 1 }
        guard count - start <= 64 else { return nil }
        var value = UInt256.zero
        var position = 0
        var index = count - 1
        while index >= start {
            guard let nibble = Self.hexValue(bytes[index]) else { return nil }
            value[limb: position >> 4] |= UInt64(nibble) &<< UInt64((position & 15) << 2)
            position += 1
            index -= 1
        }
        self = value
    }

    @inline(__always)
    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte &- 0x30
        case 0x61...0x66: return byte &- 0x61 &+ 10
        case 0x41...0x46: return byte &- 0x41 &+ 10
        default: return nil
        }
    }

    public init?(hex text: some StringProtocol) {
        guard let value = Self.withUTF8(text, { UInt256(hexUTF8: $0) }) else { return nil }
        self = value
    }

    /// Decimal, or hex when the text starts with "0x"/"0X".
    public init?(_ text: some StringProtocol) {
        let parsed = Self.withUTF8(text) { bytes -> UInt256? in
            if bytes.count >= 2 && bytes[0] == 0x30 && (bytes[1] == 0x78 || bytes[1] == 0x58) {
                return UInt256(hexUTF8: bytes)
            }
            return UInt256(decimalUTF8: bytes)
        }
        guard let parsed else { return nil }
        self = parsed
    }

    /// Runs `body` over the text's UTF-8 bytes, copying only when the text is not contiguous.
    static func withUTF8<R>(_ text: some StringProtocol, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        if let result = text.utf8.withContiguousStorageIfAvailable({ body(UnsafeRawBufferPointer($0)) }) {
            return result
        }
        return Array(text.utf8).withUnsafeBytes(body)
    }
}

// MARK: - EVM words

extension UInt256 {
    /// Reads a 32-byte big-endian EVM word. Precondition: `bytes.count == 32`.
    public init(bigEndianBytes bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count == 32, "a UInt256 word is 32 bytes")
        self.init(
            w0: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 24, as: UInt64.self)),
            w1: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
            w2: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
            w3: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        )
    }

    /// The 32-byte big-endian EVM word.
    public var bigEndianBytes: [UInt8] {
        [UInt8](unsafeUninitializedCapacity: 32) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            raw.storeBytes(of: w3.bigEndian, toByteOffset: 0, as: UInt64.self)
            raw.storeBytes(of: w2.bigEndian, toByteOffset: 8, as: UInt64.self)
            raw.storeBytes(of: w1.bigEndian, toByteOffset: 16, as: UInt64.self)
            raw.storeBytes(of: w0.bigEndian, toByteOffset: 24, as: UInt64.self)
            initialized = 32
        }
    }
}

// MARK: - Printing and conversion

extension UInt256 {
    /// Decimal text.
    public var description: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(78)
        appendDecimal(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the decimal ASCII digits (at most 78) to `bytes`, without building a String.
    /// Works in chunks of 19 digits: one 256-by-64-bit division per chunk.
    public func appendDecimal(to bytes: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 80) { buffer in
            var position = buffer.count
            var rest = self
            while true {
                var chunk: UInt64
                if rest.fitsInUInt64 {
                    chunk = rest.w0
                    repeat {
                        position -= 1
                        buffer[position] = 0x30 &+ UInt8(truncatingIfNeeded: chunk % 10)
                        chunk /= 10
                    } while chunk != 0
                    break
                }
                (rest, chunk) = rest.quotientAndRemainder(dividingBy: 10_000_000_000_000_000_000)
                for _ in 0..<19 {
                    position -= 1
                    buffer[position] = 0x30 &+ UInt8(truncatingIfNeeded: chunk % 10)
                    chunk /= 10
                }
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[position...]))
        }
    }

    /// "0x" and the minimal lowercase hex digits; "0x0" for zero.
    public var hexDescription: String {
        let digits = Swift.max(1, (256 - leadingZeroBitCount + 3) / 4)
        let bytes = [UInt8](unsafeUninitializedCapacity: digits + 2) { buffer, initialized in
            buffer[0] = 0x30
            buffer[1] = 0x78
            for k in 0..<digits {
                let nibble = UInt8(truncatingIfNeeded: self[limb: k >> 4] &>> UInt64((k & 15) << 2)) & 0xF
                buffer[digits + 1 - k] = nibble < 10 ? 0x30 &+ nibble : 0x57 &+ nibble
            }
            initialized = digits + 2
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The nearest Double (ties to even). For display and estimates, never for amounts.
    public var doubleValue: Double {
        let bits = 256 - leadingZeroBitCount
        if bits <= 64 { return Double(w0) }
        let shift = bits - 64
        let top = (self >> shift).w0
        // Bits below the top 64 only matter as a sticky bit; folding it into bit 0 (well below the
        // 53-bit rounding point) lets the exact UInt64 -> Double conversion round correctly.
        let sticky: UInt64 = (self << (256 - shift)).isZero ? 0 : 1
        return Double(sign: .plus, exponent: shift, significand: Double(top | sticky))
    }
}
