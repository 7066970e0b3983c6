import Testing
@testable import EVMABI

@Suite("Malformed logs")
struct MalformedLogTests {
    static let posted = try! EventABI(name: "Posted", inputs: [
        .init(name: "flag", type: .bool, indexed: false),
        .init(name: "note", type: .string, indexed: false),
        .init(name: "amounts", type: .array(element: .uint(bits: 256), count: nil), indexed: false),
    ])
    static let small = try! EventABI(name: "Small", inputs: [
        .init(name: "tiny", type: .uint(bits: 8), indexed: false),
        .init(name: "signed", type: .int(bits: 8), indexed: false),
        .init(name: "tag", type: .fixedBytes(size: 4), indexed: false),
        .init(name: "callback", type: .function, indexed: false),
    ])
    static let holders = try! EventABI(name: "Holders", inputs: [
        .init(name: "holders", type: .array(element: .address, count: nil), indexed: false),
    ])
    static let order = try! EventABI(name: "Order", inputs: [
        .init(name: "order", type: .tuple([ABIComponent(name: "maker", type: .address),
                                           ABIComponent(name: "memo", type: .bytes)]), indexed: false),
    ])
    static let blobs = try! EventABI(name: "Blobs", inputs: [
        .init(name: "blobs", type: .array(element: .bytes, count: nil), indexed: false),
    ])
    static let decoder = EventDecoder(events: [posted, small, holders, order, blobs])

    /// A valid Posted log: flag true, note "hi", amounts [5, 6].
    static let postedData = word(1) + word(96) + word(160) + word(2) + rightPadded(Array("hi".utf8)) + word(2) + word(5) + word(6)
    static let smallData = word(255) + [UInt8](repeating: 0xff, count: 32) + rightPadded([1, 2, 3, 4]) + rightPadded([UInt8](repeating: 9, count: 24))

    static func replacing(_ data: [UInt8], word index: Int, with replacement: [UInt8]) -> [UInt8] {
        var copy = data
        copy.replaceSubrange((index * 32)..<(index * 32 + 32), with: replacement)
        return copy
    }

    static func huge(_ top: UInt8) -> [UInt8] {
        var value = [UInt8](repeating: 0, count: 32)
        value[0] = top
        value[31] = 0x40
        return value
    }

    struct Case: Sendable, CustomStringConvertible {
        var description: String
        var topics: [[UInt8]]
        var data: [UInt8]
        var kind: DecodeError.Kind
        var event: String?
        var argument: String?
    }

