import Testing
@testable import EVMABI

@Suite("Event ABI parsing")
struct EventABITests {
    static let erc20ABI = """
    [
      {"type": "function", "name": "transfer", "inputs": [{"name": "to", "type": "address"}, {"name": "amount", "type": "uint256"}], "outputs": [{"type": "bool"}]},
      {"type": "event", "name": "Transfer", "anonymous": false, "inputs": [
        {"name": "from", "type": "address", "indexed": true},
        {"name": "to", "type": "address", "indexed": true},
        {"name": "value", "type": "uint256", "indexed": false}]},
      {"type": "constructor", "inputs": []},
      {"type": "event", "name": "Approval", "anonymous": false, "inputs": [
        {"name": "owner", "type": "address", "indexed": true},
        {"name": "spender", "type": "address", "indexed": true},
        {"name": "value", "type": "uint256", "indexed": false}]}
    ]
    """

    @Test("events are read from a Solidity JSON ABI with their signatures and topic0; other entries are skipped")
    func erc20() throws {
        let events = try EventABI.parse(json: Self.erc20ABI)
        #expect(events.map(\.name) == ["Transfer", "Approval"])
        #expect(events[0].signature == "Transfer(address,address,uint256)")
        #expect(hex(events[0].topic0) == "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef")
        #expect(events[1].signature == "Approval(address,address,uint256)")
        #expect(hex(events[1].topic0) == "8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925")
        #expect(events[0].inputs.map(\.indexed) == [true, true, false])
        #expect(events[0].topicCount == 3)
        #expect(events[0] == EventABI.erc20Transfer)
        #expect(EventABI.erc721Transfer.topic0 == EventABI.erc20Transfer.topic0)
        #expect(EventABI.erc721Transfer.topicCount == 4)
    }

    @Test("tuples are written as (t1,t2) in signatures, nested and in arrays")
    func tupleSignature() throws {
        let json = """
        {"abi": [{"type": "event", "name": "OrderFilled", "inputs": [
          {"name": "order", "type": "tuple", "components": [{"name": "maker", "type": "address"}, {"name": "amount", "type": "uint256"}]},
          {"name": "hashes", "type": "bytes32[]", "indexed": true},
          {"name": "legs", "type": "tuple[2]", "components": [{"name": "kind", "type": "uint8"}, {"name": "label", "type": "string"}]}
        ]}]}
        """
        let event = try #require(try EventABI.parse(json: json).first)
        #expect(event.signature == "OrderFilled((address,uint256),bytes32[],(uint8,string)[2])")
        #expect(hex(event.topic0) == "4f9efefb3e4a373d85437b90d0f800c0f70b1cf18523c3dee7199b359bcd6d01")
        #expect(try ABIType.parse("uint").canonical == "uint256")
        #expect(try ABIType.parse("int[2][]").canonical == "int256[2][]")
        #expect(try ABIType.parse("uint256[2][]") == .array(element: .array(element: .uint(bits: 256), count: 2), count: nil))
    }

    @Test("unnamed inputs become arg<i>; anonymous events carry no topic0 and allow four indexed inputs")
    func unnamedAndAnonymous() throws {
        let json = """
        [{"type": "event", "name": "Log", "anonymous": true, "inputs": [
          {"name": "", "type": "uint256", "indexed": true}, {"type": "address", "indexed": true},
          {"name": "a", "type": "bool", "indexed": true}, {"name": "b", "type": "bool", "indexed": true}]}]
        """
        let event = try #require(try EventABI.parse(json: json).first)
        #expect(event.argumentNames == ["arg0", "arg1", "a", "b"])
        #expect(event.anonymous && event.topicCount == 4)
    }

