import Testing
@testable import StarbloomCore

@Suite("UInt256, stable hash and HyperLogLog")
struct UInt256Tests {
    static let twoTo64 = UInt256(w0: 0, w1: 1, w2: 0, w3: 0)
    static let twoTo128 = UInt256(w0: 0, w1: 0, w2: 1, w3: 0)
    static let maxDecimal = "115792089237316195423570985008687907853269984665640564039457584007913129639935"

    /// A random value whose size varies, so that short, long and boundary limbs all show up.
    static func random(_ generator: inout SplitMix64) -> UInt256 {
        let value = UInt256(w0: generator.next(), w1: generator.next(), w2: generator.next(), w3: generator.next())
        return value >> Int(generator.next() % 256)
    }

    static func parse(_ text: String) -> UInt256? {
        Array(text.utf8).withUnsafeBytes { UInt256(decimalUTF8: $0) }
    }

    // MARK: Parsing and printing

    @Test("decimal text round-trips at the limb and range boundaries")
    func decimalBoundaries() {
        let cases: [(String, UInt256)] = [
            ("0", .zero),
            ("1", UInt256(1)),
            ("18446744073709551615", UInt256(.max)),
            ("18446744073709551616", Self.twoTo64),
            ("340282366920938463463374607431768211456", Self.twoTo128),
            ("10000000000000000000", UInt256(10_000_000_000_000_000_000)),
            ("9999999999999999999", UInt256(9_999_999_999_999_999_999)),
            (Self.maxDecimal, .max),
        ]
        for (text, value) in cases {
            #expect(Self.parse(text) == value, "parse \(text)")
            #expect(UInt256(decimal: text) == value)
            #expect(UInt256(text) == value)
            #expect(value.description == text)
            var bytes: [UInt8] = [0x41]
            value.appendDecimal(to: &bytes)
            #expect(bytes == [0x41] + Array(text.utf8))
        }
        #expect(Self.maxDecimal.utf8.count == 78)
    }

