/// What a JSON value is, read from its first byte.
public enum JSONKind: UInt8, Sendable, Hashable {
    case object, array, string, number, trueValue, falseValue, null
}

/// One member of a scanned JSON object (or one element of an array): byte offsets into the buffer
/// that was scanned. Offsets are Int32 to keep the index small (20 bytes a member); the scanner
/// refuses documents of 2 GiB or more.
public struct JSONField: Sendable, Hashable {
    /// The key's text between its quotes, still escaped when `keyHasEscapes`. Empty (both equal to
    /// `valueStart`) for array elements.
    public var keyStart: Int32
    public var keyEnd: Int32
    /// The value's raw JSON text; strings include their quotes, so the range can be copied verbatim.
    public var valueStart: Int32
    public var valueEnd: Int32
    public var kind: JSONKind
    public var keyHasEscapes: Bool
    /// For string values: the text contains a backslash escape (needs `JSONScanner.decodeString`).
    public var valueHasEscapes: Bool

    public init(keyStart: Int32, keyEnd: Int32, keyHasEscapes: Bool = false,
                valueStart: Int32, valueEnd: Int32, kind: JSONKind, valueHasEscapes: Bool = false) {
        self.keyStart = keyStart
        self.keyEnd = keyEnd
        self.valueStart = valueStart
        self.valueEnd = valueEnd
        self.kind = kind
        self.keyHasEscapes = keyHasEscapes
        self.valueHasEscapes = valueHasEscapes
    }

    public var keyRange: Range<Int> { Int(keyStart)..<Int(keyEnd) }
    public var valueRange: Range<Int> { Int(valueStart)..<Int(valueEnd) }
}
