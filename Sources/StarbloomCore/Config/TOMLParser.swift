// A small TOML 1.0 parser for `starbloom.toml`.
//
// Works over the UTF-8 bytes of the text. Every error carries the 1-based line and column
// (columns count Unicode scalars, a tab counts as one). Nesting of arrays, inline tables and
// tables is limited to `TOMLParser.maxNestingDepth` levels so that hostile input cannot exhaust
// the stack.

/// A parse error at a position in the document.
public struct TOMLError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 1-based line.
    public let line: Int
    /// 1-based column, in Unicode scalars.
    public let column: Int
    public let message: String

    public init(line: Int, column: Int, message: String) {
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String { "line \(line), column \(column): \(message)" }
}

/// Parses TOML 1.0 documents.
///
/// Deviations, all deliberate: date-times are returned as raw text (`TOMLValue.datetime`);
/// CRLF inside multi-line strings is normalised to LF; a leading byte-order mark is skipped;
/// nesting deeper than `maxNestingDepth` is rejected.
public enum TOMLParser {
    /// Deepest nesting of tables, arrays and inline tables accepted.
    public static let maxNestingDepth = 64

    public static func parse(_ text: String) throws(TOMLError) -> TOMLTable {
        var parser = TOMLByteParser(text: text)
        return try parser.parseDocument()
    }
}

// MARK: - Byte constants

private extension UInt8 {
    static let tab: UInt8 = 0x09
    static let lf: UInt8 = 0x0A
    static let cr: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let quote: UInt8 = 0x22        // "
    static let hash: UInt8 = 0x23         // #
    static let apostrophe: UInt8 = 0x27   // '
    static let plus: UInt8 = 0x2B         // +
    static let comma: UInt8 = 0x2C        // ,
    static let minus: UInt8 = 0x2D        // -
    static let dot: UInt8 = 0x2E          // .
    static let zero: UInt8 = 0x30         // 0
    static let nine: UInt8 = 0x39         // 9
    static let colon: UInt8 = 0x3A        // :
    static let equals: UInt8 = 0x3D       // =
    static let upperE: UInt8 = 0x45       // E
    static let upperT: UInt8 = 0x54       // T
    static let upperU: UInt8 = 0x55       // U
    static let upperZ: UInt8 = 0x5A       // Z
    static let lbracket: UInt8 = 0x5B     // [
    static let backslash: UInt8 = 0x5C    // \
    static let rbracket: UInt8 = 0x5D     // ]
    static let underscore: UInt8 = 0x5F   // _
    static let lowerB: UInt8 = 0x62       // b
    static let lowerE: UInt8 = 0x65       // e
    static let lowerF: UInt8 = 0x66       // f
    static let lowerN: UInt8 = 0x6E       // n
    static let lowerO: UInt8 = 0x6F       // o
    static let lowerR: UInt8 = 0x72       // r
    static let lowerT: UInt8 = 0x74       // t
    static let lowerU: UInt8 = 0x75       // u
    static let lowerX: UInt8 = 0x78       // x
    static let lowerZ: UInt8 = 0x7A       // z
    static let lbrace: UInt8 = 0x7B       // {
    static let rbrace: UInt8 = 0x7D       // }
    static let del: UInt8 = 0x7F

    var isDigit: Bool { self >= .zero && self <= .nine }

    var isLetter: Bool { (self >= 0x41 && self <= 0x5A) || (self >= 0x61 && self <= 0x7A) }

    /// A-Z a-z 0-9 _ -
    var isBareKeyByte: Bool { isLetter || isDigit || self == .underscore || self == .minus }

    /// Bytes that can make up a number, boolean, inf or nan token.
    var isScalarTokenByte: Bool { isBareKeyByte || self == .plus || self == .dot }

    /// Allowed inside strings and comments: tab, printable ASCII, any non-ASCII byte.
    var isTextByte: Bool { self == .tab || (self >= 0x20 && self != .del) }

    var hexValue: UInt32? {
        switch self {
        case 0x30...0x39: return UInt32(self - 0x30)
        case 0x41...0x46: return UInt32(self - 0x41 + 10)
        case 0x61...0x66: return UInt32(self - 0x61 + 10)
        default: return nil
        }
    }

    func isDigit(radix: Int) -> Bool {
        switch radix {
        case 2: return self == 0x30 || self == 0x31
        case 8: return self >= 0x30 && self <= 0x37
        case 16: return hexValue != nil
        default: return isDigit
        }
    }
}

private func isDigit(_ byte: UInt8?) -> Bool {
    byte.map(\.isDigit) ?? false
}

/// "U+0007"
private func scalarName(_ value: UInt32) -> String {
    let hex = String(value, radix: 16, uppercase: true)
    return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
}

private func withArticle(_ typeName: String) -> String {
    switch typeName.first {
    case "a", "e", "i", "o", "u": return "an " + typeName
    default: return "a " + typeName
    }
}

