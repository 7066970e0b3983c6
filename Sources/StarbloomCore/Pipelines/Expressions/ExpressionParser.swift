/// Recursive descent over the tokens, one function per precedence level (see `Expression`).
/// Parentheses, calls, unary minus and `not` count towards the nesting limit, so the recursion
/// (and evaluation later) stays shallow whatever the input.
struct ExpressionParser {
    static let maximumLength = 4096
    static let maximumDepth = 64

    private let source: ExpressionSource
    private let tokens: [ExpressionToken]
    private var position = 0
    private var depth = 0
    private(set) var fieldPaths: [[PathComponent]] = []
    private var seenPaths: Set<[PathComponent]> = []

    init(_ source: ExpressionSource) throws(ExpressionError) {
        self.source = source
        var lexer = ExpressionLexer(source)
        tokens = try lexer.tokens()
    }

    mutating func parse() throws(ExpressionError) -> ExpressionNode {
        let root = try parseOr()
        guard case .end = current.kind else { throw failure(current, "expected end of expression, found \(found(current))") }
        return root
    }

    // MARK: - Levels

    private mutating func parseOr() throws(ExpressionError) -> ExpressionNode {
        let first = try parseAnd()
        guard isKeyword("or") || isSymbol("||") else { return first }
        var operands = [first]
        while isKeyword("or") || isSymbol("||") {
            advance()
            operands.append(try parseAnd())
        }
        return ExpressionNode(kind: .any(operands), start: first.start, end: operands[operands.count - 1].end)
    }

    private mutating func parseAnd() throws(ExpressionError) -> ExpressionNode {
        let first = try parseNot()
        guard isKeyword("and") || isSymbol("&&") else { return first }
        var operands = [first]
        while isKeyword("and") || isSymbol("&&") {
            advance()
            operands.append(try parseNot())
        }
        return ExpressionNode(kind: .all(operands), start: first.start, end: operands[operands.count - 1].end)
    }

    private mutating func parseNot() throws(ExpressionError) -> ExpressionNode {
        guard isKeyword("not") || isSymbol("!") else { return try parseComparison() }
        let operatorToken = current
        advance()
        try enter(operatorToken)
        defer { depth -= 1 }
        let operand = try parseNot()
        return ExpressionNode(kind: .not(operand), start: operatorToken.start, end: operand.end)
    }

    private mutating func parseComparison() throws(ExpressionError) -> ExpressionNode {
        let left = try parseAdditive()
        let result: ExpressionNode
        if case .symbol(let symbol) = current.kind, let op = ExpressionNode.ComparisonOperator(rawValue: symbol) {
            advance()
            let right = try parseAdditive()
            result = ExpressionNode(kind: .compare(op, left, right), start: left.start, end: right.end)
        } else if isKeyword("in") {
            let inToken = current
            advance()
            let (values, end) = try parseList(after: inToken)
            result = ExpressionNode(kind: .member(left, values, negated: false), start: left.start, end: end)
        } else if isKeyword("not") {
            let notToken = current
            advance()
            guard isKeyword("in") else { throw failure(current, "expected 'in' after 'not', found \(found(current))") }
            advance()
            let (values, end) = try parseList(after: notToken)
            result = ExpressionNode(kind: .member(left, values, negated: true), start: left.start, end: end)
        } else {
            return left
        }
        if case .symbol(let symbol) = current.kind, ExpressionNode.ComparisonOperator(rawValue: symbol) != nil {
            throw failure(current, "comparisons do not chain: combine them with 'and', found \(found(current))")
        }
        if isKeyword("in") {
            throw failure(current, "comparisons do not chain: combine them with 'and', found \(found(current))")
        }
        return result
    }

    /// `[literal, …]` after `in` / `not in`; returns the literals and the end of the ']'.
    private mutating func parseList(after keyword: ExpressionToken) throws(ExpressionError) -> ([Operand], Int) {
        let keywordText = keyword.kind == .identifier("not") ? "not in" : "in"
        guard isSymbol("[") else { throw failure(current, "expected '[' after '\(keywordText)', found \(found(current))") }
        let open = current
        advance()
        var values: [Operand] = []
        while true {
            guard let literal = literalValue() else {
                throw failure(current, "expected a literal (number, string, true, false or null) in the list, found \(found(current))")
            }
            values.append(literal)
            if isSymbol(",") {
                advance()
            } else if isSymbol("]") {
                let end = current.end
                advance()
                return (values, end)
            } else {
                throw failure(current, "expected ',' or ']' to close '[' at \(source.column(open.start)), found \(found(current))")
            }
        }
    }

