import StarbloomJSON

extension JSONScanner {
    /// A member's key as UTF-8 bytes, escapes decoded.
    static func keyBytes(_ bytes: UnsafeRawBufferPointer, _ field: JSONField) -> [UInt8] {
        guard field.keyHasEscapes else { return Array(bytes[field.keyRange]) }
        // The key's text with its quotes, read as a string value.
        let quoted = JSONField(keyStart: 0, keyEnd: 0, valueStart: field.keyStart - 1, valueEnd: field.keyEnd + 1, kind: .string, valueHasEscapes: true)
        return Array(decodeString(bytes, quoted).utf8)
    }

    /// Whether `bytes` is one JSON value of any kind (enrichment stores JSON values as JSON).
    static func isValidJSON(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var wrapped: [UInt8] = Array("{\"v\":".utf8)
        wrapped.append(contentsOf: bytes)
        wrapped.append(UInt8(ascii: "}"))
        var fields: [JSONField] = []
        return wrapped.withUnsafeBytes { (try? indexObject($0, into: &fields)) != nil }
    }
}