    @Test("decimal parsing refuses overflow, non-digits and empty text, and allows leading zeros")
    func decimalRejects() {
        // 2^256 and any 79-digit value without leading zeros overflow.
        #expect(Self.parse("115792089237316195423570985008687907853269984665640564039457584007913129639936") == nil)
        #expect(Self.parse("1" + String(repeating: "0", count: 78)) == nil)
        #expect(Self.parse(String(repeating: "9", count: 79)) == nil)
        #expect(Self.parse(String(repeating: "9", count: 200)) == nil)
        for bad in ["", "-1", "+1", " 1", "1 ", "12a", "0x10", "1.5", "1_000", "１"] {
            #expect(Self.parse(bad) == nil, "\(bad)")
        }
        // A bad byte in every position of a 19-digit chunk and of an 8-digit SWAR block.
        let digits = Array("1234567890123456789012345678901234567".utf8)
        for position in digits.indices {
            for bad: UInt8 in [0x2F, 0x3A, 0x20, 0x00, 0xFF, 0x39 &+ 0x10, 0x30 &- 0x10] {
                var bytes = digits
                bytes[position] = bad
                #expect(bytes.withUnsafeBytes { UInt256(decimalUTF8: $0) } == nil)
            }
        }
        #expect(Self.parse(String(repeating: "0", count: 100) + "42") == UInt256(42))
        #expect(Self.parse("000") == .zero)
        #expect(Self.parse("0" + Self.maxDecimal) == .max)
        // Substrings parse without copying into a String first.
        let line = "amount=1234567890123456789012345;"
        let start = line.firstIndex(of: "=")!
        #expect(UInt256(decimal: line[line.index(after: start)..<line.index(before: line.endIndex)])
            == Self.parse("1234567890123456789012345"))
    }

    @Test("every digit count from 1 to 77 parses to the value built by long-hand multiply-add")
    func decimalLengths() {
        var generator = SplitMix64(state: 11)
        for length in 1...77 {
            var text = ""
            var expected = UInt256.zero
            for _ in 0..<length {
                let digit = generator.next() % 10
                text.append(Character(Unicode.Scalar(UInt8(0x30 + digit))))
                // Below 10^77 < 2^256 nothing overflows.
                expected = expected.multipliedReportingOverflow(by: UInt256(10)).partialValue
                    .addingReportingOverflow(UInt256(digit)).partialValue
            }
            #expect(Self.parse(text) == expected, "\(text)")
            let trimmed = text.drop { $0 == "0" }
            #expect(expected.description == (trimmed.isEmpty ? "0" : String(trimmed)))
        }
    }

    @Test("hex text parses with either prefix case and any digit case, within 64 significant digits")
    func hexParsing() {
        #expect(UInt256(hex: "0x0") == .zero)
        #expect(UInt256(hex: "0X00") == .zero)
        #expect(UInt256(hex: "0xff") == UInt256(255))
        #expect(UInt256(hex: "0xDeadBeef") == UInt256(0xDEAD_BEEF))
        #expect(UInt256(hex: "0x10000000000000000") == Self.twoTo64)
        #expect(UInt256(hex: "0x" + String(repeating: "f", count: 64)) == .max)
        #expect(UInt256(hex: "0x" + String(repeating: "0", count: 10) + String(repeating: "F", count: 64)) == .max)
        #expect(UInt256("0x1" + String(repeating: "0", count: 32)) == Self.twoTo128)
        for bad in ["", "0", "0x", "0X", "x10", "10", "0x-1", "0x1g", "0x 1", " 0x1", "0x1 ", "0xx1",
                    "0x1" + String(repeating: "0", count: 64)] {
            #expect(UInt256(hex: bad) == nil, "\(bad)")
        }
        #expect(UInt256("0x") == nil)
        #expect(UInt256("") == nil)
        #expect(UInt256.zero.hexDescription == "0x0")
        #expect(UInt256(255).hexDescription == "0xff")
        #expect(Self.twoTo64.hexDescription == "0x10000000000000000")
        #expect(UInt256.max.hexDescription == "0x" + String(repeating: "f", count: 64))
    }

    @Test("random values survive decimal, hex and big-endian round trips")
    func randomRoundTrips() {
        var generator = SplitMix64(state: 1)
        for _ in 0..<5_000 {
            let value = Self.random(&generator)
            #expect(Self.parse(value.description) == value)
            #expect(UInt256(hex: value.hexDescription) == value)
            let word = value.bigEndianBytes
            #expect(word.count == 32)
            #expect(word.withUnsafeBytes { UInt256(bigEndianBytes: $0) } == value)
        }
    }

    @Test("the big-endian word puts the most significant byte first")
    func bigEndianLayout() {
        var expected = [UInt8](repeating: 0, count: 32)
        expected[31] = 1
        #expect(UInt256(1).bigEndianBytes == expected)
        expected = [UInt8](repeating: 0, count: 32)
        expected[23] = 1
        #expect(Self.twoTo64.bigEndianBytes == expected)
        let counting = [UInt8]((1...32).map { UInt8($0) })
        let value = counting.withUnsafeBytes { UInt256(bigEndianBytes: $0) }
        #expect(value.w3 == 0x0102_0304_0506_0708)
        #expect(value.w0 == 0x191A_1B1C_1D1E_1F20)
    }

    // MARK: Arithmetic

    @Test("addition, subtraction and multiplication report overflow exactly at 2^256")
    func overflowReporting() {
        let one = UInt256(1)
        #expect(UInt256.max.addingReportingOverflow(one) == (.zero, true))
        #expect(UInt256(.max).addingReportingOverflow(one) == (Self.twoTo64, false))
        #expect(UInt256.max.addingReportingOverflow(.zero) == (.max, false))
        #expect(UInt256.zero.subtractingReportingOverflow(one) == (.max, true))
        #expect(Self.twoTo64.subtractingReportingOverflow(one) == (UInt256(.max), false))
        #expect(Self.twoTo128.multipliedReportingOverflow(by: Self.twoTo128) == (.zero, true))
        let twoTo127 = one << 127
        #expect(twoTo127.multipliedReportingOverflow(by: Self.twoTo128) == (one << 255, false))
        #expect(UInt256.max.multipliedReportingOverflow(by: one) == (.max, false))
        #expect(UInt256.max.multipliedReportingOverflow(by: UInt256(2)).overflow)
        #expect(UInt256.max.multipliedReportingOverflow(by: .zero) == (.zero, false))
        // (2^128 - 1)^2 = 2^256 - 2^129 + 1 fits.
        let low128 = UInt256(w0: .max, w1: .max, w2: 0, w3: 0)
        let square = UInt256(w0: 1, w1: 0, w2: .max - 1, w3: .max)
        #expect(low128.multipliedReportingOverflow(by: low128) == (square, false))
        // 2^192 * 2^64 overflows through the top limb only.
        #expect((one << 192).multipliedReportingOverflow(by: Self.twoTo64) == (.zero, true))
    }

    @Test("multiplication and addition agree with each other on random operands")
    func arithmeticConsistency() {
        var generator = SplitMix64(state: 2)
        for _ in 0..<2_000 {
            let a = Self.random(&generator)
            let b = Self.random(&generator)
            let (sum, carried) = a.addingReportingOverflow(b)
            let (back, borrowed) = sum.subtractingReportingOverflow(b)
            #expect(back == a && carried == borrowed)
            #expect(a.multipliedReportingOverflow(by: b) == b.multipliedReportingOverflow(by: a))
            // a * 3 == a + a + a, overflow included.
            let (triple, o1) = a.multipliedReportingOverflow(by: UInt256(3))
            let (double, o2) = a.addingReportingOverflow(a)
            let (triple2, o3) = double.addingReportingOverflow(a)
            #expect(triple == triple2 && o1 == (o2 || o3))
        }
    }

    @Test("division satisfies q*d + r == n and r < d for many random operands")
    func divisionProperty() {
        var generator = SplitMix64(state: 3)
        for _ in 0..<20_000 {
            let n = Self.random(&generator)
            var d = Self.random(&generator)
            if d.isZero { d = UInt256(1) }
            let (q, r) = n.quotientAndRemainder(dividingBy: d)
            let (product, o1) = q.multipliedReportingOverflow(by: d)
            let (total, o2) = product.addingReportingOverflow(r)
            #expect(total == n && !o1 && !o2 && r < d)

            let small = generator.next() >> (generator.next() % 64) | 1
            let (q64, r64) = n.quotientAndRemainder(dividingBy: small)
            let (wide, r256) = n.quotientAndRemainder(dividingBy: UInt256(small))
            #expect(q64 == wide && UInt256(r64) == r256 && r64 < small)
        }
        #expect(UInt256.max.quotientAndRemainder(dividingBy: .max) == (UInt256(1), .zero))
        #expect(UInt256(5).quotientAndRemainder(dividingBy: UInt256.max) == (.zero, UInt256(5)))
        #expect(UInt256.max.quotientAndRemainder(dividingBy: Self.twoTo128)
            == (UInt256(w0: .max, w1: .max, w2: 0, w3: 0), UInt256(w0: .max, w1: .max, w2: 0, w3: 0)))
    }

    @Test("comparison orders by the most significant limb first")
    func ordering() {
        #expect(UInt256(.max) < Self.twoTo64)
        #expect(UInt256(w0: .max, w1: 0, w2: 0, w3: 1) > UInt256(w0: 0, w1: .max, w2: .max, w3: 0))
        #expect(!(UInt256.max < .max))
        #expect(UInt256.zero.isZero && !UInt256(1).isZero)
        #expect(UInt256.zero.leadingZeroBitCount == 256)
        #expect(UInt256.max.leadingZeroBitCount == 0)
        #expect(Self.twoTo64.leadingZeroBitCount == 191)
    }

    @Test("doubleValue is exact for powers of two and rounds to nearest, ties to even")
    func doubleConversion() {
        for k in 0..<256 {
            #expect((UInt256(1) << k).doubleValue == Double(sign: .plus, exponent: k, significand: 1), "2^\(k)")
        }
        #expect(UInt256.zero.doubleValue == 0)
        #expect(UInt256.max.doubleValue == Double(sign: .plus, exponent: 256, significand: 1))
        // Near 2^64 a double's step is 2^12: half a step ties to even (down), a hair more rounds up.
        let half = Self.twoTo64.addingReportingOverflow(UInt256(1 << 11)).partialValue
        #expect(half.doubleValue == 18_446_744_073_709_551_616.0)
        #expect(half.addingReportingOverflow(UInt256(1)).partialValue.doubleValue == 18_446_744_073_709_555_712.0)
        // The sticky bit far below the top limb still counts.
        let sticky = (UInt256(1) << 200).addingReportingOverflow(UInt256(1) << 147).partialValue
            .addingReportingOverflow(UInt256(1)).partialValue
        #expect(sticky.doubleValue == Double(sign: .plus, exponent: 200, significand: 1) + Double(sign: .plus, exponent: 148, significand: 1))
        #expect(UInt256(decimal: "1000000000000000000000000")?.doubleValue == 1e24)
    }

    // MARK: Stable hash

    @Test("stable hash values are pinned: they are persisted and must never change")
    func stableHashPinned() {
        let pinned: [(String, UInt64, UInt64)] = [
            ("", 0xD11C_3A61_6098_A870, 0xBF05_CBFE_4B95_115A),
            ("a", 0x1737_6B7B_4E06_AB89, 0x566F_84FC_DC13_C3E5),
            ("abc", 0xBE00_32A5_CB3C_2AA6, 0x74F9_3DD4_0E5E_263F),
            ("hello", 0xA7F9_2960_6679_5AD1, 0x74CE_1866_042B_9DEE),
            ("0123456789abcdef", 0x6401_1C76_1E2D_5AEA, 0x1245_A25E_CC5C_81F4),
            ("0123456789abcdef0", 0x3221_0DE8_B232_1FF6, 0xB8E2_72E5_6A23_E1B8),
            ("The quick brown fox jumps over the lazy dog", 0x8301_3DB8_26E5_C62F, 0x6F9A_63DF_EE65_E23C),
        ]
        for (text, seed0, seed1) in pinned {
            #expect(StableHash.hash64(text) == seed0, "\(text)")
            #expect(StableHash.hash64(text, seed: 1) == seed1, "\(text)")
            #expect(StableHash.hash64(Array(text.utf8)) == seed0)
            #expect(Array(text.utf8).withUnsafeBytes { StableHash.hash64($0) } == seed0)
        }
    }

    @Test("stable hash separates seeds, lengths and single-bit changes")
    func stableHashSeparates() {
        #expect(StableHash.hash64("key", seed: 1) != StableHash.hash64("key", seed: 2))
        #expect(StableHash.hash64([0]) != StableHash.hash64([0, 0]))
        #expect(StableHash.hash64([UInt8](repeating: 0, count: 16)) != StableHash.hash64([UInt8](repeating: 0, count: 17)))
        var seen = Set<UInt64>()
        for length in 0...40 {
            let bytes = [UInt8](repeating: 0, count: length)
            #expect(seen.insert(StableHash.hash64(bytes)).inserted)
            for bit in 0..<(length * 8) {
                var flipped = bytes
                flipped[bit / 8] ^= 1 << UInt8(bit % 8)
                #expect(seen.insert(StableHash.hash64(flipped)).inserted, "length \(length) bit \(bit)")
            }
        }
        // One flipped input bit changes about half the output bits on average.
        var generator = SplitMix64(state: 4)
        var changed = 0
        let trials = 4_000
        for trial in 0..<trials {
            let length = 1 + trial % 48
            var bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            let before = StableHash.hash64(bytes)
            let bit = Int(generator.next() % UInt64(length * 8))
            bytes[bit / 8] ^= 1 << UInt8(bit % 8)
            changed += (before ^ StableHash.hash64(bytes)).nonzeroBitCount
        }
        let mean = Double(changed) / Double(trials)
        #expect(mean > 31 && mean < 33)
    }

    // MARK: HyperLogLog

    static func sketch(_ range: Range<UInt64>, precision: Int = 12) -> HyperLogLog {
        var hll = HyperLogLog(precision: precision)
        for i in range {
            var key = i.littleEndian
            hll.insert(hash: withUnsafeBytes(of: &key) { StableHash.hash64($0) })
        }
        return hll
    }

    @Test("the estimate is within 3% for 100k distinct hashes and ignores repeats")
    func hllLarge() {
        var hll = Self.sketch(0..<100_000)
        let estimate = Double(hll.estimate)
        #expect(abs(estimate - 100_000) / 100_000 < 0.03, "estimate \(estimate)")
        let before = hll
        for i in UInt64(0)..<1_000 {
            var key = i.littleEndian
            hll.insert(hash: withUnsafeBytes(of: &key) { StableHash.hash64($0) })
        }
        #expect(hll == before)
    }

    @Test("small cardinalities are close to exact")
    func hllSmall() {
        #expect(HyperLogLog().estimate == 0)
        #expect(Self.sketch(0..<1).estimate == 1)
        #expect(Self.sketch(0..<10).estimate == 10)
        let hundred = Self.sketch(0..<100).estimate
        #expect(hundred >= 98 && hundred <= 102, "estimate \(hundred)")
        // Every precision works and extreme hashes stay in range.
        for precision in HyperLogLog.precisionRange {
            var hll = HyperLogLog(precision: precision)
            hll.insert(hash: 0)
            hll.insert(hash: .max)
            hll.insert(hash: 1)
            #expect(hll.estimate >= 2 && hll.estimate <= 4)
            #expect(HyperLogLog(serialized: hll.serialized()) == hll)
        }
    }

    @Test("merging two sketches equals sketching the union")
    func hllMerge() {
        var left = Self.sketch(0..<30_000)
        let right = Self.sketch(20_000..<60_000)
        left.merge(right)
        #expect(left == Self.sketch(0..<60_000))
        var empty = HyperLogLog()
        empty.merge(right)
        #expect(empty == right)
    }

    @Test("serialized sketches round-trip and malformed bytes are refused")
    func hllSerialization() {
        let hll = Self.sketch(0..<5_000, precision: 10)
        let bytes = hll.serialized()
        #expect(bytes.count == 2 + 1024)
        #expect(bytes[0] == 1 && bytes[1] == 10)
        let restored = HyperLogLog(serialized: bytes)
        #expect(restored == hll)
        #expect(restored?.estimate == hll.estimate)

        #expect(HyperLogLog(serialized: []) == nil)
        #expect(HyperLogLog(serialized: [1]) == nil)
        #expect(HyperLogLog(serialized: [1, 10]) == nil)
        #expect(HyperLogLog(serialized: Array(bytes.dropLast())) == nil)
        #expect(HyperLogLog(serialized: bytes + [0]) == nil)
        var badVersion = bytes
        badVersion[0] = 2
        #expect(HyperLogLog(serialized: badVersion) == nil)
        for precision: UInt8 in [0, 3, 17, 64, 255] {
            var badPrecision = bytes
            badPrecision[1] = precision
            #expect(HyperLogLog(serialized: badPrecision) == nil)
        }
        var badRegister = bytes
        badRegister[100] = 56 // the largest rank at precision 10 is 55
        #expect(HyperLogLog(serialized: badRegister) == nil)
        badRegister[100] = 55
        #expect(HyperLogLog(serialized: badRegister) != nil)
        // Random garbage never traps.
        var generator = SplitMix64(state: 5)
        for _ in 0..<1_000 {
            let length = Int(generator.next() % 40)
            let garbage = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            #expect(HyperLogLog(serialized: garbage) == nil)
        }
    }
}