// MARK: - Intermediate tree
//
// While parsing, tables are reference-typed nodes that remember how they came to exist, which is
// what TOML's redefinition rules depend on. Inline tables and arrays are stored as finished
// `TOMLValue`s, which makes them closed to later extension by construction.

private final class TableNode {
    enum Kind {
        /// Created as the parent of a `[x.y]` / `[[x.y]]` header; may still be defined by a header.
        case implicit
        /// Defined by a `[header]`, a `[[header]]` element, the root, or an inline table.
        case explicit
        /// Created by a dotted key (`a.b = 1`); can be extended by more dotted keys in its
        /// section and used as a parent in headers, but never defined by a header.
        case dotted
    }

    var kind: Kind
    /// Offset of the header or key that defined it (for "defined at line N").
    var definedAt: Int
    let depth: Int
    private(set) var order: [String] = []
    private(set) var entries: [String: Entry] = [:]

    init(kind: Kind, depth: Int, definedAt: Int) {
        self.kind = kind
        self.depth = depth
        self.definedAt = definedAt
    }

    subscript(key: String) -> Entry? { entries[key] }

    func insert(_ key: String, _ item: Item, at offset: Int) {
        order.append(key)
        entries[key] = Entry(item: item, offset: offset)
    }

    func toTable() -> TOMLTable {
        var keys: [String] = []
        keys.reserveCapacity(order.count)
        var storage: [String: TOMLValue] = [:]
        storage.reserveCapacity(order.count)
        for key in order {
            guard let entry = entries[key] else { continue }
            let value: TOMLValue
            switch entry.item {
            case .value(let v): value = v
            case .table(let table): value = .table(table.toTable())
            case .tableArray(let array): value = .array(array.elements.map { .table($0.toTable()) })
            }
            keys.append(key)
            storage[key] = value
        }
        return TOMLTable(orderedKeys: keys, storage: storage)
    }
}

private final class TableArrayNode {
    var elements: [TableNode]
    init(_ first: TableNode) { elements = [first] }
}

private enum Item {
    case value(TOMLValue)
    case table(TableNode)
    case tableArray(TableArrayNode)

    var typeName: String {
        switch self {
        case .value(let v): return v.typeName
        case .table: return "table"
        case .tableArray: return "array of tables"
        }
    }
}

private struct Entry {
    var item: Item
    /// Offset of the key (or header) that first defined the entry.
    var offset: Int
}

private struct KeyPart {
    var name: String
    var offset: Int
}

/// `a.b."c d"` — key parts as they would be written.
private func display(_ parts: some Collection<KeyPart>) -> String {
    parts.map { part -> String in
        if !part.name.isEmpty && part.name.utf8.allSatisfy(\.isBareKeyByte) {
            return part.name
        }
        var quoted = "\""
        for scalar in part.name.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    quoted += "\\u" + String(scalarName(scalar.value).dropFirst(2))
                } else {
                    quoted.unicodeScalars.append(scalar)
                }
            }
        }
        return quoted + "\""
    }.joined(separator: ".")
}

// MARK: - Parser

private struct TOMLByteParser {
    let bytes: [UInt8]
    var pos = 0
    /// Offsets at which lines start (for turning offsets into line/column on error).
    let lineStarts: [Int]
    let maxDepth = TOMLParser.maxNestingDepth

    init(text: String) {
        bytes = Array(text.utf8)
        var starts = [0]
        for (index, byte) in bytes.enumerated() where byte == .lf {
            starts.append(index + 1)
        }
        lineStarts = starts
    }

    // MARK: Positions and errors

    func peek(_ ahead: Int = 0) -> UInt8? {
        let index = pos + ahead
        return index < bytes.count ? bytes[index] : nil
    }

