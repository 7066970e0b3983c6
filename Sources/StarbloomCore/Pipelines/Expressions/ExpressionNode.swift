/// A compiled expression: a tree of nodes, each with the span of text it came from (offsets in
/// Unicode scalars), which evaluation errors quote. Chains of `and`, `or`, `+ -` and `* / %` are
/// flat lists, so the tree is only as deep as the nesting the parser limits.
struct ExpressionNode: Sendable {
    indirect enum Kind: Sendable {
        case constant(Operand)
        case path([PathComponent])
        case exists([PathComponent])
        case header(String)
        case negate(ExpressionNode)
        case not(ExpressionNode)
        case all([ExpressionNode])
        case any([ExpressionNode])
        case compare(ComparisonOperator, ExpressionNode, ExpressionNode)
        case member(ExpressionNode, [Operand], negated: Bool)
        case arithmetic(ExpressionNode, [ArithmeticStep])
        case call(ExpressionFunction, [ExpressionNode])
    }

    enum ComparisonOperator: String, Sendable {
        case equal = "==", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
    }

    enum ArithmeticOperator: String, Sendable {
        case add = "+", subtract = "-", multiply = "*", divide = "/", remainder = "%"
    }

    struct ArithmeticStep: Sendable {
        var op: ArithmeticOperator
        var operand: ExpressionNode
    }

    var kind: Kind
    var start: Int
    var end: Int
}

/// The functions expressions can call, besides `exists(path)` and `header("name")`, which the
/// parser turns into nodes of their own.
enum ExpressionFunction: String, Sendable, CaseIterable {
    case lower, upper, concat, length, coalesce

    /// Every function name, for "unknown function" messages.
    static let allNames = (allCases.map(\.rawValue) + ["exists", "header"]).sorted()
}