    static let badABIs: [(String, Int?, String)] = [
        ("[{\"type\": \"event\"", nil, "bad JSON"),
        ("{\"type\": \"event\"}", nil, "must be an array"),
        ("[1]", 0, "entry is not an object"),
        ("[{\"type\": \"function\", \"name\": \"f\"}, {\"type\": \"event\", \"inputs\": []}]", 1, "event has no name"),
        ("[{\"type\": \"event\", \"name\": \"\", \"inputs\": []}]", 0, "event has no name"),
        ("[{}, {}, {\"type\": \"event\", \"name\": \"E\", \"inputs\": [{\"name\": \"x\", \"type\": \"uint7\"}]}]", 2, "unknown type 'uint7'"),
        ("[{\"type\": \"event\", \"name\": \"E\", \"inputs\": [{\"name\": \"x\", \"type\": \"bytes33\"}]}]", 0, "unknown type 'bytes33'"),
        ("[{\"type\": \"event\", \"name\": \"E\", \"inputs\": [{\"name\": \"x\", \"type\": \"uint256[0]\"}]}]", 0, "zero-length array"),
        ("[{\"type\": \"event\", \"name\": \"E\", \"inputs\": [{\"name\": \"x\", \"type\": \"uint256[x]\"}]}]", 0, "bad array size"),
        ("[{\"type\": \"event\", \"name\": \"E\", \"inputs\": [{\"name\": \"x\", \"type\": \"fixed128x18\"}]}]", 0, "unsupported type"),
        ("[{\"type\": \"event\", \"name\": \"E\", \"inputs\": [{\"name\": \"x\", \"type\": \"tuple\"}]}]", 0, "tuple without 'components'"),
        ("[{\"type\": \"event\", \"name\": \"E\", \"inputs\": [{\"name\": \"x\", \"type\": \"tuple\", \"components\": []}]}]", 0, "has no components"),
        ("[{\"type\": \"event\", \"name\": \"E\", \"inputs\": [{\"name\": \"x\"}]}]", 0, "missing 'type'"),
        ("[{\"type\": \"event\", \"name\": \"E\", \"inputs\": [{\"name\": \"x\", \"type\": \"bool\"}, {\"name\": \"x\", \"type\": \"bool\"}]}]", 0, "two inputs named 'x'"),
        ("[{\"type\": \"event\", \"name\": \"E\", \"inputs\": [" + String(repeating: "{\"type\": \"bool\", \"indexed\": true},", count: 3) + "{\"type\": \"bool\", \"indexed\": true}]}]", 0, "4 indexed inputs"),
        ("[{\"type\": \"event\", \"name\": \"E\", \"inputs\": [{\"name\": \"x\", \"type\": \"bool\", \"indexed\": \"yes\"}]}]", 0, "'indexed' is not a boolean"),
        ("[{\"type\": \"event\", \"name\": \"E\", \"inputs\": {}}]", 0, "'inputs' is not an array"),
        ("[{\"type\": \"event\", \"name\": \"E\", \"inputs\": [{\"name\": \"x\", \"type\": \"uint256[65536][65536][65536]\"}]}]", 0, "larger than"),
        ("[{\"type\": \"event\", \"name\": \"E\", \"inputs\": [{\"name\": \"x\", \"type\": \"uint256[65536][65536][65536][]\"}]}]", 0, "larger than"),
        ("[{\"type\": \"event\", \"name\": \"E\", \"inputs\": [{\"name\": \"x\", \"type\": \"uint256" + String(repeating: "[]", count: 40) + "\"}]}]", 0, "nests more than"),
    ]

    @Test("a bad ABI gives an error naming the entry and the problem")
    func badABIs() {
        for (json, entry, message) in Self.badABIs {
            do {
                let events = try EventABI.parse(json: json)
                Issue.record("parsed \(events) from \(json)")
            } catch {
                #expect(error.entry == entry, "\(json): \(error)")
                #expect(error.message.contains(message), "\(json): \(error)")
                if let entry { #expect(error.description.hasPrefix("ABI entry \(entry): ")) }
            }
        }
    }

    @Test("deeply nested tuple components are refused without deep recursion")
    func deepTuples() {
        var input = "{\"name\": \"x\", \"type\": \"uint256\"}"
        for _ in 0..<200 {
            input = "{\"name\": \"x\", \"type\": \"tuple\", \"components\": [\(input)]}"
        }
        let json = "[{\"type\": \"event\", \"name\": \"Deep\", \"inputs\": [\(input)]}]"
        #expect(throws: ABIError.self) { try EventABI.parse(json: json) }
    }

    @Test("types built in code are validated like parsed ones")
    func validatesBuiltTypes() {
        let bad: [ABIType] = [.uint(bits: 7), .int(bits: 264), .fixedBytes(size: 0), .array(element: .bool, count: 0),
                              .tuple([]), .array(element: .uint(bits: 256), count: 1 << 40),
                              .tuple([ABIComponent(name: "a", type: .bool), ABIComponent(name: "a", type: .bool)])]
        for type in bad {
            #expect(throws: ABIError.self, "\(type)") {
                try EventABI(name: "E", inputs: [.init(name: "x", type: type, indexed: false)])
            }
        }
    }
}
