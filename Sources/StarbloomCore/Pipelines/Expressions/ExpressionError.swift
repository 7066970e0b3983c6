/// Why an expression does not parse: `position` is the 1-based character column where the problem
/// was found, `message` says what was expected and what was found there.
/// `description` reads "at 12: expected ')' to close '(' at 5, found end of expression".
public struct ExpressionError: Error, Equatable, Sendable, CustomStringConvertible {
    public let position: Int
    public let message: String

    public init(position: Int, message: String) {
        self.position = position
        self.message = message
    }

    public var description: String { "at \(position): \(message)" }
}
