import Testing
@testable import StarbloomCore

// MARK: - Helpers

/// The error `TOMLParser.parse` throws for `text`, or `nil` if it parses.
private func parseError(_ text: String) -> TOMLError? {
    do throws(TOMLError) {
        _ = try TOMLParser.parse(text)
        return nil
    } catch {
        return error
    }
}

/// Parses `v = <text>` and returns the value of `v`.
private func value(_ text: String) throws -> TOMLValue? {
    try TOMLParser.parse("v = " + text)["v"]
}

/// Expects `text` to fail with a message containing `fragment` (and, if given, at `line`/`column`).
private func expectError(
    _ text: String,
    _ fragment: String,
    line: Int? = nil,
    column: Int? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard let error = parseError(text) else {
        Issue.record("expected an error containing \"\(fragment)\" for:\n\(text)", sourceLocation: sourceLocation)
        return
    }
    #expect(error.message.contains(fragment), "got: \(error)", sourceLocation: sourceLocation)
    if let line {
        #expect(error.line == line, "got: \(error)", sourceLocation: sourceLocation)
    }
    if let column {
        #expect(error.column == column, "got: \(error)", sourceLocation: sourceLocation)
    }
}

private let sampleConfig = """
    # Starbloom
    data_dir = "./data"
    [server]
    host = "127.0.0.1"
    port = 8080
    [[instances]]
    name = "demo-source"
    plugin = "synthetic-source"
    enabled = true
    restart = { policy = "on-failure", max_restarts = 5 }
    [instances.settings]
    topic = "demo.events"
    rate = 1_000
    tags = ["a", "b"]
    [[instances]]
    name = "second"
    plugin = "synthetic-source"

    """


// MARK: - Document shaped like starbloom.toml

@Suite("TOML parser")
struct TOMLParserTests {
    @Test func parsesStarbloomConfig() throws {
        let table = try TOMLParser.parse(sampleConfig)
        #expect(table.keys == ["data_dir", "server", "instances"])
        #expect(table["data_dir"] == .string("./data"))
        #expect(table[path: ["server", "host"]]?.stringValue == "127.0.0.1")
        #expect(table[path: ["server", "port"]]?.intValue == 8080)

        let instances = try #require(table["instances"]?.arrayValue)
        #expect(instances.count == 2)
        let first = try #require(instances[0].tableValue)
        #expect(first.keys == ["name", "plugin", "enabled", "restart", "settings"])
        #expect(first["name"]?.stringValue == "demo-source")
        #expect(first["plugin"]?.stringValue == "synthetic-source")
        #expect(first["enabled"]?.boolValue == true)
        #expect(first["restart"] == .table(["policy": .string("on-failure"), "max_restarts": .integer(5)]))
        #expect(first["restart"]?.tableValue?.keys == ["policy", "max_restarts"])
        #expect(first[path: ["settings", "topic"]]?.stringValue == "demo.events")
        #expect(first[path: ["settings", "rate"]]?.intValue == 1000)
        #expect(first[path: ["settings", "tags"]] == .array([.string("a"), .string("b")]))

        let second = try #require(instances[1].tableValue)
        #expect(second.keys == ["name", "plugin"])
        #expect(second["name"]?.stringValue == "second")
        #expect(second["settings"] == nil)
    }

    // MARK: Comments and keys

    @Test func comments() throws {
        let table = try TOMLParser.parse("""
            # full-line comment
              # indented comment
            a = 1 # trailing comment
            b = "# not a comment" #comment
            c = [ # in an array
              1, # after an element
              # on its own line
              2,
            ] # after the array
            [t] # after a header
            #
            """)
        #expect(table["a"] == .integer(1))
        #expect(table["b"] == .string("# not a comment"))
        #expect(table["c"] == .array([.integer(1), .integer(2)]))
        #expect(table["t"] == .table(TOMLTable()))
    }

    @Test func emptyAndWhitespaceOnlyDocuments() throws {
        #expect(try TOMLParser.parse("").isEmpty)
        #expect(try TOMLParser.parse("\n\n  \t\n# only a comment").isEmpty)
        #expect(try TOMLParser.parse("\u{FEFF}a = 1")["a"] == .integer(1))
        #expect(try TOMLParser.parse("a = 1\r\nb = 2\r\n")["b"] == .integer(2))
    }

