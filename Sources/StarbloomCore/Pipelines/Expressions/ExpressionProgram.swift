/// An expression lowered for evaluation: the parser's tree flattened into one array of steps whose
/// payloads are plain integers (indices of children, constants and paths), so that evaluation walks
/// it without retaining and releasing nodes. Children come before their parent; `root` is last.
final class ExpressionProgram: Sendable {
    enum Step: Sendable {
        case constant(Int)
        case path(Int)
        case exists(Int)
        /// The header name is `constants[index]`, a string.
        case header(Int)
        case negate(Int)
        case not(Int)
        /// Operands are `children[range]`.
        case all(Range<Int>)
        case any(Range<Int>)
        case compare(ExpressionNode.ComparisonOperator, Int, Int)
        /// The list is `constants[range]`.
        case member(Int, Range<Int>, negated: Bool)
        /// The first operand, then `links[range]`.
        case arithmetic(Int, Range<Int>)
        /// Arguments are `children[range]`.
        case call(ExpressionFunction, Range<Int>)
    }

    struct Link: Sendable {
        var op: ExpressionNode.ArithmeticOperator
        var operand: Int
    }

    let text: String
    let fieldPaths: [[PathComponent]]
    let steps: [Step]
    /// Where each step's text lies in `text`, in Unicode scalars (for error messages).
    let spans: [Range<Int>]
    let children: [Int]
    let links: [Link]
    let constants: [Operand]
    let paths: [[PathComponent]]
    let root: Int

    init(text: String, fieldPaths: [[PathComponent]], tree: ExpressionNode) {
        var builder = Builder()
        root = builder.lower(tree)
        self.text = text
        self.fieldPaths = fieldPaths
        steps = builder.steps
        spans = builder.spans
        children = builder.children
        links = builder.links
        constants = builder.constants
        paths = builder.paths
    }

    private struct Builder {
        var steps: [Step] = []
        var spans: [Range<Int>] = []
        var children: [Int] = []
        var links: [Link] = []
        var constants: [Operand] = []
        var paths: [[PathComponent]] = []

        mutating func lower(_ node: ExpressionNode) -> Int {
            let step: Step
            switch node.kind {
            case .constant(let value):
                step = .constant(constant(value))
            case .path(let path):
                paths.append(path)
                step = .path(paths.count - 1)
            case .exists(let path):
                paths.append(path)
                step = .exists(paths.count - 1)
            case .header(let name):
                step = .header(constant(.string(name)))
            case .negate(let operand):
                step = .negate(lower(operand))
            case .not(let operand):
                step = .not(lower(operand))
            case .all(let operands):
                step = .all(lowerList(operands))
            case .any(let operands):
                step = .any(lowerList(operands))
            case .compare(let op, let left, let right):
                let leftIndex = lower(left)
                step = .compare(op, leftIndex, lower(right))
            case .member(let operand, let values, let negated):
                let operandIndex = lower(operand)
                let start = constants.count
                constants.append(contentsOf: values)
                step = .member(operandIndex, start..<constants.count, negated: negated)
            case .arithmetic(let first, let rest):
                let firstIndex = lower(first)
                let lowered = rest.map { Link(op: $0.op, operand: lower($0.operand)) }
                let start = links.count
                links.append(contentsOf: lowered)
                step = .arithmetic(firstIndex, start..<links.count)
            case .call(let function, let arguments):
                step = .call(function, lowerList(arguments))
            }
            steps.append(step)
            spans.append(node.start..<node.end)
            return steps.count - 1
        }

        private mutating func lowerList(_ nodes: [ExpressionNode]) -> Range<Int> {
            let indices = nodes.map { lower($0) }
            let start = children.count
            children.append(contentsOf: indices)
            return start..<children.count
        }

        private mutating func constant(_ value: Operand) -> Int {
            constants.append(value)
            return constants.count - 1
        }
    }
}