    /// A literal for an `in` list (an optional '-' before a number), consumed; nil when there is none.
    private mutating func literalValue() -> Operand? {
        let negative = isSymbol("-")
        let token = negative ? tokens[min(position + 1, tokens.count - 1)] : current
        let value: Operand
        switch token.kind {
        case .integer(let magnitude): value = .integer(negative: negative && !magnitude.isZero, magnitude: magnitude)
        case .decimal(let number): value = .decimal(negative ? -number : number)
        case .string(let text) where !negative: value = .string(text)
        case .identifier("true") where !negative: value = .bool(true)
        case .identifier("false") where !negative: value = .bool(false)
        case .identifier("null") where !negative: value = .null
        default: return nil
        }
        if negative { advance() }
        advance()
        return value
    }

    private mutating func parseAdditive() throws(ExpressionError) -> ExpressionNode {
        let first = try parseMultiplicative()
        var steps: [ExpressionNode.ArithmeticStep] = []
        while case .symbol(let symbol) = current.kind, symbol == "+" || symbol == "-" {
            advance()
            steps.append(.init(op: symbol == "+" ? .add : .subtract, operand: try parseMultiplicative()))
        }
        guard let last = steps.last else { return first }
        return ExpressionNode(kind: .arithmetic(first, steps), start: first.start, end: last.operand.end)
    }

    private mutating func parseMultiplicative() throws(ExpressionError) -> ExpressionNode {
        let first = try parseUnary()
        var steps: [ExpressionNode.ArithmeticStep] = []
        while case .symbol(let symbol) = current.kind, let op = ExpressionNode.ArithmeticOperator(rawValue: symbol),
              op == .multiply || op == .divide || op == .remainder {
            advance()
            steps.append(.init(op: op, operand: try parseUnary()))
        }
        guard let last = steps.last else { return first }
        return ExpressionNode(kind: .arithmetic(first, steps), start: first.start, end: last.operand.end)
    }

    private mutating func parseUnary() throws(ExpressionError) -> ExpressionNode {
        guard isSymbol("-") else { return try parsePrimary() }
        let minus = current
        advance()
        try enter(minus)
        defer { depth -= 1 }
        let operand = try parseUnary()
        // A negative literal is a constant.
        if case .constant(let value) = operand.kind {
            switch value {
            case .integer(let negative, let magnitude):
                return ExpressionNode(kind: .constant(.integer(negative: !negative && !magnitude.isZero, magnitude: magnitude)), start: minus.start, end: operand.end)
            case .decimal(let number):
                return ExpressionNode(kind: .constant(.decimal(-number)), start: minus.start, end: operand.end)
            default:
                break
            }
        }
        return ExpressionNode(kind: .negate(operand), start: minus.start, end: operand.end)
    }

    private mutating func parsePrimary() throws(ExpressionError) -> ExpressionNode {
        let token = current
        switch token.kind {
        case .integer(let magnitude):
            advance()
            return constant(.integer(negative: false, magnitude: magnitude), token)
        case .decimal(let number):
            advance()
            return constant(.decimal(number), token)
        case .string(let text):
            advance()
            return constant(.string(text), token)
        case .identifier(let name):
            switch name {
            case "true":
                advance()
                return constant(.bool(true), token)
            case "false":
                advance()
                return constant(.bool(false), token)
            case "null":
                advance()
                return constant(.null, token)
            case "and", "or", "not", "in":
                throw failure(token, "\(expectedValue()), found \(found(token))")
            default:
                if case .symbol("(") = tokens[min(position + 1, tokens.count - 1)].kind { return try parseCall(token, name) }
                return try parsePath(token, name)
            }
        case .quotedIdentifier(let name):
            return try parsePath(token, name)
        case .symbol("("):
            advance()
            try enter(token)
            defer { depth -= 1 }
            let inner = try parseOr()
            guard isSymbol(")") else {
                throw failure(current, "expected ')' to close '(' at \(source.column(token.start)), found \(found(current))")
            }
            let end = current.end
            advance()
            return ExpressionNode(kind: inner.kind, start: token.start, end: end)
        default:
            throw failure(token, "\(expectedValue()), found \(found(token))")
        }
    }

