import Foundation
import Testing
@testable import EVMABI

@Suite("Event decoding")
struct EventDecoderTests {
    let decoder = EventDecoder()

    @Test("an ERC-20 Transfer decodes with no ABI given, exactly, even for 2^255 + 1")
    func erc20Transfer() throws {
        var value = [UInt8](repeating: 0, count: 32)
        value[0] = 0x80
        value[31] = 0x01
        let log = try decoder.decode(topics: [transferTopic, leftPadded(alice), leftPadded(bob)], data: value)
        #expect(log.event == EventABI.erc20Transfer)
        #expect(log.text == """
            {"event":"Transfer","signature":"Transfer(address,address,uint256)","args":{\
            "from":"0x00000000219ab540356cbb839cbe05303d7705fa","to":"0xdac17f958d2ee523a2206206994597c13d831ec7",\
            "value":"57896044618658097711785492504343953926634992332820282019728792003956564819969"}}
            """)
        let small = try decoder.decode(topics: [transferTopic, leftPadded(alice), leftPadded(bob)], data: word(1000))
        #expect(small.text.hasSuffix("\"value\":\"1000\"}}"))
        let zero = try decoder.decode(topics: [transferTopic, leftPadded(alice), leftPadded(bob)], data: word(0))
        #expect(zero.text.hasSuffix("\"value\":\"0\"}}"))
        let max = try decoder.decode(topics: [transferTopic, leftPadded(alice), leftPadded(bob)],
                                     data: [UInt8](repeating: 0xff, count: 32))
        #expect(max.text.hasSuffix("\"value\":\"115792089237316195423570985008687907853269984665640564039457584007913129639935\"}}"))
        #expect(try parseJSON(max.json) is [String: Any])
    }

    @Test("an ERC-721 Transfer, with tokenId as a fourth topic, is told apart by its topic count")
    func erc721Transfer() throws {
        let log = try decoder.decode(topics: [transferTopic, leftPadded(alice), leftPadded(bob), word(42)], data: [])
        #expect(log.event == EventABI.erc721Transfer)
        #expect(log.text == """
            {"event":"Transfer","signature":"Transfer(address,address,uint256)","args":{\
            "from":"0x00000000219ab540356cbb839cbe05303d7705fa","to":"0xdac17f958d2ee523a2206206994597c13d831ec7",\
            "tokenId":"42"}}
            """)
    }

    @Test("an ERC-20 Approval decodes with no ABI given")
    func erc20Approval() throws {
        let log = try decoder.decode(topics: [approvalTopic, leftPadded(alice), leftPadded(bob)], data: word(7))
        #expect(log.text == """
            {"event":"Approval","signature":"Approval(address,address,uint256)","args":{\
            "owner":"0x00000000219ab540356cbb839cbe05303d7705fa","spender":"0xdac17f958d2ee523a2206206994597c13d831ec7",\
            "value":"7"}}
            """)
    }

    @Test("an ABI's own Transfer wins over the built-in one, and built-ins can be left out")
    func userABIFirst() throws {
        let weth = try EventABI(name: "Transfer", inputs: [
            .init(name: "src", type: .address, indexed: true), .init(name: "dst", type: .address, indexed: true),
            .init(name: "wad", type: .uint(bits: 256), indexed: false),
        ])
        let log = try EventDecoder(events: [weth]).decode(topics: [transferTopic, leftPadded(alice), leftPadded(bob)], data: word(5))
        #expect(log.text.contains("\"src\":") && log.text.hasSuffix("\"wad\":\"5\"}}"))
        let nft = try EventDecoder(events: [weth]).decode(topics: [transferTopic, leftPadded(alice), leftPadded(bob), word(1)], data: [])
        #expect(nft.event == EventABI.erc721Transfer)
        #expect(throws: DecodeError.self) {
            try EventDecoder(includeBuiltins: false).decode(topics: [transferTopic, leftPadded(alice), leftPadded(bob)], data: word(5))
        }
    }

    static let postedABI = """
    [{"type": "event", "name": "Posted", "anonymous": false, "inputs": [
      {"name": "author", "type": "address", "indexed": true},
      {"name": "tag", "type": "string", "indexed": true},
      {"name": "text", "type": "string", "indexed": false},
      {"name": "amounts", "type": "uint256[]", "indexed": false},
      {"name": "delta", "type": "int16", "indexed": false},
      {"name": "blob", "type": "bytes", "indexed": false}]}]
    """

    /// eth_abi.encode(['string','uint256[]','int16','bytes'], ['héllo "q"\n', [1, 2, 2**256-1], -2, b'\x01\x02\x03'])
    static let postedData = bytes("""
    0000000000000000000000000000000000000000000000000000000000000080\
    00000000000000000000000000000000000000000000000000000000000000c0\
    fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe\
    0000000000000000000000000000000000000000000000000000000000000140\
    000000000000000000000000000000000000000000000000000000000000000b\
    68c3a96c6c6f202271220a000000000000000000000000000000000000000000\
    0000000000000000000000000000000000000000000000000000000000000003\
    0000000000000000000000000000000000000000000000000000000000000001\
    0000000000000000000000000000000000000000000000000000000000000002\
    ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\
    0000000000000000000000000000000000000000000000000000000000000003\
    0102030000000000000000000000000000000000000000000000000000000000
    """)

    @Test("a string, a uint256[], a negative int16 and bytes in data, and an indexed string as its hash")
    func dynamicData() throws {
        let decoder = try EventDecoder(abiJSON: Self.postedABI)
        let event = try #require(decoder.events.first)
        #expect(hex(event.topic0) == "4a773055b4e6ded02726ec0a5e564eb82713bf392b145d82b34fabfc37acb20d")
        let tagHash = Keccak256.hash("news")
        let log = try decoder.decode(topics: [event.topic0, leftPadded(alice), tagHash], data: Self.postedData)
        #expect(log.text == """
            {"event":"Posted","signature":"Posted(address,string,string,uint256[],int16,bytes)","args":{\
            "author":"0x00000000219ab540356cbb839cbe05303d7705fa",\
            "tag":"0xeee2a008ca6e1e96691c3df4d7802831584a6f8c508200608e0105c8dfa58d09",\
            "text":"héllo \\"q\\"\\n",\
            "amounts":["1","2","115792089237316195423570985008687907853269984665640564039457584007913129639935"],\
            "delta":"-2","blob":"0x010203"}}
            """)
        let parsed = try #require(try parseJSON(log.json) as? [String: Any])
        let args = try #require(parsed["args"] as? [String: Any])
        #expect(args["text"] as? String == "héllo \"q\"\n")
    }

    static let orderABI = """
    [{"type": "event", "name": "OrderFilled", "inputs": [
      {"name": "order", "type": "tuple", "components": [{"name": "maker", "type": "address"}, {"name": "amount", "type": "uint256"}]},
      {"name": "hashes", "type": "bytes32[]"},
      {"name": "legs", "type": "tuple[2]", "components": [{"name": "kind", "type": "uint8"}, {"name": "label", "type": "string"}]}]}]
    """

    /// eth_abi.encode(['(address,uint256)','bytes32[]','(uint8,string)[2]'],
    ///                [('0x11…11', 7), [b'\xaa' * 32], [(1, 'a'), (2, 'bc')]])
    static let orderData = bytes("""
    0000000000000000000000001111111111111111111111111111111111111111\
    0000000000000000000000000000000000000000000000000000000000000007\
    0000000000000000000000000000000000000000000000000000000000000080\
    00000000000000000000000000000000000000000000000000000000000000c0\
    0000000000000000000000000000000000000000000000000000000000000001\
    aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\
    0000000000000000000000000000000000000000000000000000000000000040\
    00000000000000000000000000000000000000000000000000000000000000c0\
    0000000000000000000000000000000000000000000000000000000000000001\
    0000000000000000000000000000000000000000000000000000000000000040\
    0000000000000000000000000000000000000000000000000000000000000001\
    6100000000000000000000000000000000000000000000000000000000000000\
    0000000000000000000000000000000000000000000000000000000000000002\
    0000000000000000000000000000000000000000000000000000000000000040\
    0000000000000000000000000000000000000000000000000000000000000002\
    6263000000000000000000000000000000000000000000000000000000000000
    """)

    @Test("tuples decode to objects, including dynamic tuples inside a fixed-size array")
    func tuples() throws {
        let decoder = try EventDecoder(abiJSON: Self.orderABI, includeBuiltins: false)
        let event = try #require(decoder.events.first)
        let log = try decoder.decode(topics: [event.topic0], data: Self.orderData)
        #expect(log.text == """
            {"event":"OrderFilled","signature":"OrderFilled((address,uint256),bytes32[],(uint8,string)[2])","args":{\
            "order":{"maker":"0x1111111111111111111111111111111111111111","amount":"7"},\
            "hashes":["0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"],\
            "legs":[{"kind":"1","label":"a"},{"kind":"2","label":"bc"}]}}
            """)
    }

    @Test("fixed-size arrays, bytesN, bool, int256 extremes and indexed value types")
    func staticTypes() throws {
        let event = try EventABI(name: "Mixed", inputs: [
            .init(name: "flag", type: .bool, indexed: true),
            .init(name: "id", type: .fixedBytes(size: 4), indexed: false),
            .init(name: "low", type: .int(bits: 256), indexed: true),
            .init(name: "holders", type: .array(element: .address, count: 3), indexed: false),
            .init(name: "high", type: .int(bits: 256), indexed: false),
            .init(name: "small", type: .int(bits: 8), indexed: false),
            .init(name: "pair", type: .array(element: .uint(bits: 8), count: 2), indexed: true),
        ])
        var minInt = [UInt8](repeating: 0, count: 32)
        minInt[0] = 0x80
        var maxInt = [UInt8](repeating: 0xff, count: 32)
        maxInt[0] = 0x7f
        let data = rightPadded([0xde, 0xad, 0xbe, 0xef]) + leftPadded(alice) + leftPadded(bob) + leftPadded([0x01]) + maxInt + [UInt8](repeating: 0xff, count: 31) + [0x80]
        let pairHash = Keccak256.hash(word(1) + word(2))
        let log = try EventDecoder(events: [event]).decode(
            topics: [event.topic0, word(1), minInt, pairHash], data: data)
        #expect(log.text == """
            {"event":"Mixed","signature":"Mixed(bool,bytes4,int256,address[3],int256,int8,uint8[2])","args":{\
            "flag":true,"id":"0xdeadbeef",\
            "low":"-57896044618658097711785492504343953926634992332820282019728792003956564819968",\
            "holders":["0x00000000219ab540356cbb839cbe05303d7705fa","0xdac17f958d2ee523a2206206994597c13d831ec7",\
            "0x0000000000000000000000000000000000000001"],\
            "high":"57896044618658097711785492504343953926634992332820282019728792003956564819967",\
            "small":"-128","pair":"0x\(hex(pairHash))"}}
            """)
    }

    @Test("anonymous events are matched by their number of indexed inputs")
    func anonymous() throws {
        let event = try EventABI(name: "Note", inputs: [
            .init(name: "who", type: .address, indexed: true), .init(name: "n", type: .uint(bits: 64), indexed: false),
        ], anonymous: true)
        let decoder = EventDecoder(events: [event])
        let log = try decoder.decode(topics: [leftPadded(alice)], data: word(9))
        #expect(log.text == """
            {"event":"Note","signature":"Note(address,uint64)","args":{"who":"0x00000000219ab540356cbb839cbe05303d7705fa","n":"9"}}
            """)
        // A Transfer still goes to the built-in; a two-topic log matches nothing.
        #expect(try decoder.decode(topics: [transferTopic, leftPadded(alice), leftPadded(bob)], data: word(1)).event.name == "Transfer")
        #expect(throws: DecodeError.self) { try decoder.decode(topics: [leftPadded(alice), leftPadded(bob)], data: word(9)) }
    }

    @Test("strings are escaped; invalid UTF-8 becomes U+FFFD")
    func stringEscaping() throws {
        let event = try EventABI(name: "Said", inputs: [.init(name: "text", type: .string, indexed: false)])
        let decoder = EventDecoder(events: [event], includeBuiltins: false)
        let raw: [UInt8] = Array("a\"b\\c\n\t\u{01}\u{7f}é😀".utf8) + [0xff, 0x41]
        let data = word(32) + word(UInt64(raw.count)) + rightPadded(raw)
        let log = try decoder.decode(topics: [event.topic0], data: data)
        #expect(log.text.hasSuffix(#""text":"a\"b\\c\n\t\u0001\u007fé😀\#u{FFFD}A"}}"#))
        let parsed = try #require(try parseJSON(log.json) as? [String: Any])
        #expect((parsed["args"] as? [String: Any])?["text"] as? String == "a\"b\\c\n\t\u{01}\u{7f}é😀\u{FFFD}A")
    }

    @Test("decoding into a writer appends, and leaves the writer untouched on error")
    func intoWriter() throws {
        var writer = JSONWriter()
        writer.raw("{\"block\":1,\"decoded\":")
        try decoder.decode(topics: [transferTopic, leftPadded(alice), leftPadded(bob)], data: word(3), into: &writer)
        writer.raw("}")
        #expect(try parseJSON(writer.bytes) is [String: Any])
        let before = writer.bytes
        #expect(throws: DecodeError.self) {
            try decoder.decode(topics: [transferTopic, leftPadded(alice), leftPadded(bob)], data: [1, 2], into: &writer)
        }
        #expect(writer.bytes == before)
    }
}
