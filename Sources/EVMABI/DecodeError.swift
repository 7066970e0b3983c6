/// Why a log could not be decoded. `reason` is the full message for a dead-letter record:
/// `Transfer: argument 'value': data too short: needs 96 bytes, has 64`.
public struct DecodeError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// A topic is not exactly 32 bytes.
        case topicSize
        /// No known event has this topic0 (or, for anonymous events, this number of topics).
        case unknownEvent
        /// topic0 is known but the number of topics does not match any event with it.
        case topicCount
        /// A read goes past the end of the data.
        case dataTooShort
        /// An offset to a dynamic value points outside the data.
        case offsetOutOfRange
        /// A length (of bytes, string or a dynamic array) does not fit in the data.
        case lengthOutOfRange
        /// A value with bits the type forbids: address/uintN high bits, bool other than 0 or 1,
        /// intN not sign-extended, bytesN or function with non-zero trailing bytes.
        case nonCanonical
        /// Offsets that point at the same data many times would expand the output beyond a bound
        /// proportional to the data size.
        case expansionLimit
    }

    public var kind: Kind
    /// The event tried, when one was.
    public var event: String?
    /// The argument, with a path inside it: `amounts[2]`, `order.price`.
    public var argument: String?
    public var detail: String

    public init(_ kind: Kind, event: String? = nil, argument: String? = nil, _ detail: String) {
        self.kind = kind
        self.event = event
        self.argument = argument
        self.detail = detail
    }

    public var reason: String {
        var text = ""
        if let event { text += "\(event): " }
        if let argument { text += "argument '\(argument)': " }
        return text + detail
    }

    public var description: String { reason }

    /// Adds an outer path component: `[2]` then `amounts` gives `amounts[2]`.
    func inside(_ component: String) -> DecodeError {
        var copy = self
        if let argument = copy.argument {
            copy.argument = argument.hasPrefix("[") ? component + argument : component + "." + argument
        } else {
            copy.argument = component
        }
        return copy
    }
}
