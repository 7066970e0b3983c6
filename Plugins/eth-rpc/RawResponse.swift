import StarbloomJSON

/// A JSON-RPC answer kept as its bytes, validated once by `JSONScanner` and read in place:
/// `results[i]` is the result of call i (in the order sent). Large answers (a range's logs, a
/// batch of blocks) cost one validating pass and no tree.
struct RawResponse {
    var bytes: [UInt8]
    var results: [JSONField] = []

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Validates the whole answer and finds each call's result by id; a JSON-RPC error, a missing
    /// or unknown id, or malformed JSON is an `AttemptError` (retried like any failure).
    mutating func index(calls methods: [String], firstID: UInt64, batch: Bool, endpoint: String) throws(AttemptError) {
        var top: [JSONField] = []
        do {
            try JSONScanner.indexObject(bytes, into: &top)
        } catch {
            // Offsets count from the answer's first byte (a batch is wrapped in 5 bytes).
            throw AttemptError(message: "\(endpoint): malformed JSON: \(error.message) at byte \(error.offset - (batch ? 5 : 0))")
        }
        let found: [JSONField?] = try bytes.withUnsafeBytes { buffer -> Result<[JSONField?], AttemptError> in
            var replies: [JSONField] = []
            if batch {
                guard top.count == 1, top[0].kind == .array else { return .failure(AttemptError(message: "\(endpoint): a batch answered with a non-array")) }
                JSONScanner.elements(of: buffer, array: top[0], into: &replies)
                guard replies.count == methods.count else {
                    return .failure(AttemptError(message: "batch of \(methods.count) answered with \(replies.count) items"))
                }
            } else {
                replies = [JSONField(keyStart: 0, keyEnd: 0, valueStart: 0, valueEnd: 0, kind: .null)] // its members are `top`
            }
            var results = [JSONField?](repeating: nil, count: methods.count)
            var members: [JSONField] = []
            for reply in replies {
                if batch { JSONScanner.members(of: buffer, object: reply, into: &members) } else { members = top }
                let index: Int
                if batch {
                    guard let idField = JSONScanner.lookup(buffer, fields: members, key: Array("id".utf8)), idField.kind == .number,
                          let id = UInt64(JSONScanner.decodeString(buffer, idField)), id >= firstID, id < firstID + UInt64(methods.count) else {
                        return .failure(AttemptError(message: "batch response with an unknown id"))
                    }
                    index = Int(id - firstID)
                } else {
                    index = 0
                }
                if let error = JSONScanner.lookup(buffer, fields: members, key: Array("error".utf8)), error.kind != .null {
                    var errorMembers: [JSONField] = []
                    JSONScanner.members(of: buffer, object: error, into: &errorMembers)
                    let code = JSONScanner.lookup(buffer, fields: errorMembers, key: Array("code".utf8)).map { " " + JSONScanner.decodeString(buffer, $0) } ?? ""
                    let message = JSONScanner.lookup(buffer, fields: errorMembers, key: Array("message".utf8)).map { JSONScanner.decodeString(buffer, $0) } ?? "no message"
                    return .failure(AttemptError(message: "\(methods[index]): JSON-RPC error\(code): \(message)"))
                }
                guard let result = JSONScanner.lookup(buffer, fields: members, key: Array("result".utf8)) else {
                    return .failure(AttemptError(message: "\(methods[index]): response has neither result nor error"))
                }
                results[index] = result
            }
            return .success(results)
        }.get()
        results = []
        for (index, result) in found.enumerated() {
            guard let result else { throw AttemptError(message: "batch response missing the answer to \(methods[index])") }
            results.append(result)
        }
    }

    /// The first result as a QUANTITY of at most 64 bits, nil if it is not one.
    func quantity() -> UInt64? {
        bytes.withUnsafeBytes { InPlace(buffer: $0).quantity(results[0]) }
    }

    /// The first result's JSON text (for messages; at most 200 bytes).
    var resultText: String {
        let field = results[0]
        let end = min(Int(field.valueEnd), Int(field.valueStart) + 200)
        return String(decoding: bytes[Int(field.valueStart)..<end], as: UTF8.self)
    }
}
