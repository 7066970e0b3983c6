/// The recursive ABI decoder for one log's data. Every read is bounds-checked before it happens,
/// lengths are checked against the data before any loop runs, and the total decoded size is
/// bounded (`budget`) so that offsets pointing at the same bytes again and again cannot blow up
/// the output.
struct LogDecoding {
    let data: [UInt8]
    /// Bytes that may still be decoded. A canonical encoding reads each byte once; the bound
    /// leaves room for encoders that share tails.
    private var budget: Int

    init(data: [UInt8]) {
        self.data = data
        budget = data.count * 4 + 1024
    }

    /// Decodes the value whose head slot is at `position` in a tuple encoding starting at `base`:
    /// the value itself for static types, an offset from `base` for dynamic ones.
    mutating func decodeHead(_ type: ABIType, at position: Int, base: Int, into writer: inout JSONWriter) throws(DecodeError) {
        guard type.isDynamic else {
            try decodeEncoding(type, at: position, into: &writer)
            return
        }
        let offset = try readSize(at: position, kind: .offsetOutOfRange, what: "offset")
        // Every dynamic encoding is at least one word long.
        guard offset <= data.count - base - 32 else {
            throw DecodeError(.offsetOutOfRange,
                              "offset \(offset) from \(base) is outside the data (\(data.count) bytes)")
        }
        try decodeEncoding(type, at: base + offset, into: &writer)
    }

    /// Decodes the encoding of `type` that starts at `position`.
    private mutating func decodeEncoding(_ type: ABIType, at position: Int, into writer: inout JSONWriter) throws(DecodeError) {
        switch type {
        case .address, .bool, .uint, .int, .fixedBytes, .function:
            try need(position, 32)
            try charge(32)
            try LogDecoding.writeWord(type, data, at: position, into: &writer)

        case .bytes, .string:
            let length = try readSize(at: position, kind: .lengthOutOfRange, what: "length")
            let start = position + 32
            guard length <= data.count - start else {
                throw DecodeError(.lengthOutOfRange,
                                  "length \(length) at \(position) exceeds the \(data.count - start) bytes after it")
            }
            let padded = (length + 31) / 32 * 32
            guard padded <= data.count - start else {
                throw DecodeError(.dataTooShort,
                                  "\(length) bytes at \(start) need \(padded) with padding, data has \(data.count - start)")
            }
            try charge(padded)
            if case .string = type {
                let text = String(decoding: data[start..<(start + length)], as: UTF8.self)
                writer.string(text)
            } else {
                writer.hexString(data, from: start, count: length)
            }

        case .array(let element, let count):
            var start = position
            let length: Int
            if let count {
                length = count
            } else {
                length = try readSize(at: position, kind: .lengthOutOfRange, what: "array length")
                start = position + 32
                let available = data.count - start
                let (needed, overflow) = length.multipliedReportingOverflow(by: element.headSize)
                guard !overflow, needed <= available else {
                    throw DecodeError(.lengthOutOfRange,
                                      "array length \(length) at \(position) needs more than the \(available) bytes after it")
                }
            }
            let elementSize = element.headSize
            writer.raw("[")
            for index in 0..<length {
                if index > 0 { writer.raw(",") }
                do {
                    try decodeHead(element, at: start + index * elementSize, base: start, into: &writer)
                } catch {
                    throw error.inside("[\(index)]")
                }
            }
            writer.raw("]")

        case .tuple(let components):
            writer.raw("{")
            var head = position
            for (index, component) in components.enumerated() {
                let name = component.name.isEmpty ? "arg\(index)" : component.name
                if index > 0 { writer.raw(",") }
                writer.key(name)
                do {
                    try decodeHead(component.type, at: head, base: position, into: &writer)
                } catch {
                    throw error.inside(name)
                }
                head += component.type.headSize
            }
            writer.raw("}")
        }
    }

    /// Checks that `count` bytes at `position` are inside the data.
    private func need(_ position: Int, _ count: Int) throws(DecodeError) {
        guard position <= data.count, count <= data.count - position else {
            throw DecodeError(.dataTooShort, "needs \(position + count) bytes, data has \(data.count)")
        }
    }

    private mutating func charge(_ count: Int) throws(DecodeError) {
        budget -= count
        guard budget >= 0 else {
            throw DecodeError(.expansionLimit,
                              "offsets reuse data beyond the decoding limit (\(data.count * 4 + 1024) bytes for \(data.count) bytes of data)")
        }
    }

    /// Reads a word that must be an offset or a length no larger than the data.
    private mutating func readSize(at position: Int, kind: DecodeError.Kind, what: String) throws(DecodeError) -> Int {
        try need(position, 32)
        try charge(32)
        let word = Word256(data, at: position)
        guard word.limbs.0 | word.limbs.1 | word.limbs.2 == 0, word.limbs.3 <= UInt64(data.count) else {
            throw DecodeError(kind, "\(what) \(word.unsignedDecimal) at \(position) is larger than the data (\(data.count) bytes)")
        }
        return Int(word.limbs.3)
    }

    /// Writes a one-word value type read from `bytes[offset..<offset+32]` (checked by the caller),
    /// refusing non-canonical encodings.
    static func writeWord(_ type: ABIType, _ bytes: [UInt8], at offset: Int, into writer: inout JSONWriter) throws(DecodeError) {
        func zero(_ range: Range<Int>) -> Bool {
            var accumulated: UInt8 = 0
            for i in range { accumulated |= bytes[i] }
            return accumulated == 0
        }
        switch type {
        case .address:
            guard zero(offset..<(offset + 12)) else {
                throw DecodeError(.nonCanonical, "address has non-zero bytes in its 12-byte padding")
            }
            writer.hexString(bytes, from: offset + 12, count: 20)
        case .bool:
            guard zero(offset..<(offset + 31)), bytes[offset + 31] <= 1 else {
                throw DecodeError(.nonCanonical, "bool is neither 0 nor 1")
            }
            writer.raw(bytes[offset + 31] == 1 ? "true" : "false")
        case .uint(let bits):
            guard zero(offset..<(offset + 32 - bits / 8)) else {
                throw DecodeError(.nonCanonical, "value does not fit in uint\(bits)")
            }
            writer.raw("\"")
            Word256(bytes, at: offset).writeUnsignedDecimal(to: &writer)
            writer.raw("\"")
        case .int(let bits):
            let padding = 32 - bits / 8
            let fill: UInt8 = bytes[offset + padding] & 0x80 == 0 ? 0x00 : 0xff
            for i in offset..<(offset + padding) where bytes[i] != fill {
                throw DecodeError(.nonCanonical, "value is not a sign-extended int\(bits)")
            }
            writer.raw("\"")
            Word256(bytes, at: offset).writeSignedDecimal(to: &writer)
            writer.raw("\"")
        case .fixedBytes(let size):
            guard zero((offset + size)..<(offset + 32)) else {
                throw DecodeError(.nonCanonical, "bytes\(size) has non-zero bytes after its \(size)")
            }
            writer.hexString(bytes, from: offset, count: size)
        case .function:
            guard zero((offset + 24)..<(offset + 32)) else {
                throw DecodeError(.nonCanonical, "function has non-zero bytes after its 24")
            }
            writer.hexString(bytes, from: offset, count: 24)
        case .bytes, .string, .array, .tuple:
            preconditionFailure("writeWord called with a reference type")
        }
    }
}
