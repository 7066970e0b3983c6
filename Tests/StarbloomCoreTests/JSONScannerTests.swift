import Foundation
import Testing
@testable import StarbloomCore
import StarbloomJSON

@Suite("JSON scanner and writer")
struct JSONScannerTests {
    struct Rejected: Sendable, CustomTestStringConvertible {
        let document: String
        let offset: Int
        let message: String
        var testDescription: String { document.count > 40 ? String(document.prefix(40)) + "…" : document }
    }

    static func index(_ document: String) -> Result<[JSONField], JSONSyntaxError> {
        var fields: [JSONField] = []
        do throws(JSONSyntaxError) {
            try JSONScanner.indexObject(Array(document.utf8), into: &fields)
            return .success(fields)
        } catch {
            return .failure(error)
        }
    }

    /// Runs `body` over the document's bytes and its top-level index.
    static func withIndex<R>(_ document: String, _ body: (UnsafeRawBufferPointer, [JSONField]) throws -> R) throws -> R {
        let bytes = Array(document.utf8)
        var fields: [JSONField] = []
        try JSONScanner.indexObject(bytes, into: &fields)
        return try bytes.withUnsafeBytes { try body($0, fields) }
    }

    static func text(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    static let nested64 = "{\"a\":" + String(repeating: "[", count: 63) + String(repeating: "]", count: 63) + "}"
    static let nested65 = "{\"a\":" + String(repeating: "[", count: 64) + String(repeating: "]", count: 64) + "}"

    @Test("valid objects are accepted", arguments: [
        "{}", " \t\r\n{ }\n", #"{"":0}"#, #"{"a":-0,"b":0.5e-3,"c":1E+2,"d":-12.75,"e":10}"#,
        #"{"s":"plain \"quoted\" \\ \/ \b\f\n\r\t \u00e9 \uD83D\uDE00","t":true,"f":false,"n":null}"#,
        #"{"deep":{"x":[1,[2,{"y":[]}],{}],"z":{}},"after":1}"#, "{\"raw\":\"h\u{e9}llo \u{1F600}\"}",
        nested64,
    ])
    func accepts(_ document: String) throws {
        _ = try Self.index(document).get()
    }

    @Test("invalid documents are rejected with the byte offset and reason", arguments: [
        Rejected(document: #"{"a":1,}"#, offset: 7, message: "expected a string key after ',', found '}'"),
        Rejected(document: #"{"a":[1,]}"#, offset: 8, message: "expected a value after ',', found ']'"),
        Rejected(document: #"{"a":"abc"#, offset: 5, message: "unterminated string"),
        Rejected(document: #"{"a":"abc\"}"#, offset: 5, message: "unterminated string"),
        Rejected(document: #"{"a":"\q"}"#, offset: 6, message: "invalid escape '\\q' in string"),
        Rejected(document: #"{"a":"\u12G4"}"#, offset: 6, message: "invalid \\u escape in string: expected four hex digits"),
        Rejected(document: "{\"a\":\"x\ty\"}", offset: 7, message: "unescaped control character byte 0x09 in string"),
        Rejected(document: "{\"a\":\"\u{0}\"}", offset: 6, message: "unescaped control character byte 0x00 in string"),
        Rejected(document: #"{"a":01}"#, offset: 5, message: "leading zeros are not allowed in numbers"),
        Rejected(document: #"{"a":-01}"#, offset: 5, message: "leading zeros are not allowed in numbers"),
        Rejected(document: #"{"a":-}"#, offset: 6, message: "expected a digit after '-', found '}'"),
        Rejected(document: #"{"a":+1}"#, offset: 5, message: "expected a value after ':', found '+'"),
        Rejected(document: #"{"a":.5}"#, offset: 5, message: "expected a value after ':', found '.'"),
        Rejected(document: #"{"a":1.}"#, offset: 7, message: "expected a digit after '.' in number, found '}'"),
        Rejected(document: #"{"a":1e}"#, offset: 7, message: "expected a digit in the exponent, found '}'"),
        Rejected(document: #"{"a":NaN}"#, offset: 5, message: "expected a value after ':', found 'N'"),
        Rejected(document: #"{"a":tru}"#, offset: 5, message: "invalid literal: expected true, false or null"),
        Rejected(document: nested65, offset: 68, message: "nesting deeper than 64 levels"),
        Rejected(document: "[1]", offset: 0, message: "expected '{': the document must be a JSON object, found '['"),
        Rejected(document: #""text""#, offset: 0, message: "expected '{': the document must be a JSON object, found '\"'"),
        Rejected(document: "12", offset: 0, message: "expected '{': the document must be a JSON object, found '1'"),
        Rejected(document: "", offset: 0, message: "expected a JSON object, found end of input"),
        Rejected(document: "  ", offset: 2, message: "expected a JSON object, found end of input"),
        Rejected(document: #"{"a" 1}"#, offset: 5, message: "expected ':' after object key, found '1'"),
        Rejected(document: #"{"a":1 "b":2}"#, offset: 7, message: "expected ',' or '}' after object member, found '\"'"),
        Rejected(document: #"{"a":[1,2}"#, offset: 9, message: "expected ',' or ']' after array element, found '}'"),
        Rejected(document: #"{"a":1"#, offset: 6, message: "expected ',' or '}' after object member, found end of input"),
        Rejected(document: "{}x", offset: 2, message: "expected end of input after the top-level object, found 'x'"),
        Rejected(document: "{} {}", offset: 3, message: "expected end of input after the top-level object, found '{'"),
        Rejected(document: "{/* c */}", offset: 1, message: "expected a string key or '}', found '/'"),
        Rejected(document: "{'a':1}", offset: 1, message: "expected a string key or '}', found '''"),
        Rejected(document: "{a:1}", offset: 1, message: "expected a string key or '}', found 'a'"),
    ])
    func rejects(_ rejected: Rejected) {
        guard case .failure(let error) = Self.index(rejected.document) else {
            Issue.record("accepted \(rejected.document)")
            return
        }
        #expect(error == JSONSyntaxError(offset: rejected.offset, message: rejected.message))
        #expect(error.description == "\(rejected.message) at byte \(rejected.offset)")
    }

    @Test("an element walk hands each object element over with the same members a separate walk finds, and other elements with none")
    func elementWalk() throws {
        let document = #"{"a": [ {"x": 1, "y": {"z": [1, "}"]}} , 7, "s", [ {"q": 1} ], {}, { "k" : "v\"}" } ]}"#
        try Self.withIndex(document) { bytes, fields in
            var walk = try #require(JSONScanner.elementWalk(of: bytes, array: fields[0]))
            var expected: [JSONField] = []
            JSONScanner.elements(of: bytes, array: fields[0], into: &expected)
            var members: [JSONField] = []
            var separately: [JSONField] = []
            var seen: [JSONField] = []
            while let element = walk.next(members: &members) {
                seen.append(element)
                JSONScanner.members(of: bytes, object: element, into: &separately)
                #expect(members == separately, "\(JSONScanner.decodeString(bytes, element))")
            }
            #expect(seen.map(\.valueRange) == expected.map(\.valueRange))
            #expect(seen.map(\.kind) == [.object, .number, .string, .array, .object, .object])
            #expect(JSONScanner.elementWalk(of: bytes, array: expected[0]) == nil, "an object is not an array")
        }
    }

    @Test("top-level members are recorded with key and value ranges and kinds; nested values are not")
    func topLevelMembers() throws {
        let document = #" {"n": -1.5e3, "s":"a\"b", "o":{"x":[1,2]}, "a":[{"y":1}], "t":true, "f":false, "z":null} "#
        try Self.withIndex(document) { bytes, fields in
            #expect(fields.map { Self.text(bytes, $0.keyRange) } == ["n", "s", "o", "a", "t", "f", "z"])
            #expect(fields.map { Self.text(bytes, $0.valueRange) } == ["-1.5e3", #""a\"b""#, #"{"x":[1,2]}"#, #"[{"y":1}]"#, "true", "false", "null"])
            #expect(fields.map(\.kind) == [.number, .string, .object, .array, .trueValue, .falseValue, .null])
            #expect(fields.map(\.valueHasEscapes) == [false, true, false, false, false, false, false])
        }
        var fields = [JSONField(keyStart: 0, keyEnd: 0, valueStart: 0, valueEnd: 0, kind: .null)]
        try JSONScanner.indexObject(Array("{}".utf8), into: &fields)
        #expect(fields.isEmpty, "the index is cleared first")
    }

    @Test("lookup compares escaped keys decoded, and the last of repeated keys wins")
    func lookup() throws {
        try Self.withIndex(#"{"\u0061mount":5,"b\"c":6,"dup":1,"dup":2,"plain":3}"#) { bytes, fields in
            #expect(fields[0].keyHasEscapes && !fields[4].keyHasEscapes)
            let amount = JSONScanner.lookup(bytes, fields: fields, key: Array("amount".utf8))
            #expect(amount.map { Self.text(bytes, $0.valueRange) } == "5")
            #expect(JSONScanner.lookup(bytes, fields: fields, key: Array(#"b"c"#.utf8)).map { Self.text(bytes, $0.valueRange) } == "6")
            #expect(JSONScanner.lookup(bytes, fields: fields, key: Array("dup".utf8)).map { Self.text(bytes, $0.valueRange) } == "2")
            #expect(JSONScanner.lookup(bytes, fields: fields, key: Array("\\u0061mount".utf8)) == nil)
            #expect(JSONScanner.lookup(bytes, fields: fields, key: Array("plai".utf8)) == nil)
        }
    }

    @Test("nested objects and arrays are walked on demand: members, elements, member, element, count")
    func nested() throws {
        let document = #"{"transfer":{"from":"0xa","amount":"42","logs":[{"topic":"t0"},{"topic":"t\u0031"}],"amount":"43"},"list":[ 1 , "two" ,[3], {} ,null]}"#
        try Self.withIndex(document) { bytes, fields in
            let transfer = try #require(JSONScanner.lookup(bytes, fields: fields, key: Array("transfer".utf8)))
            var members: [JSONField] = []
            JSONScanner.members(of: bytes, object: transfer, into: &members)
            #expect(members.map { Self.text(bytes, $0.keyRange) } == ["from", "amount", "logs", "amount"])
            #expect(JSONScanner.member(Array("amount".utf8), in: transfer, of: bytes).map { Self.text(bytes, $0.valueRange) } == #""43""#)
            let logs = try #require(JSONScanner.member(Array("logs".utf8), in: transfer, of: bytes))
            let second = try #require(JSONScanner.element(1, in: logs, of: bytes))
            let topic = try #require(JSONScanner.member(Array("topic".utf8), in: second, of: bytes))
            #expect(JSONScanner.decodeString(bytes, topic) == "t1")
            #expect(JSONScanner.element(2, in: logs, of: bytes) == nil)
            #expect(JSONScanner.count(of: bytes, logs) == 2)

            let list = try #require(JSONScanner.lookup(bytes, fields: fields, key: Array("list".utf8)))
            var elements: [JSONField] = []
            JSONScanner.elements(of: bytes, array: list, into: &elements)
            #expect(elements.map { Self.text(bytes, $0.valueRange) } == ["1", #""two""#, "[3]", "{}", "null"])
            #expect(elements.map(\.kind) == [.number, .string, .array, .object, .null])
            #expect(elements.allSatisfy { $0.keyStart == $0.keyEnd })
            JSONScanner.members(of: bytes, object: list, into: &elements)
            #expect(elements.isEmpty, "members of an array: none")
        }
    }

    @Test("decodeString decodes every escape, joins surrogate pairs and replaces lone surrogates with U+FFFD", arguments: [
        (#""plain""#, "plain"),
        (#""q\" b\\ s\/ \b\f\n\r\t""#, "q\" b\\ s/ \u{8}\u{c}\n\r\t"),
        (#""\u00e9\u4e2d\u0000""#, "\u{e9}\u{4e2d}\u{0}"),
        (#""\ud83d\ude00!""#, "\u{1F600}!"),
        (#""\uD83D\uDE00""#, "\u{1F600}"),
        (#""a\ud800b""#, "a\u{FFFD}b"),
        (#""\udc00""#, "\u{FFFD}"),
        (#""\ud800\u0041""#, "\u{FFFD}A"),
        (#""\ud800\ud800\udc00""#, "\u{FFFD}\u{10000}"),
        (#""raw h\#u{e9}llo""#, "raw h\u{e9}llo"),
    ])
    func decodeString(_ json: String, _ expected: String) throws {
        try Self.withIndex("{\"v\":\(json)}") { bytes, fields in
            #expect(JSONScanner.decodeString(bytes, fields[0]) == expected)
        }
    }

    @Test("the writer places commas, escapes strings and formats numbers")
    func writer() {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("a")
        writer.beginArray()
        writer.integer(Int64.min)
        writer.unsigned(UInt64.max)
        writer.number(3.0)
        writer.number(0.1)
        writer.number(-2.5e-7)
        writer.number(.infinity)
        writer.bool(true)
        writer.null()
        writer.beginObject()
        writer.endObject()
        writer.beginArray()
        writer.endArray()
        writer.endArray()
        writer.key(utf8: Array("q\"k".utf8))
        writer.string("line\nend\u{1}\u{1F600}\\")
        writer.key("big")
        writer.uint256String(.max)
        writer.key("raw")
        writer.raw(Array(#"{"x":[1]}"#.utf8))
        writer.endObject()
        let expected = #"{"a":[-9223372036854775808,18446744073709551615,3,0.1,-2.5e-07,null,true,null,{},[]],"q\"k":"line\nend\u0001😀\\","big":"115792089237316195423570985008687907853269984665640564039457584007913129639935","raw":{"x":[1]}}"#
        #expect(String(decoding: writer.bytes, as: UTF8.self) == expected)
        let capacity = writer.bytes.capacity
        writer.reset()
        #expect(writer.bytes.isEmpty && writer.bytes.capacity == capacity)
        writer.beginArray()
        writer.integer(1)
        writer.endArray()
        #expect(writer.bytes == Array("[1]".utf8), "no comma carried over from before the reset")
    }

    @Test("writer output of random strings, control characters included, parses back with JSONSerialization")
    func writerRoundTrip() throws {
        var random = SplitMix64(state: 0x5EED)
        let alphabet: [Unicode.Scalar] = (0..<0x20).map { Unicode.Scalar($0)! } + ["\"", "\\", "/", "a", "Z", " ", "\u{7F}", "\u{e9}", "\u{2028}", "\u{FFFF}", "\u{1F600}"]
        for _ in 0..<300 {
            var key = String.UnicodeScalarView()
            var value = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 0..<6, using: &random) { key.append(alphabet.randomElement(using: &random)!) }
            for _ in 0..<Int.random(in: 0..<40, using: &random) { value.append(alphabet.randomElement(using: &random)!) }
            var writer = JSONWriter()
            writer.beginObject()
            writer.key(String(key))
            writer.string(String(value))
            writer.key("list")
            writer.beginArray()
            String(value).utf8.withContiguousStorageIfAvailable { writer.string(utf8: UnsafeRawBufferPointer($0)) }
            writer.endArray()
            writer.endObject()
            let parsed = try #require(try JSONSerialization.jsonObject(with: Data(writer.bytes)) as? [String: Any])
            #expect(parsed[String(key)] as? String == String(value))
            #expect((parsed["list"] as? [String])?.first == String(value))
            // Our own scanner accepts it too, and decodes the same text.
            try Self.withIndex(String(decoding: writer.bytes, as: UTF8.self)) { bytes, fields in
                #expect(JSONScanner.decodeString(bytes, fields[0]) == String(value))
            }
        }
    }
}
