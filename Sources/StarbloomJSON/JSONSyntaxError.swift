/// Why a document is not the JSON the scanner accepts, and where (0-based byte offset).
/// `message` is the reason alone ("expected ':' after object key, found '}'"); `description` adds
/// the place ("… at byte 17").
public struct JSONSyntaxError: Error, Equatable, Sendable, CustomStringConvertible {
    public let offset: Int
    public let message: String

    public init(offset: Int, message: String) {
        self.offset = offset
        self.message = message
    }

    public var description: String { "\(message) at byte \(offset)" }
}
