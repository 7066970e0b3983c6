/// A token of the expression language, with its span in Unicode scalars.
struct ExpressionToken {
    enum Kind: Equatable {
        /// A bare identifier; it may be a keyword (`and`, `true`, …).
        case identifier(String)
        /// `` `any text` ``: always a field name.
        case quotedIdentifier(String)
        case integer(UInt256)
        case decimal(Double)
        case string(String)
        /// Punctuation and operators: ( ) [ ] , . == != < <= > >= + - * / % ! && ||
        case symbol(String)
        case end
    }

    var kind: Kind
    var start: Int
    var end: Int
}

/// Splits an expression into tokens.
struct ExpressionLexer {
    static let keywords: Set<String> = ["and", "or", "not", "in", "true", "false", "null"]

    private let source: ExpressionSource
    private var scalars: [Unicode.Scalar] { source.scalars }
    private var i = 0

    init(_ source: ExpressionSource) {
        self.source = source
    }

    static func isIdentifierStart(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F
    }

    static func isIdentifierPart(_ c: UInt8) -> Bool {
        isIdentifierStart(c) || (c >= 0x30 && c <= 0x39)
    }

    private func ascii(_ offset: Int) -> UInt8? {
        guard offset < scalars.count, scalars[offset].isASCII else { return nil }
        return UInt8(scalars[offset].value)
    }

    private func isDigit(_ offset: Int) -> Bool { ascii(offset).map { $0 >= 0x30 && $0 <= 0x39 } ?? false }

    private func failure(_ offset: Int, _ message: String) -> ExpressionError {
        ExpressionError(position: source.column(offset), message: message)
    }

    mutating func tokens() throws(ExpressionError) -> [ExpressionToken] {
        var tokens: [ExpressionToken] = []
        while true {
            while i < scalars.count, [" ", "\t", "\n", "\r"].contains(scalars[i]) { i += 1 }
            guard i < scalars.count else {
                tokens.append(ExpressionToken(kind: .end, start: i, end: i))
                return tokens
            }
            let start = i
            let kind = try next()
            tokens.append(ExpressionToken(kind: kind, start: start, end: i))
        }
    }

    private mutating func next() throws(ExpressionError) -> ExpressionToken.Kind {
        let start = i
        let scalar = scalars[i]
        if let c = ascii(i), Self.isIdentifierStart(c) {
            while let c = ascii(i), Self.isIdentifierPart(c) { i += 1 }
            return .identifier(source.snippet(start, i))
        }
        if isDigit(i) { return try number() }
        switch scalar {
        case "`":
            i += 1
            while i < scalars.count && scalars[i] != "`" { i += 1 }
            guard i < scalars.count else { throw failure(start, "unterminated field name: missing the closing '`'") }
            i += 1
            guard i - start > 2 else { throw failure(start, "empty field name ``") }
            return .quotedIdentifier(source.snippet(start + 1, i - 1))
        case "'", "\"":
            return try string(quote: scalar)
        default:
            break
        }
        let two = i + 1 < scalars.count ? String(String.UnicodeScalarView([scalar, scalars[i + 1]])) : ""
        if ["==", "!=", "<=", ">=", "&&", "||"].contains(two) {
            i += 2
            return .symbol(two)
        }
        let one = String(scalar)
        if ["(", ")", "[", "]", ",", ".", "<", ">", "+", "-", "*", "/", "%", "!"].contains(one) {
            i += 1
            return .symbol(one)
        }
        switch one {
        case "=": throw failure(start, "unexpected '='; compare with '=='")
        case "&": throw failure(start, "unexpected '&'; write 'and' or '&&'")
        case "|": throw failure(start, "unexpected '|'; write 'or' or '||'")
        default: throw failure(start, "unexpected character '\(one)'")
        }
    }

    /// digits, then optionally '.' digits, then optionally e[+-]digits. A letter or digit run stuck
    /// to the number (`0xAbc`, `12abc`) is an error, not two tokens.
    private mutating func number() throws(ExpressionError) -> ExpressionToken.Kind {
        let start = i
        var isInteger = true
        while isDigit(i) { i += 1 }
        if ascii(i) == UInt8(ascii: "."), isDigit(i + 1) {
            isInteger = false
            i += 1
            while isDigit(i) { i += 1 }
        }
        if let e = ascii(i), e | 0x20 == UInt8(ascii: "e") {
            let sign = ascii(i + 1).map { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") } ?? false
            if isDigit(sign ? i + 2 : i + 1) {
                isInteger = false
                i += sign ? 2 : 1
                while isDigit(i) { i += 1 }
            }
        }
        if let c = ascii(i), Self.isIdentifierPart(c) {
            while let c = ascii(i), Self.isIdentifierPart(c) { i += 1 }
            let text = source.snippet(start, i)
            let hint = text.hasPrefix("0x") || text.hasPrefix("0X") ? " (hex values are written as strings: '\(text)')" : ""
            throw failure(start, "malformed number '\(text)'\(hint)")
        }
        let text = source.snippet(start, i)
        if isInteger {
            guard let value = UInt256(decimal: text) else { throw failure(start, "integer \(text) is larger than 2^256-1") }
            return .integer(value)
        }
        guard let value = Double(text), value.isFinite else { throw failure(start, "number \(text) is out of range") }
        return .decimal(value)
    }

    /// A '…' or "…" string with the escapes \\ \' \" \n \t \r.
    private mutating func string(quote: Unicode.Scalar) throws(ExpressionError) -> ExpressionToken.Kind {
        let start = i
        i += 1
        var value = String.UnicodeScalarView()
        while i < scalars.count && scalars[i] != quote {
            if scalars[i] == "\\" {
                guard i + 1 < scalars.count else { break }
                switch scalars[i + 1] {
                case "\\": value.append("\\")
                case "'": value.append("'")
                case "\"": value.append("\"")
                case "n": value.append("\n")
                case "t": value.append("\t")
                case "r": value.append("\r")
                default:
                    throw failure(i, "unknown escape '\\\(scalars[i + 1])' in string (use \\\\, \\', \\\", \\n, \\t or \\r)")
                }
                i += 2
            } else {
                value.append(scalars[i])
                i += 1
            }
        }
        guard i < scalars.count else { throw failure(start, "unterminated string: missing the closing \(quote)") }
        i += 1
        return .string(String(value))
    }
}