    static let cases: [Case] = [
        Case(description: "a topic of 31 bytes", topics: [transferTopic, [UInt8](repeating: 0, count: 31), leftPadded(bob)],
             data: word(1), kind: .topicSize),
        Case(description: "a Transfer with 2 topics", topics: [transferTopic, leftPadded(alice)], data: word(1),
             kind: .topicCount, event: "Transfer"),
        Case(description: "a Transfer with 5 topics", topics: [transferTopic, leftPadded(alice), leftPadded(bob), word(1), word(2)],
             data: [], kind: .topicCount, event: "Transfer"),
        Case(description: "an unknown topic0", topics: [word(12345)], data: [], kind: .unknownEvent),
        Case(description: "no topics", topics: [], data: word(1), kind: .unknownEvent),
        Case(description: "a Transfer with 31 bytes of data", topics: [transferTopic, leftPadded(alice), leftPadded(bob)],
             data: [UInt8](repeating: 0, count: 31), kind: .dataTooShort, event: "Transfer", argument: "value"),
        Case(description: "a Transfer with no data", topics: [transferTopic, leftPadded(alice), leftPadded(bob)],
             data: [], kind: .dataTooShort, event: "Transfer", argument: "value"),
        Case(description: "an address topic with dirty padding", topics: [transferTopic, [1] + [UInt8](repeating: 0, count: 11) + alice, leftPadded(bob)],
             data: word(1), kind: .nonCanonical, event: "Transfer", argument: "from"),
        Case(description: "an ERC-721 tokenId topic is fine but the to address is dirty",
             topics: [transferTopic, leftPadded(alice), [UInt8](repeating: 0xff, count: 32), word(1)],
             data: [], kind: .nonCanonical, event: "Transfer", argument: "to"),
        Case(description: "a bool of 2", topics: [posted.topic0], data: replacing(postedData, word: 0, with: word(2)),
             kind: .nonCanonical, event: "Posted", argument: "flag"),
        Case(description: "a bool with a high bit set", topics: [posted.topic0], data: replacing(postedData, word: 0, with: [1] + [UInt8](repeating: 0, count: 30) + [1]),
             kind: .nonCanonical, event: "Posted", argument: "flag"),
        Case(description: "a uint8 of 256", topics: [small.topic0], data: replacing(smallData, word: 0, with: word(256)),
             kind: .nonCanonical, event: "Small", argument: "tiny"),
        Case(description: "an int8 that is not sign-extended", topics: [small.topic0], data: replacing(smallData, word: 1, with: word(0x80)),
             kind: .nonCanonical, event: "Small", argument: "signed"),
        Case(description: "a bytes4 with trailing bytes", topics: [small.topic0], data: replacing(smallData, word: 2, with: rightPadded([1, 2, 3, 4, 5])),
             kind: .nonCanonical, event: "Small", argument: "tag"),
        Case(description: "a function with trailing bytes", topics: [small.topic0], data: replacing(smallData, word: 3, with: [UInt8](repeating: 9, count: 32)),
             kind: .nonCanonical, event: "Small", argument: "callback"),
        Case(description: "a string offset past the end", topics: [posted.topic0], data: replacing(postedData, word: 1, with: word(4096)),
             kind: .offsetOutOfRange, event: "Posted", argument: "note"),
        Case(description: "a string offset of 2^255", topics: [posted.topic0], data: replacing(postedData, word: 1, with: huge(0x80)),
             kind: .offsetOutOfRange, event: "Posted", argument: "note"),
        Case(description: "a string offset pointing into the last half-word", topics: [posted.topic0],
             data: replacing(postedData, word: 1, with: word(UInt64(postedData.count - 16))),
             kind: .offsetOutOfRange, event: "Posted", argument: "note"),
        Case(description: "a string length of 2^256 - 1", topics: [posted.topic0], data: replacing(postedData, word: 3, with: [UInt8](repeating: 0xff, count: 32)),
             kind: .lengthOutOfRange, event: "Posted", argument: "note"),
        Case(description: "a string length longer than the data", topics: [posted.topic0], data: replacing(postedData, word: 3, with: word(200)),
             kind: .lengthOutOfRange, event: "Posted", argument: "note"),
        Case(description: "a string whose padding is cut off", topics: [posted.topic0],
             data: word(1) + word(96) + word(96) + word(2) + Array("hi".utf8),
             kind: .dataTooShort, event: "Posted", argument: "note"),
        Case(description: "an array length of 2^64", topics: [posted.topic0], data: replacing(postedData, word: 5, with: [UInt8](repeating: 0, count: 23) + [1] + [UInt8](repeating: 0, count: 8)),
             kind: .lengthOutOfRange, event: "Posted", argument: "amounts"),
        Case(description: "an array length that multiplies past Int.max", topics: [posted.topic0],
             data: replacing(postedData, word: 5, with: word(UInt64(Int.max / 16))),
             kind: .lengthOutOfRange, event: "Posted", argument: "amounts"),
        Case(description: "an array one element longer than the data", topics: [posted.topic0], data: replacing(postedData, word: 5, with: word(3)),
             kind: .lengthOutOfRange, event: "Posted", argument: "amounts"),
        Case(description: "an array element address with dirty padding", topics: [holders.topic0],
             data: word(32) + word(3) + leftPadded(alice) + leftPadded(bob) + [UInt8](repeating: 0xee, count: 32),
             kind: .nonCanonical, event: "Holders", argument: "holders[2]"),
        Case(description: "a tuple member with dirty padding", topics: [order.topic0],
             data: word(32) + [UInt8](repeating: 0xee, count: 32) + word(64) + word(0),
             kind: .nonCanonical, event: "Order", argument: "order.maker"),
        Case(description: "a tuple member offset past the end", topics: [order.topic0],
             data: word(32) + leftPadded(alice) + word(999) + word(0),
             kind: .offsetOutOfRange, event: "Order", argument: "order.memo"),
        Case(description: "a bytes[] whose elements all point at the same 4 KiB", topics: [blobs.topic0],
             data: word(32) + word(1000) + [UInt8]((0..<1000).flatMap { _ in word(32_000) }) + word(4096) + [UInt8](repeating: 7, count: 4096),
             kind: .expansionLimit, event: "Blobs"),
    ]

