/// Reads JSON payloads in place, without building a tree: `indexObject` validates a whole document
/// in one pass and records its top-level members as byte offsets; `members`, `elements`,
/// `member(_:in:of:)` and `element(_:in:of:)` then walk into values that pass found, on demand.
///
/// Validation follows RFC 8259 strictly (one value, which must be an object; no trailing commas,
/// no comments, no unescaped control characters in strings, only the escapes the RFC lists,
/// no leading zeros, nesting at most `maximumDepth`), with one exception for speed: bytes of 0x80
/// and above inside strings are passed over without checking that they form valid UTF-8.
/// `decodeString` replaces invalid sequences with U+FFFD.
public enum JSONScanner {
    /// The deepest nesting `indexObject` accepts; the top-level object is depth 1.
    public static let maximumDepth = 64

    /// Validates `bytes` as exactly one JSON object (whitespace around it allowed) and replaces the
    /// contents of `fields` with its top-level members, in document order. Allocates nothing once
    /// `fields` has the capacity. Documents of 2 GiB or more are refused (offsets are Int32).
    public static func indexObject(_ bytes: UnsafeRawBufferPointer, into fields: inout [JSONField]) throws(JSONSyntaxError) {
        fields.removeAll(keepingCapacity: true)
        guard bytes.count < Int(Int32.max) else {
            throw JSONSyntaxError(offset: 0, message: "document of 2 GiB or more (the limit for an indexed payload)")
        }
        guard let base = bytes.baseAddress, !bytes.isEmpty else {
            throw JSONSyntaxError(offset: 0, message: "expected a JSON object, found end of input")
        }
        var validator = JSONObjectValidator(base: base, end: bytes.count)
        try validator.run(into: &fields)
    }

    /// `indexObject` over an array's bytes (`Array.withUnsafeBytes` is `rethrows`, which loses the
    /// error type inside a typed-throws caller).
    public static func indexObject(_ bytes: [UInt8], into fields: inout [JSONField]) throws(JSONSyntaxError) {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(JSONSyntaxError) in try indexObject(raw, into: &fields) }
        }
        try result.get()
    }
}
