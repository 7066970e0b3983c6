import Foundation
@testable import EVMABI

/// Lowercase hex of bytes, no prefix.
func hex(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { byte in
        let digits = String(byte, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }.joined()
}

/// Bytes of a hex string (an optional 0x prefix; whitespace ignored).
func bytes(_ text: String) -> [UInt8] {
    var digits = text.filter { !$0.isWhitespace }
    if digits.hasPrefix("0x") { digits.removeFirst(2) }
    precondition(digits.count % 2 == 0, "odd hex length")
    var result: [UInt8] = []
    var index = digits.startIndex
    while index < digits.endIndex {
        let next = digits.index(index, offsetBy: 2)
        result.append(UInt8(digits[index..<next], radix: 16)!)
        index = next
    }
    return result
}

/// A 32-byte word holding `value` right-aligned.
func word(_ value: UInt64) -> [UInt8] {
    [UInt8](repeating: 0, count: 24) + (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64(7 - $0))) }
}

/// A 32-byte word holding `bytes` right-aligned (addresses, topics).
func leftPadded(_ bytes: [UInt8]) -> [UInt8] {
    [UInt8](repeating: 0, count: 32 - bytes.count) + bytes
}

/// `bytes` followed by zeros up to a multiple of 32.
func rightPadded(_ bytes: [UInt8]) -> [UInt8] {
    bytes + [UInt8](repeating: 0, count: (32 - bytes.count % 32) % 32)
}

/// Decimal text of a big-endian unsigned integer, by schoolbook division of the byte array by 10
/// (independent of the library's limb arithmetic).
func unsignedDecimal(_ bigEndian: [UInt8]) -> String {
    var number = bigEndian
    var digits: [Character] = []
    while number.contains(where: { $0 != 0 }) {
        var remainder = 0
        for i in number.indices {
            let current = remainder * 256 + Int(number[i])
            number[i] = UInt8(current / 10)
            remainder = current % 10
        }
        digits.append(Character(String(remainder)))
    }
    return digits.isEmpty ? "0" : String(digits.reversed())
}

/// Decimal text of a big-endian two's complement integer.
func signedDecimal(_ bigEndian: [UInt8]) -> String {
    guard let first = bigEndian.first, first & 0x80 != 0 else { return unsignedDecimal(bigEndian) }
    var magnitude = bigEndian.map { ~$0 }
    var index = magnitude.count - 1
    while index >= 0 {
        let (sum, overflow) = magnitude[index].addingReportingOverflow(1)
        magnitude[index] = sum
        if !overflow { break }
        index -= 1
    }
    return "-" + unsignedDecimal(magnitude)
}

/// A value to encode with `TestEncoder`: value types as their 32-byte word.
indirect enum TestValue {
    case word([UInt8])
    case bytes([UInt8])
    case list([TestValue])
}

/// A test-only ABI encoder (head/tail, canonical), written independently of the decoder.
enum TestEncoder {
    static func encode(_ types: [ABIType], _ values: [TestValue]) -> [UInt8] {
        precondition(types.count == values.count)
        let headLength = types.reduce(0) { $0 + headSize($1) }
        var head: [UInt8] = []
        var tail: [UInt8] = []
        for (type, value) in zip(types, values) {
            let encoded = encodeOne(type, value)
            if type.isDynamic {
                head += word(UInt64(headLength + tail.count))
                tail += encoded
            } else {
                head += encoded
            }
        }
        return head + tail
    }

    static func encodeOne(_ type: ABIType, _ value: TestValue) -> [UInt8] {
        switch (type, value) {
        case (.bytes, .bytes(let content)), (.string, .bytes(let content)):
            return word(UInt64(content.count)) + rightPadded(content)
        case (.array(let element, let count), .list(let items)):
            let body = encode(Array(repeating: element, count: items.count), items)
            return count == nil ? word(UInt64(items.count)) + body : body
        case (.tuple(let components), .list(let items)):
            return encode(components.map(\.type), items)
        case (_, .word(let bytes)):
            precondition(bytes.count == 32)
            return bytes
        default:
            preconditionFailure("value does not match \(type)")
        }
    }

    static func headSize(_ type: ABIType) -> Int {
        if type.isDynamic { return 32 }
        switch type {
        case .array(let element, let count): return count! * headSize(element)
        case .tuple(let components): return components.reduce(0) { $0 + headSize($1.type) }
        default: return 32
        }
    }
}

/// A deterministic random generator (SplitMix64) so failures reproduce.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Parses JSON text (to check that output is well-formed).
func parseJSON(_ bytes: [UInt8]) throws -> Any {
    try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
}

let transferTopic = bytes("ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef")
let approvalTopic = bytes("8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925")
let alice = bytes("00000000219ab540356cbb839cbe05303d7705fa")
let bob = bytes("dac17f958d2ee523a2206206994597c13d831ec7")
