/// One step of a field path: a member name (UTF-8 bytes, so lookups compare bytes and build no
/// String) or an array index. `transfer.amount` is `[.key("transfer"), .key("amount")]`,
/// `logs[0].topic` is `[.key("logs"), .index(0), .key("topic")]`.
public enum PathComponent: Hashable, Sendable, CustomStringConvertible {
    case key([UInt8])
    case index(Int)

    public static func key(_ name: String) -> PathComponent { .key(Array(name.utf8)) }

    /// The component as written in an expression: `amount`, `` `odd key` ``, `[0]`.
    public var description: String {
        switch self {
        case .key(let bytes):
            let name = String(decoding: bytes, as: UTF8.self)
            return Self.isPlainName(bytes) ? name : "`\(name)`"
        case .index(let index):
            return "[\(index)]"
        }
    }

    /// A whole path as written in an expression: `transfer.amount`, `logs[0].topic`.
    public static func render(_ path: [PathComponent]) -> String {
        var text = ""
        for (position, component) in path.enumerated() {
            if position > 0, case .key = component { text += "." }
            text += component.description
        }
        return text
    }

    /// Whether `bytes` can be written without backticks: an identifier that is not a keyword.
    static func isPlainName(_ bytes: [UInt8]) -> Bool {
        guard let first = bytes.first, ExpressionLexer.isIdentifierStart(first),
              bytes.allSatisfy(ExpressionLexer.isIdentifierPart) else { return false }
        return !ExpressionLexer.keywords.contains(String(decoding: bytes, as: UTF8.self))
    }
}