    func line(of offset: Int) -> Int {
        var low = 0
        var high = lineStarts.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if lineStarts[mid] <= offset { low = mid } else { high = mid - 1 }
        }
        return low + 1
    }

    func error(_ message: String, at offset: Int) -> TOMLError {
        let lineNumber = line(of: offset)
        var column = 1
        var index = lineStarts[lineNumber - 1]
        let end = min(offset, bytes.count)
        while index < end {
            if bytes[index] & 0xC0 != 0x80 { column += 1 }  // count scalars, not bytes
            index += 1
        }
        return TOMLError(line: lineNumber, column: column, message: message)
    }

    /// Human description of the character at `offset`, for "found …" messages.
    func describe(at offset: Int) -> String {
        guard offset < bytes.count else { return "end of file" }
        let byte = bytes[offset]
        switch byte {
        case .lf:
            return "end of line"
        case .cr:
            return offset + 1 < bytes.count && bytes[offset + 1] == .lf ? "end of line" : "carriage return"
        case 0x00..<0x20, .del:
            return "control character \(scalarName(UInt32(byte)))"
        case 0x20..<0x80:
            return "'\(Character(Unicode.Scalar(byte)))'"
        default:
            let length = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : 2
            let end = min(offset + length, bytes.count)
            return "'\(String(decoding: bytes[offset..<end], as: UTF8.self))'"
        }
    }

    /// "<expectation>, found <description of the character at `pos`>", positioned at `pos`.
    /// (Error messages are built in separate functions to keep the recursive parsing frames small.)
    @inline(never)
    func unexpected(_ expectation: String) -> TOMLError {
        error("\(expectation), found \(describe(at: pos))", at: pos)
    }

    @inline(never)
    func missingEquals(after key: [KeyPart]) -> TOMLError {
        unexpected("expected '=' after key '\(display(key))'")
    }

    func checkDepth(_ depth: Int, at offset: Int) throws(TOMLError) {
        if depth > maxDepth {
            throw error("nesting too deep (more than \(maxDepth) levels)", at: offset)
        }
    }

    // MARK: Whitespace, comments, newlines

    mutating func skipWhitespace() {
        while pos < bytes.count, bytes[pos] == .space || bytes[pos] == .tab {
            pos += 1
        }
    }

    /// At '#': skips to the end of the line (the newline itself is left in place).
    mutating func skipComment() throws(TOMLError) {
        pos += 1
        while pos < bytes.count {
            let byte = bytes[pos]
            if byte == .lf || byte == .cr { return }
            guard byte.isTextByte else {
                throw error("control character \(scalarName(UInt32(byte))) is not allowed in comments", at: pos)
            }
            pos += 1
        }
    }

    /// At LF or CR.
    mutating func consumeNewline() throws(TOMLError) {
        if peek() == .lf {
            pos += 1
        } else if peek() == .cr && peek(1) == .lf {
            pos += 2
        } else {
            throw error("carriage return must be followed by a line feed", at: pos)
        }
    }

    /// Whitespace, comments and newlines (inside arrays).
    mutating func skipTrivia() throws(TOMLError) {
        while let byte = peek() {
            switch byte {
            case .space, .tab: pos += 1
            case .lf, .cr: try consumeNewline()
            case .hash: try skipComment()
            default: return
            }
        }
    }

    /// After a key/value pair or a header: optional whitespace and comment, then newline or EOF.
    mutating func expectLineEnd(after what: String) throws(TOMLError) {
        skipWhitespace()
        if peek() == .hash { try skipComment() }
        guard let byte = peek() else { return }
        if byte == .lf || byte == .cr {
            try consumeNewline()
            return
        }
        throw error("expected end of line after \(what), found \(describe(at: pos))", at: pos)
    }

    // MARK: Document

    mutating func parseDocument() throws(TOMLError) -> TOMLTable {
        let root = TableNode(kind: .explicit, depth: 0, definedAt: 0)
        var current = root
        if bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF {
            pos = 3  // byte-order mark
        }
        while true {
            skipWhitespace()
            guard let byte = peek() else { break }
            switch byte {
            case .lf, .cr:
                try consumeNewline()
            case .hash:
                try skipComment()
                try expectLineEnd(after: "comment")
            case .lbracket:
                current = try parseTableHeader(root: root)
                try expectLineEnd(after: "table header")
            default:
                try parseKeyValue(into: current)
                try expectLineEnd(after: "value")
            }
        }
        return root.toTable()
    }

    // MARK: Keys

    /// A possibly dotted key; leading and trailing whitespace around parts is skipped.
    @inline(never)
    mutating func parseKey() throws(TOMLError) -> [KeyPart] {
        var parts: [KeyPart] = []
        while true {
            skipWhitespace()
            let start = pos
            let name: String
            switch peek() {
            case .quote?:
                if peek(1) == .quote && peek(2) == .quote {
                    throw error("multi-line strings cannot be used as keys", at: pos)
                }
                name = try parseBasicString()
            case .apostrophe?:
                if peek(1) == .apostrophe && peek(2) == .apostrophe {
                    throw error("multi-line strings cannot be used as keys", at: pos)
                }
                name = try parseLiteralString()
            case let byte? where byte.isBareKeyByte:
                while let next = peek(), next.isBareKeyByte { pos += 1 }
                name = String(decoding: bytes[start..<pos], as: UTF8.self)
            default:
                throw unexpected("expected a key")
            }
            parts.append(KeyPart(name: name, offset: start))
            skipWhitespace()
            guard peek() == .dot else { return parts }
            pos += 1
        }
    }

    mutating func parseKeyValue(into table: TableNode) throws(TOMLError) {
        let key = try parseKey()
        skipWhitespace()
        guard peek() == .equals else {
            throw missingEquals(after: key)
        }
        pos += 1
        skipWhitespace()
        let value = try parseValue(depth: table.depth + key.count)
        try assign(key, value, into: table)
    }

    /// Stores `key = value` in `table`, creating (or extending) dotted-key tables on the way.
    @inline(never)
    func assign(_ key: [KeyPart], _ value: TOMLValue, into table: TableNode) throws(TOMLError) {
        guard let last = key.last else { return }
        var current = table
        for index in 0..<(key.count - 1) {
            let part = key[index]
            let name = display(key[...index])
            if let entry = current[part.name] {
                switch entry.item {
                case .table(let child) where child.kind != .explicit:
                    if child.kind == .implicit {
                        child.kind = .dotted
                        child.definedAt = part.offset
                    }
                    current = child
                case .table(let child):
                    throw error(
                        "cannot add to table '\(name)' with a dotted key: it is defined by a table header at line \(line(of: child.definedAt))",
                        at: key[0].offset)
                case .tableArray:
                    throw error(
                        "cannot add to array of tables '\(name)' with a dotted key (defined at line \(line(of: entry.offset)))",
                        at: key[0].offset)
                case .value(.table):
                    throw error(
                        "cannot extend inline table '\(name)' (defined at line \(line(of: entry.offset)))",
                        at: key[0].offset)
                case .value(let existing):
                    throw error(
                        "key '\(name)' is already defined as \(withArticle(existing.typeName)) at line \(line(of: entry.offset)); it cannot be used as a table",
                        at: key[0].offset)
                }
            } else {
                let child = TableNode(kind: .dotted, depth: current.depth + 1, definedAt: part.offset)
                try checkDepth(child.depth, at: part.offset)
                current.insert(part.name, .table(child), at: part.offset)
                current = child
            }
        }
        if let entry = current[last.name] {
            throw error(
                "duplicate key '\(display(key))' (first defined at line \(line(of: entry.offset)))",
                at: key[0].offset)
        }
        current.insert(last.name, .value(value), at: last.offset)
    }

    // MARK: Table headers

    /// At '['. Returns the table that following key/value pairs go into.
    mutating func parseTableHeader(root: TableNode) throws(TOMLError) -> TableNode {
        let start = pos
        let isArray = peek(1) == .lbracket
        pos += isArray ? 2 : 1
        let path = try parseKey()
        skipWhitespace()
        if isArray {
            guard peek() == .rbracket && peek(1) == .rbracket else {
                throw error("expected ']]' to close [[\(display(path))]], found \(describe(at: pos))", at: pos)
            }
            pos += 2
        } else {
            guard peek() == .rbracket else {
                throw error("expected ']' to close [\(display(path))], found \(describe(at: pos))", at: pos)
            }
            pos += 1
        }
        return try openTable(path, isArray: isArray, root: root, headerOffset: start)
    }

    func openTable(_ path: [KeyPart], isArray: Bool, root: TableNode, headerOffset: Int) throws(TOMLError) -> TableNode {
        guard let last = path.last else { return root }
        var current = root
        for index in 0..<(path.count - 1) {
            let part = path[index]
            let name = display(path[...index])
            if let entry = current[part.name] {
                switch entry.item {
                case .table(let child):
                    current = child
                case .tableArray(let array):
                    guard let lastElement = array.elements.last else { return root }  // never empty
                    current = lastElement
                case .value(.table):
                    throw error(
                        "cannot extend inline table '\(name)' (defined at line \(line(of: entry.offset)))",
                        at: headerOffset)
                case .value(let existing):
                    throw error(
                        "key '\(name)' is already defined as \(withArticle(existing.typeName)) at line \(line(of: entry.offset)); it cannot be used as a table",
                        at: headerOffset)
                }
            } else {
                let child = TableNode(kind: .implicit, depth: current.depth + 1, definedAt: part.offset)
                try checkDepth(child.depth, at: part.offset)
                current.insert(part.name, .table(child), at: part.offset)
                current = child
            }
        }

        let name = display(path)
        guard let entry = current[last.name] else {
            let table = TableNode(kind: .explicit, depth: current.depth + 1, definedAt: headerOffset)
            try checkDepth(table.depth, at: last.offset)
            current.insert(last.name, isArray ? .tableArray(TableArrayNode(table)) : .table(table), at: last.offset)
            return table
        }
        let firstLine = line(of: entry.offset)
        switch entry.item {
        case .tableArray(let array):
            guard isArray else {
                throw error(
                    "cannot define table [\(name)]: '\(name)' is already an array of tables (defined at line \(firstLine))",
                    at: headerOffset)
            }
            let table = TableNode(kind: .explicit, depth: current.depth + 1, definedAt: headerOffset)
            array.elements.append(table)
            return table
        case .table(let table):
            if isArray {
                throw error(
                    "cannot define array of tables [[\(name)]]: '\(name)' is already a table (defined at line \(line(of: table.definedAt)))",
                    at: headerOffset)
            }
            switch table.kind {
            case .implicit:
                table.kind = .explicit
                table.definedAt = headerOffset
                return table
            case .dotted:
                throw error(
                    "cannot define table [\(name)]: it is already defined by dotted keys at line \(line(of: table.definedAt))",
                    at: headerOffset)
            case .explicit:
                throw error(
                    "duplicate table [\(name)] (first defined at line \(line(of: table.definedAt)))",
                    at: headerOffset)
            }
        case .value(.array):
            if isArray {
                throw error(
                    "cannot append to static array '\(name)' with [[\(name)]] (array defined at line \(firstLine))",
                    at: headerOffset)
            }
            throw error(
                "cannot define table [\(name)]: key '\(name)' is already defined as an array at line \(firstLine)",
                at: headerOffset)
        case .value(.table):
            throw error(
                "cannot extend inline table '\(name)' (defined at line \(firstLine))",
                at: headerOffset)
        case .value(let existing):
            throw error(
                "duplicate key '\(name)': already defined as \(withArticle(existing.typeName)) at line \(firstLine)",
                at: headerOffset)
        }
    }

    // MARK: Values

    /// Any value. Only arrays and inline tables recurse; everything else is a leaf.
    mutating func parseValue(depth: Int) throws(TOMLError) -> TOMLValue {
        switch peek() {
        case .lbracket?:
            return try parseArray(depth: depth)
        case .lbrace?:
            return try parseInlineTable(depth: depth)
        default:
            return try parseLeafValue()
        }
    }

    /// A string, number, boolean or date-time.
    @inline(never)
    mutating func parseLeafValue() throws(TOMLError) -> TOMLValue {
        guard let byte = peek() else {
            throw unexpected("expected a value")
        }
        switch byte {
        case .quote:
            if peek(1) == .quote && peek(2) == .quote {
                return .string(try parseMultilineString(literal: false))
            }
            return .string(try parseBasicString())
        case .apostrophe:
            if peek(1) == .apostrophe && peek(2) == .apostrophe {
                return .string(try parseMultilineString(literal: true))
            }
            return .string(try parseLiteralString())
        case _ where byte.isDigit:
            let isDate = isDigit(peek(1)) && isDigit(peek(2)) && isDigit(peek(3)) && peek(4) == .minus
            let isTime = isDigit(peek(1)) && peek(2) == .colon
            if isDate || isTime {
                return try parseDateTime()
            }
            return try parseScalarToken()
        case _ where byte.isScalarTokenByte:
            return try parseScalarToken()
        default:
            throw unexpected("expected a value")
        }
    }

    // MARK: Strings

    /// At '"' (single-line basic string).
    mutating func parseBasicString() throws(TOMLError) -> String {
        let start = pos
        pos += 1
        var out: [UInt8] = []
        while pos < bytes.count {
            let byte = bytes[pos]
            switch byte {
            case .quote:
                pos += 1
                return String(decoding: out, as: UTF8.self)
            case .backslash:
                try parseEscape(into: &out, stringStart: start)
            case .lf, .cr:
                throw error("unterminated string (a basic string must close on the same line; use \"\"\" for multi-line strings)", at: start)
            default:
                guard byte.isTextByte else {
                    throw error("control character \(scalarName(UInt32(byte))) is not allowed in strings (use an escape)", at: pos)
                }
                out.append(byte)
                pos += 1
            }
        }
        throw error("unterminated string", at: start)
    }

    /// At "'" (single-line literal string).
    mutating func parseLiteralString() throws(TOMLError) -> String {
        let start = pos
        pos += 1
        while pos < bytes.count {
            let byte = bytes[pos]
            switch byte {
            case .apostrophe:
                pos += 1
                return String(decoding: bytes[(start + 1)..<(pos - 1)], as: UTF8.self)
            case .lf, .cr:
                throw error("unterminated string (a literal string must close on the same line; use ''' for multi-line strings)", at: start)
            default:
                guard byte.isTextByte else {
                    throw error("control character \(scalarName(UInt32(byte))) is not allowed in strings", at: pos)
                }
                pos += 1
            }
        }
        throw error("unterminated string", at: start)
    }

    /// At `"""` or `'''`.
    mutating func parseMultilineString(literal: Bool) throws(TOMLError) -> String {
        let start = pos
        let delimiter: UInt8 = literal ? .apostrophe : .quote
        pos += 3
        // A newline right after the opening delimiter is not part of the string.
        if peek() == .lf {
            pos += 1
        } else if peek() == .cr && peek(1) == .lf {
            pos += 2
        }
        var out: [UInt8] = []
        while let byte = peek() {
            switch byte {
            case delimiter:
                var run = 1
                while peek(run) == delimiter { run += 1 }
                if run < 3 {
                    out.append(contentsOf: repeatElement(delimiter, count: run))
                    pos += run
                } else if run <= 5 {
                    // Up to two quotes may directly precede the closing delimiter.
                    out.append(contentsOf: repeatElement(delimiter, count: run - 3))
                    pos += run
                    return String(decoding: out, as: UTF8.self)
                } else {
                    throw error("too many quotes in a row in a multi-line string (at most two may appear together)", at: pos)
                }
            case .backslash where !literal:
                // Line-ending backslash: skip it, the newline and all following whitespace.
                var index = pos + 1
                while index < bytes.count && (bytes[index] == .space || bytes[index] == .tab) { index += 1 }
                if index < bytes.count && (bytes[index] == .lf || (bytes[index] == .cr && index + 1 < bytes.count && bytes[index + 1] == .lf)) {
                    pos = index
                    while let next = peek() {
                        if next == .space || next == .tab || next == .lf {
                            pos += 1
                        } else if next == .cr && peek(1) == .lf {
                            pos += 2
                        } else {
                            break
                        }
                    }
                } else {
                    try parseEscape(into: &out, stringStart: start)
                }
            case .lf:
                out.append(.lf)
                pos += 1
            case .cr:
                guard peek(1) == .lf else {
                    throw error("carriage return must be followed by a line feed", at: pos)
                }
                out.append(.lf)
                pos += 2
            default:
                guard byte.isTextByte else {
                    throw error("control character \(scalarName(UInt32(byte))) is not allowed in strings", at: pos)
                }
                out.append(byte)
                pos += 1
            }
        }
        throw error("unterminated multi-line string", at: start)
    }

    /// At '\' inside a basic string.
    mutating func parseEscape(into out: inout [UInt8], stringStart: Int) throws(TOMLError) {
        let start = pos
        guard let kind = peek(1) else {
            throw error("unterminated string", at: stringStart)
        }
        pos += 2
        switch kind {
        case .lowerB: out.append(0x08)
        case .lowerT: out.append(0x09)
        case .lowerN: out.append(0x0A)
        case .lowerF: out.append(0x0C)
        case .lowerR: out.append(0x0D)
        case .quote: out.append(.quote)
        case .backslash: out.append(.backslash)
        case .lowerU, .upperU:
            let count = kind == .lowerU ? 4 : 8
            var value: UInt32 = 0
            for index in 0..<count {
                guard let digit = peek(index)?.hexValue else {
                    var end = pos
                    while end < pos + count, end < bytes.count, bytes[end].isLetter || bytes[end].isDigit { end += 1 }
                    let written = String(decoding: bytes[start..<end], as: UTF8.self)
                    throw error("invalid unicode escape '\(written)': expected \(count) hexadecimal digits", at: start)
                }
                value = value << 4 | digit
            }
            pos += count
            guard let scalar = Unicode.Scalar(value) else {
                let written = String(decoding: bytes[start..<pos], as: UTF8.self)
                throw error("invalid unicode escape '\(written)': \(scalarName(value)) is not a Unicode scalar value", at: start)
            }
            out.append(contentsOf: scalar.utf8)
        default:
            if kind > 0x20 && kind != .del {
                let length = kind < 0x80 ? 1 : kind >= 0xF0 ? 4 : kind >= 0xE0 ? 3 : 2
                let end = min(start + 1 + length, bytes.count)
                let written = String(decoding: bytes[start..<end], as: UTF8.self)
                throw error("invalid escape '\(written)'", at: start)
            }
            throw error("invalid escape: '\\' followed by \(describe(at: start + 1))", at: start)
        }
    }

    // MARK: Numbers, booleans

    /// A run of [A-Za-z0-9_+.-]: a boolean, integer, float, inf or nan.
    mutating func parseScalarToken() throws(TOMLError) -> TOMLValue {
        let start = pos
        while let byte = peek(), byte.isScalarTokenByte { pos += 1 }
        let token = Array(bytes[start..<pos])
        if token.elementsEqual("true".utf8) { return .bool(true) }
        if token.elementsEqual("false".utf8) { return .bool(false) }
        return try parseNumber(token, at: start)
    }

    func parseNumber(_ token: [UInt8], at offset: Int) throws(TOMLError) -> TOMLValue {
        let text = String(decoding: token, as: UTF8.self)
        let count = token.count
        var index = 0
        var negative = false
        if let first = token.first, first == .plus || first == .minus {
            negative = first == .minus
            index = 1
        }
        let signed = index == 1
        let body = token[index...]
        if body.elementsEqual("inf".utf8) { return .float(negative ? -Double.infinity : Double.infinity) }
        if body.elementsEqual("nan".utf8) { return .float(negative ? -Double.nan : Double.nan) }

        guard index < count, token[index].isDigit else {
            if let first = token.first, first.isDigit || first == .plus || first == .minus || first == .dot {
                throw error("invalid number '\(text)'", at: offset)
            }
            throw error("invalid value '\(text)' (strings must be quoted)", at: offset)
        }

        // Hexadecimal, octal, binary.
        if token[index] == .zero, index + 1 < count {
            let radix: Int? = switch token[index + 1] {
            case .lowerX: 16
            case .lowerO: 8
            case .lowerB: 2
            default: nil
            }
            if let radix {
                if signed {
                    throw error("invalid number '\(text)': hexadecimal, octal and binary integers cannot have a sign", at: offset)
                }
                let digitsStart = index + 2
                guard digitsStart < count, token[digitsStart].isDigit(radix: radix) else {
                    throw error("invalid number '\(text)': expected digits after '\(String(text.prefix(2)))'", at: offset)
                }
                let end = try scanDigits(token, from: digitsStart, radix: radix, text: text, offset: offset)
                guard end == count else {
                    throw error("invalid number '\(text)'", at: offset)
                }
                var value: UInt64 = 0
                for byte in token[digitsStart...] where byte != .underscore {
                    let (shifted, overflow1) = value.multipliedReportingOverflow(by: UInt64(radix))
                    let (sum, overflow2) = shifted.addingReportingOverflow(UInt64(byte.hexValue ?? 0))
                    if overflow1 || overflow2 {
                        throw error("integer \(text) overflows 64 bits", at: offset)
                    }
                    value = sum
                }
                guard value <= UInt64(Int64.max) else {
                    throw error("integer \(text) overflows 64 bits", at: offset)
                }
                return .integer(Int64(value))
            }
        }

        // Decimal integer part (shared by floats).
        let integerStart = index
        index = try scanDigits(token, from: index, radix: 10, text: text, offset: offset)
        if token[integerStart] == .zero && index - integerStart > 1 {
            throw error("invalid number '\(text)': leading zeros are not allowed", at: offset)
        }
        var isFloat = false
        if index < count && token[index] == .dot {
            index += 1
            guard index < count, token[index].isDigit else {
                throw error("invalid float '\(text)': expected a digit after the decimal point", at: offset)
            }
            index = try scanDigits(token, from: index, radix: 10, text: text, offset: offset)
            isFloat = true
        }
        if index < count && (token[index] == .lowerE || token[index] == .upperE) {
            index += 1
            if index < count && (token[index] == .plus || token[index] == .minus) { index += 1 }
            guard index < count, token[index].isDigit else {
                throw error("invalid float '\(text)': expected digits in the exponent", at: offset)
            }
            index = try scanDigits(token, from: index, radix: 10, text: text, offset: offset)
            isFloat = true
        }
        guard index == count else {
            throw error("invalid number '\(text)'", at: offset)
        }

        if isFloat {
            let cleaned = String(decoding: token.lazy.filter { $0 != .underscore }, as: UTF8.self)
            guard let value = Double(cleaned), value.isFinite else {
                throw error("float \(text) is out of range", at: offset)
            }
            return .float(value)
        }

        var magnitude: UInt64 = 0
        for byte in token[integerStart...] where byte != .underscore {
            let (shifted, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = shifted.addingReportingOverflow(UInt64(byte - .zero))
            if overflow1 || overflow2 {
                throw error("integer \(text) overflows 64 bits", at: offset)
            }
            magnitude = sum
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else {
                throw error("integer \(text) overflows 64 bits", at: offset)
            }
            return .integer(magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude))
        }
        guard magnitude <= UInt64(Int64.max) else {
            throw error("integer \(text) overflows 64 bits", at: offset)
        }
        return .integer(Int64(magnitude))
    }

    /// Digits with single underscores between them, starting at a digit. Returns the end index.
    func scanDigits(_ token: [UInt8], from start: Int, radix: Int, text: String, offset: Int) throws(TOMLError) -> Int {
        var index = start
        while index < token.count {
            let byte = token[index]
            if byte.isDigit(radix: radix) {
                index += 1
            } else if byte == .underscore {
                guard index + 1 < token.count, token[index + 1].isDigit(radix: radix) else {
                    throw error("invalid number '\(text)': an underscore must be between two digits", at: offset)
                }
                index += 1
            } else {
                break
            }
        }
        return index
    }

    // MARK: Date-times

    /// At a digit that starts `YYYY-` or `HH:`. Validates the shape and ranges, returns the raw text.
    mutating func parseDateTime() throws(TOMLError) -> TOMLValue {
        let start = pos
        if peek(4) == .minus {
            let year = try fixedDigits(4, start: start, expecting: "a date YYYY-MM-DD")
            try expectByte(.minus, start: start, expecting: "a date YYYY-MM-DD")
            let month = try fixedDigits(2, start: start, expecting: "a date YYYY-MM-DD")
            try expectByte(.minus, start: start, expecting: "a date YYYY-MM-DD")
            let day = try fixedDigits(2, start: start, expecting: "a date YYYY-MM-DD")
            guard (1...12).contains(month) else {
                throw dateTimeError(start, "month must be between 01 and 12")
            }
            let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
            let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
            guard day >= 1 && day <= days else {
                throw dateTimeError(start, "day must be between 01 and \(days)")
            }
            if let separator = peek(),
               separator == .upperT || separator == .lowerT
                || (separator == .space && isDigit(peek(1)) && isDigit(peek(2)) && peek(3) == .colon) {
                pos += 1
                try parseTime(start: start)
                if let zone = peek() {
                    if zone == .upperZ || zone == .lowerZ {
                        pos += 1
                    } else if zone == .plus || zone == .minus {
                        pos += 1
                        let hour = try fixedDigits(2, start: start, expecting: "a time offset ±HH:MM")
                        try expectByte(.colon, start: start, expecting: "a time offset ±HH:MM")
                        let minute = try fixedDigits(2, start: start, expecting: "a time offset ±HH:MM")
                        guard hour <= 23 && minute <= 59 else {
                            throw dateTimeError(start, "time offset out of range")
                        }
                    }
                }
            }
        } else {
            try parseTime(start: start)
        }
        return .datetime(String(decoding: bytes[start..<pos], as: UTF8.self))
    }

    /// HH:MM:SS with an optional fraction.
    mutating func parseTime(start: Int) throws(TOMLError) {
        let hour = try fixedDigits(2, start: start, expecting: "a time HH:MM:SS")
        try expectByte(.colon, start: start, expecting: "a time HH:MM:SS")
        let minute = try fixedDigits(2, start: start, expecting: "a time HH:MM:SS")
        try expectByte(.colon, start: start, expecting: "a time HH:MM:SS")
        let second = try fixedDigits(2, start: start, expecting: "a time HH:MM:SS")
        guard hour <= 23 else { throw dateTimeError(start, "hour must be between 00 and 23") }
        guard minute <= 59 else { throw dateTimeError(start, "minute must be between 00 and 59") }
        guard second <= 60 else { throw dateTimeError(start, "second must be between 00 and 60") }
        if peek() == .dot {
            pos += 1
            guard isDigit(peek()) else {
                throw dateTimeError(start, "expected digits after '.' in the seconds")
            }
            while isDigit(peek()) { pos += 1 }
        }
    }

    mutating func fixedDigits(_ count: Int, start: Int, expecting what: String) throws(TOMLError) -> Int {
        var value = 0
        for _ in 0..<count {
            guard let byte = peek(), byte.isDigit else {
                throw dateTimeError(start, "expected \(what)")
            }
            value = value * 10 + Int(byte - .zero)
            pos += 1
        }
        return value
    }

    mutating func expectByte(_ expected: UInt8, start: Int, expecting what: String) throws(TOMLError) {
        guard peek() == expected else {
            throw dateTimeError(start, "expected \(what)")
        }
        pos += 1
    }

    func dateTimeError(_ start: Int, _ reason: String) -> TOMLError {
        var end = start
        while end < bytes.count {
            let byte = bytes[end]
            let continues = byte.isScalarTokenByte || byte == .colon
                || (byte == .space && end + 1 < bytes.count && bytes[end + 1].isDigit)
            guard continues else { break }
            end += 1
        }
        let written = String(decoding: bytes[start..<end], as: UTF8.self)
        return error("invalid date-time '\(written)': \(reason)", at: start)
    }

    // MARK: Arrays and inline tables
    //
    // These two recurse (through parseValue), so their frames are kept small: no string building
    // here, errors come from the helpers below.

    /// At '['.
    mutating func parseArray(depth: Int) throws(TOMLError) -> TOMLValue {
        let start = pos
        try checkDepth(depth, at: start)
        pos += 1
        var elements: [TOMLValue] = []
        while true {
            try skipTrivia()
            if peek() == .rbracket {
                pos += 1
                return .array(elements)
            }
            if peek() == nil {
                throw arrayError(start: start)
            }
            elements.append(try parseValue(depth: depth + 1))
            try skipTrivia()
            if peek() == .comma {
                pos += 1
            } else if peek() == .rbracket {
                pos += 1
                return .array(elements)
            } else {
                throw arrayError(start: start)
            }
        }
    }

    /// At '{'. Inline tables are single-line, without trailing comma (TOML 1.0).
    mutating func parseInlineTable(depth: Int) throws(TOMLError) -> TOMLValue {
        let start = pos
        try checkDepth(depth, at: start)
        pos += 1
        let node = TableNode(kind: .explicit, depth: depth, definedAt: start)
        skipWhitespace()
        if peek() == .rbrace {
            pos += 1
            return .table(node.toTable())
        }
        while true {
            skipWhitespace()
            if peek() == nil || peek() == .lf || peek() == .cr || peek() == .rbrace {
                throw inlineTableError(start: start, afterComma: true)
            }
            try parseKeyValue(into: node)
            skipWhitespace()
            if peek() == .comma {
                pos += 1
            } else if peek() == .rbrace {
                pos += 1
                return .table(node.toTable())
            } else {
                throw inlineTableError(start: start, afterComma: false)
            }
        }
    }

    @inline(never)
    func arrayError(start: Int) -> TOMLError {
        if pos >= bytes.count {
            return error("unterminated array", at: start)
        }
        return unexpected("expected ',' or ']' after array element")
    }

    @inline(never)
    func inlineTableError(start: Int, afterComma: Bool) -> TOMLError {
        switch peek() {
        case nil:
            return error("unterminated inline table", at: start)
        case .lf?, .cr?:
            return error("newlines are not allowed in inline tables", at: pos)
        case .rbrace? where afterComma:
            return error("trailing comma is not allowed in inline tables", at: pos)
        default:
            return unexpected("expected ',' or '}' in inline table")
        }
    }
}
