/// Why an expression could not be evaluated on one input (the record goes to the dead-letter topic
/// with this text). `description` reads "'amount + 1': amount is the string \"abc\", not a number".
public struct ExpressionEvaluationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The expression's text.
    public let expression: String
    public let message: String

    public init(expression: String, message: String) {
        self.expression = expression
        self.message = message
    }

    public var description: String { "'\(expression)': \(message)" }
}
