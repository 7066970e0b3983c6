import Testing
@testable import EVMABI

@Suite("Encode then decode")
struct RoundTripTests {
    /// Every static elementary type.
    static let staticTypes: [ABIType] = [.address, .bool, .function]
        + stride(from: 8, through: 256, by: 8).map { ABIType.uint(bits: $0) }
        + stride(from: 8, through: 256, by: 8).map { ABIType.int(bits: $0) }
        + (1...32).map { ABIType.fixedBytes(size: $0) }

    /// A random canonical word for `type` and the JSON the decoder must produce for it, computed
    /// independently of the decoder.
    static func randomValue(_ type: ABIType, using generator: inout SeededGenerator) -> (word: [UInt8], json: String) {
        func randomBytes(_ count: Int) -> [UInt8] {
            // Mix in edge values: all zero, all ones, a single high bit.
            switch Int.random(in: 0..<8, using: &generator) {
            case 0: return [UInt8](repeating: 0, count: count)
            case 1: return [UInt8](repeating: 0xff, count: count)
            case 2: return [0x80] + [UInt8](repeating: 0, count: count - 1)
            default: return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            }
        }
        switch type {
        case .address:
            let address = randomBytes(20)
            return (leftPadded(address), "\"0x\(hex(address))\"")
        case .bool:
            let flag = Bool.random(using: &generator)
            return (word(flag ? 1 : 0), flag ? "true" : "false")
        case .function:
            let function = randomBytes(24)
            return (rightPadded(function), "\"0x\(hex(function))\"")
        case .uint(let bits):
            let value = randomBytes(bits / 8)
            return (leftPadded(value), "\"\(unsignedDecimal(value))\"")
        case .int(let bits):
            let value = randomBytes(bits / 8)
            let fill: UInt8 = value[0] & 0x80 == 0 ? 0 : 0xff
            return ([UInt8](repeating: fill, count: 32 - value.count) + value, "\"\(signedDecimal(value))\"")
        case .fixedBytes(let size):
            let value = randomBytes(size)
            return (rightPadded(value), "\"0x\(hex(value))\"")
        default:
            preconditionFailure("not a static elementary type")
        }
    }

    @Test("random values of every static type decode to what was encoded, in data and as topics")
    func staticValues() throws {
        var generator = SeededGenerator(seed: 0x5eed)
        for type in Self.staticTypes {
            let inData = try EventABI(name: "V", inputs: [.init(name: "v", type: type, indexed: false)])
            let inTopic = try EventABI(name: "T", inputs: [.init(name: "v", type: type, indexed: true)])
            let decoder = EventDecoder(events: [inData, inTopic], includeBuiltins: false)
            for _ in 0..<100 {
                let (encoded, json) = Self.randomValue(type, using: &generator)
                let fromData = try decoder.decode(topics: [inData.topic0], data: TestEncoder.encode([type], [.word(encoded)]))
                #expect(fromData.text == "{\"event\":\"V\",\"signature\":\"V(\(type.canonical))\",\"args\":{\"v\":\(json)}}")
                let fromTopic = try decoder.decode(topics: [inTopic.topic0, encoded], data: [])
                #expect(fromTopic.text == "{\"event\":\"T\",\"signature\":\"T(\(type.canonical))\",\"args\":{\"v\":\(json)}}")
            }
        }
    }

    @Test("random events mixing static values, fixed and dynamic arrays of them, bytes and strings round-trip")
    func mixedEvents() throws {
        var generator = SeededGenerator(seed: 42)
        for round in 0..<300 {
            var inputs: [EventABI.Parameter] = []
            var values: [TestValue] = []
            var expected: [String] = []
            for index in 0..<Int.random(in: 1...6, using: &generator) {
                let element = Self.staticTypes.randomElement(using: &generator)!
                let type: ABIType
                let value: TestValue
                let json: String
                switch Int.random(in: 0..<5, using: &generator) {
                case 0:
                    type = element
                    let (encoded, text) = Self.randomValue(element, using: &generator)
                    (value, json) = (.word(encoded), text)
                case 1, 2:
                    let count = Int.random(in: 1...4, using: &generator)
                    let dynamic = Bool.random(using: &generator)
                    type = .array(element: element, count: dynamic ? nil : count)
                    let items = (0..<count).map { _ in Self.randomValue(element, using: &generator) }
                    value = .list(items.map { .word($0.word) })
                    json = "[" + items.map(\.json).joined(separator: ",") + "]"
                case 3:
                    type = .bytes
                    let content = (0..<Int.random(in: 0...70, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                    (value, json) = (.bytes(content), "\"0x\(hex(content))\"")
                default:
                    type = .string
                    let letters = Array("abcdefghijklmnopqrstuvwxyz0123456789 ")
                    let text = String((0..<Int.random(in: 0...70, using: &generator)).map { _ in letters.randomElement(using: &generator)! })
                    (value, json) = (.bytes(Array(text.utf8)), "\"\(text)\"")
                }
                inputs.append(.init(name: "p\(index)", type: type, indexed: false))
                values.append(value)
                expected.append("\"p\(index)\":\(json)")
            }
            let event = try EventABI(name: "R\(round)", inputs: inputs)
            let data = TestEncoder.encode(inputs.map(\.type), values)
            let log = try EventDecoder(events: [event], includeBuiltins: false).decode(topics: [event.topic0], data: data)
            #expect(log.text == "{\"event\":\"R\(round)\",\"signature\":\"\(event.signature)\",\"args\":{\(expected.joined(separator: ","))}}")
        }
    }

    @Test("256-bit decimal conversion agrees with schoolbook division for random words")
    func decimal() {
        var generator = SeededGenerator(seed: 99)
        for _ in 0..<2000 {
            let significant = Int.random(in: 1...32, using: &generator)
            let bytes = [UInt8](repeating: 0, count: 32 - significant) + (0..<significant).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let value = Word256(bytes, at: 0)
            #expect(value.unsignedDecimal == unsignedDecimal(bytes))
            #expect(value.signedDecimal == signedDecimal(bytes))
        }
        #expect(Word256(0, 0, 0, 0).unsignedDecimal == "0")
        #expect(Word256(0, 0, 1, 0).unsignedDecimal == "18446744073709551616")
        #expect(Word256(0, 0, 0, 10_000_000_000_000_000_000 as UInt64).unsignedDecimal == "10000000000000000000")
        #expect(Word256(.max, .max, .max, .max).signedDecimal == "-1")
    }
}