    /// IDENT ("." IDENT | "[" INTEGER "]")*, the first name already read as `token`.
    private mutating func parsePath(_ token: ExpressionToken, _ name: String) throws(ExpressionError) -> ExpressionNode {
        var components: [PathComponent] = [.key(Array(name.utf8))]
        var end = token.end
        advance()
        while true {
            if isSymbol(".") {
                advance()
                switch current.kind {
                case .identifier(let name), .quotedIdentifier(let name):
                    components.append(.key(Array(name.utf8)))
                default:
                    throw failure(current, "expected a field name after '.', found \(found(current))")
                }
            } else if isSymbol("[") {
                advance()
                guard case .integer(let index) = current.kind, index.fitsInUInt64, index.w0 <= UInt64(Int32.max) else {
                    throw failure(current, "expected an array index (a non-negative integer) after '[', found \(found(current))")
                }
                components.append(.index(Int(index.w0)))
                advance()
                guard isSymbol("]") else { throw failure(current, "expected ']' after the array index, found \(found(current))") }
            } else {
                break
            }
            end = current.end
            advance()
        }
        if seenPaths.insert(components).inserted { fieldPaths.append(components) }
        return ExpressionNode(kind: .path(components), start: token.start, end: end)
    }

    /// NAME "(" args ")", with `exists` and `header` checked and turned into their own nodes.
    private mutating func parseCall(_ token: ExpressionToken, _ name: String) throws(ExpressionError) -> ExpressionNode {
        let function = ExpressionFunction(rawValue: name)
        guard function != nil || name == "exists" || name == "header" else {
            throw failure(token, "unknown function '\(name)'; known functions: \(ExpressionFunction.allNames.joined(separator: ", "))")
        }
        try enter(token)
        defer { depth -= 1 }
        advance() // the name
        let open = current
        advance() // "("
        var arguments: [ExpressionNode] = []
        if isSymbol(")") {
            advance()
        } else {
            while true {
                arguments.append(try parseOr())
                if isSymbol(",") {
                    advance()
                } else if isSymbol(")") {
                    advance()
                    break
                } else {
                    throw failure(current, "expected ',' or ')' to close '\(name)(' at \(source.column(open.start)), found \(found(current))")
                }
            }
        }
        let end = tokens[position - 1].end
        switch name {
        case "exists":
            guard arguments.count == 1, case .path(let path) = arguments[0].kind else {
                throw failure(token, "exists() takes one field path, e.g. exists(transfer.amount)")
            }
            return ExpressionNode(kind: .exists(path), start: token.start, end: end)
        case "header":
            guard arguments.count == 1, case .constant(.string(let header)) = arguments[0].kind else {
                throw failure(token, "header() takes the header name as a string, e.g. header('source')")
            }
            return ExpressionNode(kind: .header(header), start: token.start, end: end)
        default:
            break
        }
        guard let function else { throw failure(token, "unknown function '\(name)'") }
        switch function {
        case .lower, .upper, .length:
            guard arguments.count == 1 else {
                throw failure(token, "\(name)() takes 1 argument, found \(arguments.count)")
            }
        case .concat, .coalesce:
            guard !arguments.isEmpty else { throw failure(token, "\(name)() takes at least 1 argument, found 0") }
        }
        return ExpressionNode(kind: .call(function, arguments), start: token.start, end: end)
    }

    // MARK: - Helpers

    private var current: ExpressionToken { tokens[position] }

    private mutating func advance() {
        if position < tokens.count - 1 { position += 1 }
    }

    private func isSymbol(_ symbol: String) -> Bool {
        if case .symbol(let found) = current.kind { return found == symbol }
        return false
    }

    private func isKeyword(_ keyword: String) -> Bool {
        if case .identifier(let found) = current.kind { return found == keyword }
        return false
    }

    private mutating func enter(_ token: ExpressionToken) throws(ExpressionError) {
        depth += 1
        guard depth <= Self.maximumDepth else {
            throw failure(token, "nesting deeper than \(Self.maximumDepth) levels")
        }
    }

    private func constant(_ value: Operand, _ token: ExpressionToken) -> ExpressionNode {
        ExpressionNode(kind: .constant(value), start: token.start, end: token.end)
    }

    /// "expected a value after '=='", or "expected an expression" at the start.
    private func expectedValue() -> String {
        guard position > 0 else { return "expected an expression" }
        return "expected a value after '\(text(tokens[position - 1]))'"
    }

    private func text(_ token: ExpressionToken) -> String { source.snippet(token.start, token.end) }

    private func found(_ token: ExpressionToken) -> String {
        switch token.kind {
        case .end: return "end of expression"
        case .string: return "string \(text(token))"
        default: return "'\(text(token))'"
        }
    }

    private func failure(_ token: ExpressionToken, _ message: String) -> ExpressionError {
        ExpressionError(position: source.column(token.start), message: message)
    }
}
