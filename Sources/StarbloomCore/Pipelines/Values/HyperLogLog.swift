#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An approximate distinct counter (HyperLogLog) over 64-bit hashes.
///
/// `2^precision` one-byte registers; the standard error is about `1.04 / sqrt(2^precision)`
/// (1.6% at the default precision 12, which takes 4 KiB). Feed it well-mixed hashes such as
/// `StableHash.hash64`: the top `precision` bits pick a register, the rest give the rank. Sketches
/// of the same precision merge losslessly, so partial counts can be combined.
///
/// Registers are persisted through `serialized()`; the layout is
/// `[version = 1, precision, register 0, ..., register 2^precision - 1]`.
public struct HyperLogLog: Sendable, Equatable {
    public static let precisionRange = 4...16
    static let formatVersion: UInt8 = 1

    public let precision: Int
    private(set) var registers: [UInt8]

    /// Precondition: `precision` in 4...16.
    public init(precision: Int = 12) {
        precondition(Self.precisionRange.contains(precision), "HyperLogLog precision must be in 4...16")
        self.precision = precision
        self.registers = [UInt8](repeating: 0, count: 1 << precision)
    }

    /// The largest rank a register can hold: the position of the guard bit plus one.
    private var maximumRank: UInt8 { UInt8(64 - precision + 1) }

    public mutating func insert(hash: UInt64) {
        let index = Int(truncatingIfNeeded: hash >> UInt64(64 - precision))
        // The remaining bits, with a guard bit so the rank is at most 64 - precision + 1.
        let rest = (hash << UInt64(precision)) | (1 << UInt64(precision - 1))
        let rank = UInt8(truncatingIfNeeded: rest.leadingZeroBitCount + 1)
        if rank > registers[index] { registers[index] = rank }
    }

    /// The estimated number of distinct hashes inserted. Below 2.5 * 2^precision, while some
    /// register is still empty, linear counting replaces the raw estimate (it is near exact there).
    /// With 64-bit hashes no large-range correction is needed.
    public var estimate: UInt64 {
        let m = Double(registers.count)
        var sum = 0.0
        var empty = 0
        for register in registers {
            sum += Double(sign: .plus, exponent: -Int(register), significand: 1)
            if register == 0 { empty += 1 }
        }
        let alpha: Double
        switch registers.count {
        case 16: alpha = 0.673
        case 32: alpha = 0.697
        case 64: alpha = 0.709
        default: alpha = 0.7213 / (1 + 1.079 / m)
        }
        var value = alpha * m * m / sum
        if value <= 2.5 * m && empty > 0 {
            value = m * log(m / Double(empty))
        }
        return UInt64(value.rounded())
    }

    /// Folds `other` in: afterwards this sketch estimates the union. Precondition: same precision.
    public mutating func merge(_ other: HyperLogLog) {
        precondition(precision == other.precision, "HyperLogLog merge needs equal precision")
        for index in registers.indices where other.registers[index] > registers[index] {
            registers[index] = other.registers[index]
        }
    }

    /// `[version, precision, registers...]`.
    public func serialized() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(2 + registers.count)
        bytes.append(Self.formatVersion)
        bytes.append(UInt8(precision))
        bytes.append(contentsOf: registers)
        return bytes
    }

    /// nil for an unknown version, a precision outside 4...16, a wrong length, or a register above
    /// the largest possible rank. Never traps on bad input.
    public init?(serialized bytes: [UInt8]) {
        guard bytes.count >= 2, bytes[0] == Self.formatVersion else { return nil }
        let precision = Int(bytes[1])
        guard Self.precisionRange.contains(precision), bytes.count == 2 + (1 << precision) else { return nil }
        let maximumRank = UInt8(64 - precision + 1)
        let registers = Array(bytes[2...])
        guard registers.allSatisfy({ $0 <= maximumRank }) else { return nil }
        self.precision = precision
        self.registers = registers
    }
}