    @Test("each malformed log gives its specific error, naming the event and argument", arguments: cases)
    func malformed(_ testCase: Case) {
        do {
            let log = try Self.decoder.decode(topics: testCase.topics, data: testCase.data)
            Issue.record("decoded \(log.text)")
        } catch {
            #expect(error.kind == testCase.kind, "\(error)")
            #expect(error.event == testCase.event, "\(error)")
            if let argument = testCase.argument {
                #expect(error.argument == argument, "\(error)")
                #expect(error.reason.contains("argument '\(argument)'"), "\(error)")
            }
        }
    }

    @Test("the valid logs the table mutates do decode")
    func baselines() throws {
        #expect(try Self.decoder.decode(topics: [Self.posted.topic0], data: Self.postedData).text
                == #"{"event":"Posted","signature":"Posted(bool,string,uint256[])","args":{"flag":true,"note":"hi","amounts":["5","6"]}}"#)
        #expect(try Self.decoder.decode(topics: [Self.small.topic0], data: Self.smallData).text
                == #"{"event":"Small","signature":"Small(uint8,int8,bytes4,function)","args":{"tiny":"255","signed":"-1","tag":"0x01020304","callback":"0x090909090909090909090909090909090909090909090909"}}"#)
        // Canonical sharing of one tail by two offsets is within the expansion bound.
        let shared = word(32) + word(2) + word(64) + word(64) + word(3) + rightPadded([1, 2, 3])
        #expect(try Self.decoder.decode(topics: [Self.blobs.topic0], data: shared).text.hasSuffix(#""blobs":["0x010203","0x010203"]}}"#))
    }

    @Test("random corruption of valid logs never crashes: every result decodes or throws a DecodeError")
    func fuzz() {
        var generator = SeededGenerator(seed: 7)
        let samples: [([UInt8], [UInt8])] = [
            (Self.posted.topic0, Self.postedData),
            (Self.small.topic0, Self.smallData),
            (Self.order.topic0, word(32) + leftPadded(alice) + word(64) + word(3) + rightPadded([1, 2, 3])),
            (Self.blobs.topic0, word(32) + word(2) + word(64) + word(128) + word(1) + rightPadded([1]) + word(2) + rightPadded([2, 3])),
        ]
        var decoded = 0, failed = 0
        for _ in 0..<5000 {
            let (topic, valid) = samples.randomElement(using: &generator)!
            var data = valid
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                switch Int.random(in: 0..<4, using: &generator) {
                case 0 where !data.isEmpty:
                    data[Int.random(in: 0..<data.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                case 1 where !data.isEmpty:
                    data.removeLast(Int.random(in: 0...min(40, data.count), using: &generator))
                case 2 where data.count >= 32:
                    let index = Int.random(in: 0..<(data.count / 32), using: &generator) * 32
                    data.replaceSubrange(index..<(index + 32), with: word(UInt64.random(in: 0...300, using: &generator)))
                default:
                    data += word(UInt64.random(in: 0...UInt64.max, using: &generator))
                }
            }
            do {
                let log = try Self.decoder.decode(topics: [topic], data: data)
                decoded += 1
                #expect((try? parseJSON(log.json)) != nil, "\(log.text)")
            } catch {
                failed += 1
                #expect(!error.reason.isEmpty)
            }
        }
        #expect(decoded > 0 && failed > 0)
    }
}