    @Test func keys() throws {
        let table = try TOMLParser.parse("""
            bare_key-1 = 1
            "quoted key" = 2
            "esc\\u00E9\\"" = 3
            'literal "key"' = 4
            "" = 5
            1234 = 6
            3.14 = 7
            a . b . "c d" = 8
            site."google.com" = 9
            true = 10
            """)
        #expect(table["bare_key-1"] == .integer(1))
        #expect(table["quoted key"] == .integer(2))
        #expect(table["esc\u{E9}\""] == .integer(3))
        #expect(table["literal \"key\""] == .integer(4))
        #expect(table[""] == .integer(5))
        #expect(table["1234"] == .integer(6))
        #expect(table[path: ["3", "14"]] == .integer(7))
        #expect(table[path: ["a", "b", "c d"]] == .integer(8))
        #expect(table[path: ["site", "google.com"]] == .integer(9))
        #expect(table["true"] == .integer(10))
        #expect(table.keys == ["bare_key-1", "quoted key", "esc\u{E9}\"", "literal \"key\"", "", "1234", "3", "a", "site", "true"])
    }

    @Test func dottedKeysBuildTables() throws {
        let table = try TOMLParser.parse("""
            fruit.name = "apple"
            fruit.color = "red"
            fruit.taste.sweet = true
            """)
        #expect(table["fruit"] == .table([
            "name": .string("apple"),
            "color": .string("red"),
            "taste": .table(["sweet": .bool(true)]),
        ]))
        #expect(table["fruit"]?.tableValue?.keys == ["name", "color", "taste"])
    }

    @Test func keyErrors() {
        expectError("= 1", "expected a key, found '='", line: 1, column: 1)
        expectError("rate 5", "expected '=' after key 'rate'", line: 1, column: 6)
        expectError("a.b c = 1", "expected '=' after key 'a.b'")
        expectError("a. = 1", "expected a key, found '='")
        expectError("\"\"\"k\"\"\" = 1", "multi-line strings cannot be used as keys")
        expectError("k\u{E9} = 1", "expected '=' after key 'k', found '\u{E9}'")
        expectError("a = 1 b = 2", "expected end of line after value, found 'b'", line: 1, column: 7)
        expectError("a =", "expected a value, found end of file")
        expectError("a = \nb = 1", "expected a value, found end of line", line: 1, column: 5)
        expectError("host = localhost", "invalid value 'localhost' (strings must be quoted)")
    }

    // MARK: Strings

    @Test func basicStringEscapes() throws {
        #expect(try value(#""a\bb\tc\nd\fe\rf\"g\\h""#) == .string("a\u{8}b\tc\nd\u{C}e\rf\"g\\h"))
        #expect(try value(#""\u00E9\u0041\U0001F600""#) == .string("\u{E9}A\u{1F600}"))
        #expect(try value(#""tab\tand literal\u0009tab""#) == .string("tab\tand literal\ttab"))
        #expect(try value("\"raw tab\there\"") == .string("raw tab\there"))
        #expect(try value("\"\"") == .string(""))
        #expect(try value("\"caf\u{E9} \u{1F338}\"") == .string("caf\u{E9} \u{1F338}"))
    }

    @Test func literalStrings() throws {
        #expect(try value(#"'C:\Users\nodejs\templates'"#) == .string(#"C:\Users\nodejs\templates"#))
        #expect(try value(#"'<\i\c*\s*>'"#) == .string(#"<\i\c*\s*>"#))
        #expect(try value("''") == .string(""))
        #expect(try value(#"'Tom "Dubs" Preston'"#) == .string(#"Tom "Dubs" Preston"#))
    }

    @Test func multilineBasicStrings() throws {
        #expect(try value("\"\"\"\nRoses are red\nViolets are blue\"\"\"") == .string("Roses are red\nViolets are blue"))
        #expect(try value("\"\"\"\r\none\r\ntwo\"\"\"") == .string("one\ntwo"))
        // Line-ending backslash trims the newline and the following whitespace.
        #expect(try value("\"\"\"\nThe quick \\\n\n    brown \\   \n  fox.\\\n\"\"\"") == .string("The quick brown fox."))
        // Quotes inside, and up to two right before the closing delimiter.
        #expect(try value(#""""Here are two quotation marks: "". Simple enough.""""#)
            == .string(#"Here are two quotation marks: "". Simple enough."#))
        #expect(try value(#""""Here are fifteen quotation marks: ""\"""\"""\"""\"""\".""""#)
            == .string(#"Here are fifteen quotation marks: """""""""""""""."#))
        // From the TOML spec: str7 = """"This," she said, "is just a pointless statement.""""
        #expect(try value(#"""""This," she said, "is just a pointless statement."""""#)
            == .string(#""This," she said, "is just a pointless statement.""#))
        #expect(try value("\"\"\"\"\"\"") == .string(""))
        #expect(try value("\"\"\"\"\"\"\"") == .string("\""))  // """ + " + """
        #expect(try value("\"\"\"a\\tb\\u0041\"\"\"") == .string("a\tbA"))
    }

    @Test func multilineLiteralStrings() throws {
        #expect(try value("'''\nThe first newline is\ntrimmed in raw strings.\n   All other whitespace\n   is preserved.\n'''")
            == .string("The first newline is\ntrimmed in raw strings.\n   All other whitespace\n   is preserved.\n"))
        #expect(try value(#"'''I [dw]on't need \d{2} apples'''"#) == .string(#"I [dw]on't need \d{2} apples"#))
        #expect(try value("'''''That,' she said, 'is still pointless.'''''")
            == .string("''That,' she said, 'is still pointless.''"))
    }

    @Test func stringErrors() {
        expectError("a = \"abc", "unterminated string", line: 1, column: 5)
        expectError("a = \"abc\nb = 1", "unterminated string", line: 1, column: 5)
        expectError("a = 'abc", "unterminated string")
        expectError("a = \"\"\"abc\n", "unterminated multi-line string", line: 1, column: 5)
        expectError("a = '''abc", "unterminated multi-line string")
        expectError(#"a = "bad \q escape""#, #"invalid escape '\q'"#, line: 1, column: 10)
        expectError(#"a = "\x41""#, #"invalid escape '\x'"#)
        expectError("a = \"\\ \"", "invalid escape")
        expectError(#"a = "\u00G1""#, "invalid unicode escape")
        expectError(#"a = "\u12""#, "invalid unicode escape")
        expectError(#"a = "\uD800""#, "is not a Unicode scalar value")
        expectError(#"a = "\U00110000""#, "is not a Unicode scalar value")
        expectError("a = \"\"\"a \\ b\"\"\"", "invalid escape")
        expectError("a = \"\"\"a\"\"\"\"\"\"", "too many quotes")
        expectError("a = \"nul\u{0}here\"", "control character U+0000 is not allowed in strings", line: 1, column: 9)
        expectError("a = 'bell\u{7}'", "control character U+0007")
        expectError("a = \"\"\"del\u{7F}\"\"\"", "control character U+007F")
        expectError("a = '''a\rb'''", "carriage return must be followed by a line feed")
    }

    // MARK: Numbers and booleans

    @Test func integers() throws {
        #expect(try value("+99") == .integer(99))
        #expect(try value("42") == .integer(42))
        #expect(try value("0") == .integer(0))
        #expect(try value("-17") == .integer(-17))
        #expect(try value("+0") == .integer(0))
        #expect(try value("-0") == .integer(0))
        #expect(try value("1_000") == .integer(1000))
        #expect(try value("5_349_221") == .integer(5_349_221))
        #expect(try value("1_2_3_4_5") == .integer(12345))
        #expect(try value("0xDEADBEEF") == .integer(0xDEAD_BEEF))
        #expect(try value("0xdead_beef") == .integer(0xDEAD_BEEF))
        #expect(try value("0x00ff") == .integer(255))
        #expect(try value("0o01234567") == .integer(0o1234567))
        #expect(try value("0o755") == .integer(493))
        #expect(try value("0b11010110") == .integer(214))
        #expect(try value("9223372036854775807") == .integer(Int64.max))
        #expect(try value("-9223372036854775808") == .integer(Int64.min))
        #expect(try value("0x7FFFFFFFFFFFFFFF") == .integer(Int64.max))
    }

    @Test func integerErrors() {
        expectError("a = 99999999999999999999", "integer 99999999999999999999 overflows 64 bits", line: 1, column: 5)
        expectError("a = 9223372036854775808", "overflows 64 bits")
        expectError("a = -9223372036854775809", "overflows 64 bits")
        expectError("a = 0x8000000000000000", "overflows 64 bits")
        expectError("a = 0x1_0000_0000_0000_0000", "overflows 64 bits")
        expectError("a = 012", "leading zeros are not allowed")
        expectError("a = -01", "leading zeros are not allowed")
        expectError("a = 1__2", "underscore must be between two digits")
        expectError("a = 1_", "underscore must be between two digits")
        expectError("a = 0x_1", "expected digits after '0x'")
        expectError("a = 0x", "expected digits after '0x'")
        expectError("a = +0x1", "cannot have a sign")
        expectError("a = 0b102", "invalid number '0b102'")
        expectError("a = 0o8", "expected digits after '0o'")
        expectError("a = 0X1F", "invalid number")
        expectError("a = ++1", "invalid number")
        expectError("a = 1a", "invalid number '1a'")
        expectError("a = _1", "invalid value '_1' (strings must be quoted)")
    }

    @Test func floats() throws {
        #expect(try value("+1.0") == .float(1.0))
        #expect(try value("3.1415") == .float(3.1415))
        #expect(try value("-0.01") == .float(-0.01))
        #expect(try value("5e+22") == .float(5e22))
        #expect(try value("1e06") == .float(1e6))
        #expect(try value("-2E-2") == .float(-0.02))
        #expect(try value("6.626e-34") == .float(6.626e-34))
        #expect(try value("224_617.445_991_228") == .float(224_617.445_991_228))
        #expect(try value("0.0") == .float(0))
        #expect(try value("0e0") == .float(0))
        #expect(try value("inf") == .float(.infinity))
        #expect(try value("+inf") == .float(.infinity))
        #expect(try value("-inf") == .float(-.infinity))
        #expect(try value("nan")?.doubleValue?.isNaN == true)
        #expect(try value("+nan")?.doubleValue?.isNaN == true)
        #expect(try value("-nan")?.doubleValue?.isNaN == true)
        #expect(try value("-0.0")?.doubleValue?.sign == .minus)
        #expect(try value("1e-400") == .float(0))
    }

    @Test func floatErrors() {
        expectError("a = 1.", "expected a digit after the decimal point")
        expectError("a = .5", "invalid number '.5'")
        expectError("a = 1.e5", "expected a digit after the decimal point")
        expectError("a = 1e", "expected digits in the exponent")
        expectError("a = 1e_5", "expected digits in the exponent")
        expectError("a = 03.14", "leading zeros are not allowed")
        expectError("a = 1_.5", "underscore must be between two digits")
        expectError("a = 1.5_", "underscore must be between two digits")
        expectError("a = 1.2.3", "invalid number '1.2.3'")
        expectError("a = 1e400", "float 1e400 is out of range")
        expectError("a = infinity", "invalid value 'infinity'")
        expectError("a = NaN", "invalid value 'NaN'")
    }

    @Test func booleans() throws {
        #expect(try value("true") == .bool(true))
        #expect(try value("false") == .bool(false))
        expectError("a = True", "invalid value 'True'")
        expectError("a = truex", "invalid value 'truex'")
        expectError("a = tru", "invalid value 'tru'")
    }

    // MARK: Date-times

    @Test func datetimesKeepRawText() throws {
        let cases = [
            "1979-05-27T07:32:00Z",
            "1979-05-27T00:32:00-07:00",
            "1979-05-27T00:32:00.999999+07:00",
            "1979-05-27 07:32:00Z",
            "1979-05-27t07:32:00z",
            "1979-05-27T07:32:00",
            "1979-05-27T00:32:00.999999",
            "1979-05-27",
            "07:32:00",
            "00:32:00.999999",
            "2024-02-29",
            "2000-02-29",
            "1990-12-31T23:59:60Z",
        ]
        for text in cases {
            #expect(try value(text) == .datetime(text), "\(text)")
        }
        let table = try TOMLParser.parse("d = 1979-05-27 # a date, then a comment\nt = [07:32:00, 1979-05-27T07:32:00Z]")
        #expect(table["d"] == .datetime("1979-05-27"))
        #expect(table["t"] == .array([.datetime("07:32:00"), .datetime("1979-05-27T07:32:00Z")]))
        #expect(table["d"]?.typeName == "datetime")
        #expect(table["d"]?.datetimeValue == "1979-05-27")
    }

    @Test func datetimeErrors() {
        expectError("a = 1979-13-27", "month must be between 01 and 12", line: 1, column: 5)
        expectError("a = 1979-00-27", "month must be between 01 and 12")
        expectError("a = 2023-02-29", "day must be between 01 and 28")
        expectError("a = 1979-04-31", "day must be between 01 and 30")
        expectError("a = 1979-05-27T24:00:00", "hour must be between 00 and 23")
        expectError("a = 1979-05-27T07:60:00", "minute must be between 00 and 59")
        expectError("a = 07:32:61", "second must be between 00 and 60")
        expectError("a = 1979-05-27T07:32Z", "invalid date-time '1979-05-27T07:32Z'")
        expectError("a = 1979-05-27T", "invalid date-time")
        expectError("a = 1979-5-27", "invalid date-time")
        expectError("a = 07:32", "invalid date-time")
        expectError("a = 07:32:00.", "expected digits after '.'")
        expectError("a = 1979-05-27T07:32:00+25:00", "time offset out of range")
        expectError("a = 1979-05-27T07:32:00+07", "time offset")
        expectError("a = 1979-05-27X", "expected end of line after value, found 'X'")
    }

    // MARK: Arrays

    @Test func arrays() throws {
        #expect(try value("[]") == .array([]))
        #expect(try value("[ 1, 2, 3 ]") == .array([.integer(1), .integer(2), .integer(3)]))
        #expect(try value("[1,2,]") == .array([.integer(1), .integer(2)]))
        #expect(try value("[ [ 1, 2 ], [\"a\", 'b'] ]") == .array([
            .array([.integer(1), .integer(2)]),
            .array([.string("a"), .string("b")]),
        ]))
        // Mixed types are allowed in TOML 1.0.
        #expect(try value("[ 0.1, 1, \"x\", true, 1979-05-27, [2], { a = 3 } ]") == .array([
            .float(0.1), .integer(1), .string("x"), .bool(true), .datetime("1979-05-27"),
            .array([.integer(2)]), .table(["a": .integer(3)]),
        ]))
        let multiline = try value("""
            [
              "first",   # comment
              # comment line

              "second",
            ]
            """)
        #expect(multiline == .array([.string("first"), .string("second")]))
        #expect(try value("[\r\n1,\r\n2\r\n]") == .array([.integer(1), .integer(2)]))
    }

    @Test func arrayErrors() {
        expectError("a = [1, 2", "unterminated array", line: 1, column: 5)
        expectError("a = [1 2]", "expected ',' or ']' after array element, found '2'", line: 1, column: 8)
        expectError("a = [,]", "expected a value, found ','")
        expectError("a = [1,,2]", "expected a value, found ','")
        expectError("a = [1, # comment\u{1}\n]", "control character U+0001 is not allowed in comments")
    }

    // MARK: Inline tables

    @Test func inlineTables() throws {
        #expect(try value("{}") == .table(TOMLTable()))
        #expect(try value("{ first = \"Tom\", last = \"Preston-Werner\" }")
            == .table(["first": .string("Tom"), "last": .string("Preston-Werner")]))
        #expect(try value("{ x = 1, y = { z = [1, 2] } }")
            == .table(["x": .integer(1), "y": .table(["z": .array([.integer(1), .integer(2)])])]))
        #expect(try value("{ type.name = \"pug\", type.size = 1 }")
            == .table(["type": .table(["name": .string("pug"), "size": .integer(1)])]))
        let table = try TOMLParser.parse("points = [ { x = 1, y = 2 }, { x = 7, y = 8 } ]")
        #expect(table["points"]?.arrayValue?.count == 2)
        #expect(table["points"]?.arrayValue?[1]["y"] == .integer(8))
    }

    @Test func inlineTableErrors() {
        expectError("a = { b = 1, }", "trailing comma is not allowed in inline tables", line: 1, column: 14)
        expectError("a = { b = 1,\n c = 2 }", "newlines are not allowed in inline tables", line: 1, column: 13)
        expectError("a = {\n}", "newlines are not allowed in inline tables")
        expectError("a = { b = 1", "unterminated inline table", line: 1, column: 5)
        expectError("a = { b = 1 c = 2 }", "expected ',' or '}' in inline table, found 'c'")
        expectError("a = { b = 1, b = 2 }", "duplicate key 'b'")
        expectError("a = { b = { c = 1 }, b.d = 2 }", "cannot extend inline table 'b'")
        expectError("a = { , }", "expected a key, found ','")
    }

    // MARK: Tables and arrays of tables

    @Test func tables() throws {
        let table = try TOMLParser.parse("""
            [table-1]
            key1 = "some string"
            key2 = 123

            [ dog . "tater.man" ]
            type.name = "pug"

            [a.b.c]
            x = 1
            [a]      # defining a super-table afterwards is fine
            y = 2
            [a.b.d]
            z = 3

            [fruit]
            apple.color = "red"
            apple.taste.sweet = true
            [fruit.apple.texture]  # sub-table of a dotted-key table
            smooth = true
            """)
        #expect(table.keys == ["table-1", "dog", "a", "fruit"])
        #expect(table[path: ["table-1", "key2"]] == .integer(123))
        #expect(table[path: ["dog", "tater.man", "type", "name"]] == .string("pug"))
        #expect(table[path: ["a", "b", "c", "x"]] == .integer(1))
        #expect(table[path: ["a", "y"]] == .integer(2))
        #expect(table[path: ["a", "b", "d", "z"]] == .integer(3))
        #expect(table[path: ["fruit", "apple", "color"]] == .string("red"))
        #expect(table[path: ["fruit", "apple", "taste", "sweet"]] == .bool(true))
        #expect(table[path: ["fruit", "apple", "texture", "smooth"]] == .bool(true))
    }

    @Test func arraysOfTables() throws {
        let table = try TOMLParser.parse("""
            [[products]]
            name = "Hammer"
            sku = 738594937

            [[products]]  # empty table within the array

            [[products]]
            name = "Nail"
            color = "gray"

            [[fruits]]
            name = "apple"
            [fruits.physical]
            color = "red"
            [[fruits.varieties]]
            name = "red delicious"
            [[fruits.varieties]]
            name = "granny smith"

            [[fruits]]
            name = "banana"
            [[fruits.varieties]]
            name = "plantain"
            """)
        let products = try #require(table["products"]?.arrayValue)
        #expect(products.count == 3)
        #expect(products[0]["name"] == .string("Hammer"))
        #expect(products[1] == .table(TOMLTable()))
        #expect(products[2]["color"] == .string("gray"))

        let fruits = try #require(table["fruits"]?.arrayValue)
        #expect(fruits.count == 2)
        #expect(fruits[0]["physical"]?["color"] == .string("red"))
        #expect(fruits[0]["varieties"]?.arrayValue?.count == 2)
        #expect(fruits[0]["varieties"]?.arrayValue?[1]["name"] == .string("granny smith"))
        #expect(fruits[1]["varieties"] == .array([.table(["name": .string("plantain")])]))
        #expect(table["fruits"]?.typeName == "array")
    }

    @Test func implicitTablesCanBeDefinedLater() throws {
        let table = try TOMLParser.parse("[[a.b]]\nx = 1\n[a]\ny = 2\n")
        #expect(table[path: ["a", "y"]] == .integer(2))
        #expect(table[path: ["a", "b"]]?.arrayValue?.count == 1)
        // A dotted key may pass through a table only implied by a header.
        let other = try TOMLParser.parse("[x.y.z]\n[x]\ny.w = 1\n")
        #expect(other[path: ["x", "y", "w"]] == .integer(1))
    }

    @Test func redefinitionErrors() {
        expectError("name = \"a\"\nport = 1\nname = \"b\"", "duplicate key 'name' (first defined at line 1)", line: 3, column: 1)
        expectError("[server]\nhost = \"a\"\n\n  host = \"b\"", "duplicate key 'host' (first defined at line 2)", line: 4, column: 3)
        expectError("a.b = 1\na.b = 2", "duplicate key 'a.b' (first defined at line 1)")
        expectError("a = 1\na.b = 2", "key 'a' is already defined as an integer at line 1")
        expectError("a.b = 1\na = 2", "duplicate key 'a'")
        expectError("[a]\nx = 1\n[b]\n[a]", "duplicate table [a] (first defined at line 1)", line: 4, column: 1)
        expectError("[a.b]\n[a]\n[a]", "duplicate table [a]")
        expectError("[a]\nb = 1\n[a.b]", "duplicate key 'a.b': already defined as an integer at line 2")
        expectError("[a]\nb.c = 1\n[a.b]", "cannot define table [a.b]: it is already defined by dotted keys at line 2")
        expectError("[fruit]\napple.taste.sweet = true\n[fruit.apple.taste]", "already defined by dotted keys")
        expectError("a.b = 1\n[a]", "already defined by dotted keys")
        expectError("[a.b.c]\nz = 9\n[a]\nb.c.t = 1", "cannot add to table 'b.c' with a dotted key")
        expectError("[[a]]\n[a]", "'a' is already an array of tables")
        expectError("[a]\n[[a]]", "'a' is already a table")
        expectError("[[albums.songs]]\n[[albums]]", "'albums' is already a table")
        expectError("[[a.b]]\n[a]\nb.y = 2", "cannot add to array of tables 'b' with a dotted key")
        expectError("a = 1\n[a]", "duplicate key 'a': already defined as an integer at line 1")
    }

    @Test func inlineTablesAndStaticArraysAreClosed() {
        expectError("[product]\ntype = { name = \"Nail\" }\ntype.edible = false", "cannot extend inline table 'type' (defined at line 2)", line: 3, column: 1)
        expectError("a = {}\n[a.b]", "cannot extend inline table 'a' (defined at line 1)", line: 2, column: 1)
        expectError("a = { b = 1 }\n[a]", "cannot extend inline table 'a'")
        expectError("fruits = []\n[[fruits]]", "cannot append to static array 'fruits'", line: 2, column: 1)
        expectError("fruits = [{ name = \"apple\" }]\n\n[[fruits]]", "cannot append to static array 'fruits' with [[fruits]] (array defined at line 1)", line: 3)
        expectError("a = [1]\n[a]", "already defined as an array")
        expectError("a = [1]\n[a.b]", "key 'a' is already defined as an array at line 1")
        expectError("a.b = 1\na = {}", "duplicate key 'a'")
    }

    @Test func headerErrors() {
        expectError("[a", "expected ']' to close [a], found end of file")
        expectError("[[a]\n", "expected ']]' to close [[a]]")
        expectError("[]", "expected a key, found ']'")
        expectError("[a]]", "expected end of line after table header, found ']'")
        expectError("[a] b = 1", "expected end of line after table header, found 'b'")
        expectError("[key#group]", "expected ']' to close [key], found '#'")
        expectError("[ [a] ]", "expected a key, found '['")
    }

    // MARK: Errors, limits, robustness

    @Test func errorDescriptionHasLineAndColumn() throws {
        let error = try #require(parseError("a = 1\nb = \"x\nc = 3"))
        #expect(error.line == 2)
        #expect(error.column == 5)
        #expect(error.description == "line 2, column 5: \(error.message)")
        #expect(error.description.hasPrefix("line 2, column 5: unterminated string"))
    }

    @Test func columnsCountCharactersNotBytes() {
        expectError("s = \"\u{E9}\u{E9}\u{1F338}\" x", "expected end of line after value, found 'x'", line: 1, column: 11)
    }

    @Test func controlCharactersAndNewlines() {
        expectError("# bell \u{7}\n", "control character U+0007 is not allowed in comments", line: 1, column: 8)
        expectError("a = 1\rb = 2", "carriage return must be followed by a line feed", line: 1, column: 6)
        expectError("a = 1\n\u{1}", "expected a key, found control character U+0001", line: 2, column: 1)
        expectError("a\u{A0}= 1", "expected '=' after key 'a'")
    }

    @Test func deepNestingIsRejectedNotCrashing() {
        expectError("a = " + String(repeating: "[", count: 100_000), "nesting too deep")
        expectError("a = " + String(repeating: "{b=", count: 100_000), "nesting too deep")
        expectError(String(repeating: "a.", count: 100_000) + "a = 1", "nesting too deep")
        expectError("[" + String(repeating: "a.", count: 100_000) + "a]", "nesting too deep")
        expectError("[[" + String(repeating: "a.", count: 100_000) + "a]]", "nesting too deep")
        // Nesting up to the limit is fine.
        let limit = TOMLParser.maxNestingDepth
        #expect(parseError("a = " + String(repeating: "[", count: limit) + String(repeating: "]", count: limit)) == nil)
        expectError("a = " + String(repeating: "[", count: limit + 1) + String(repeating: "]", count: limit + 1), "nesting too deep", line: 1, column: 5 + limit)
    }

    @Test func randomInputNeverCrashes() {
        var rng = SplitMix64(state: 0x5EED_0F_57A2B100)
        let alphabet = Array("[]{}=.,#'\"\\\n\r\t _-+:0123456789abcdefnortuxzTZE".utf8)
        for _ in 0..<3_000 {
            let length = Int.random(in: 0..<120, using: &rng)
            var bytes: [UInt8] = []
            bytes.reserveCapacity(length)
            for _ in 0..<length {
                if Bool.random(using: &rng) {
                    bytes.append(alphabet.randomElement(using: &rng) ?? 0)
                } else {
                    bytes.append(UInt8.random(in: 0...255, using: &rng))
                }
            }
            let text = String(decoding: bytes, as: UTF8.self)  // invalid UTF-8 is repaired
            checkParseTerminates(text)
        }
    }

    @Test func mutatedConfigNeverCrashes() {
        var rng = SplitMix64(state: 42)
        let original = Array(sampleConfig.utf8)
        let interesting = Array("[]{}=.,#'\"\\\n\r\t 0x_e+-:".utf8)
        for _ in 0..<3_000 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                guard !bytes.isEmpty else { break }
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<5, using: &rng) {
                case 0:
                    bytes.remove(at: at)
                case 1:
                    bytes.insert(interesting.randomElement(using: &rng) ?? 0, at: at)
                case 2:
                    bytes[at] = UInt8.random(in: 0...255, using: &rng)
                case 3:
                    let end = min(bytes.count, at + Int.random(in: 1...20, using: &rng))
                    bytes.insert(contentsOf: bytes[at..<end], at: Int.random(in: 0...bytes.count, using: &rng))
                default:
                    let end = min(bytes.count, at + Int.random(in: 1...10, using: &rng))
                    bytes.removeSubrange(at..<end)
                }
            }
            checkParseTerminates(String(decoding: bytes, as: UTF8.self))
        }
    }

    private func checkParseTerminates(_ text: String) {
        let lineCount = text.utf8.reduce(1) { $0 + ($1 == 0x0A ? 1 : 0) }
        if let error = parseError(text) {
            #expect(error.line >= 1 && error.line <= lineCount, "\(error)")
            #expect(error.column >= 1, "\(error)")
            #expect(!error.message.isEmpty)
        }
    }

    // MARK: Value model

    @Test func tableModel() {
        var table: TOMLTable = ["b": .integer(1), "a": .integer(2)]
        #expect(table.keys == ["b", "a"])
        table["c"] = .bool(true)
        table["b"] = .string("replaced")
        #expect(table.keys == ["b", "a", "c"])
        #expect(table["b"] == .string("replaced"))
        table["a"] = nil
        #expect(table.keys == ["b", "c"])
        #expect(table.count == 2)
        #expect(table.contains(key: "c"))
        #expect(!table.contains(key: "a"))
        #expect(table.entries.map(\.key) == ["b", "c"])
        // Equality ignores key order.
        #expect((["x": .integer(1), "y": .integer(2)] as TOMLTable) == (["y": .integer(2), "x": .integer(1)] as TOMLTable))
        #expect(table[path: []] == nil)
        #expect(table[path: ["b", "nope"]] == nil)
    }

    @Test func valueAccessorsAndTypeNames() {
        let values: [(TOMLValue, String)] = [
            (.string("s"), "string"), (.integer(1), "integer"), (.float(1.5), "float"),
            (.bool(true), "boolean"), (.datetime("07:32:00"), "datetime"),
            (.array([]), "array"), (.table(TOMLTable()), "table"),
        ]
        for (value, name) in values {
            #expect(value.typeName == name)
        }
        #expect(TOMLValue.string("s").stringValue == "s")
        #expect(TOMLValue.integer(1).stringValue == nil)
        #expect(TOMLValue.integer(7).intValue == 7)
        #expect(TOMLValue.float(7).intValue == nil)
        #expect(TOMLValue.float(1.5).doubleValue == 1.5)
        #expect(TOMLValue.integer(3).doubleValue == 3.0)
        #expect(TOMLValue.string("3").doubleValue == nil)
        #expect(TOMLValue.bool(false).boolValue == false)
        #expect(TOMLValue.array([.integer(1)]).arrayValue == [.integer(1)])
        #expect(TOMLValue.table(["k": .integer(1)]).tableValue?["k"] == .integer(1))
        #expect(TOMLValue.table(["k": .integer(1)])["k"] == .integer(1))
        #expect(TOMLValue.integer(1)["k"] == nil)
    }
}
