/// A Solidity ABI type, as it appears in a JSON ABI `type` field (with `components` for tuples).
public indirect enum ABIType: Sendable, Hashable {
    case address
    case bool
    /// `uint<bits>`, bits in 8...256, a multiple of 8.
    case uint(bits: Int)
    /// `int<bits>`, bits in 8...256, a multiple of 8.
    case int(bits: Int)
    /// `bytes<size>`, size in 1...32.
    case fixedBytes(size: Int)
    /// `function`: a 20-byte address followed by a 4-byte selector, left-aligned in one word.
    case function
    case bytes
    case string
    /// `T[count]` when `count` is given, `T[]` when it is nil.
    case array(element: ABIType, count: Int?)
    case tuple([ABIComponent])

    /// The form used in canonical signatures: `uint256`, `(address,uint256)[]`.
    public var canonical: String {
        switch self {
        case .address: return "address"
        case .bool: return "bool"
        case .uint(let bits): return "uint\(bits)"
        case .int(let bits): return "int\(bits)"
        case .fixedBytes(let size): return "bytes\(size)"
        case .function: return "function"
        case .bytes: return "bytes"
        case .string: return "string"
        case .array(let element, let count):
            return element.canonical + (count.map { "[\($0)]" } ?? "[]")
        case .tuple(let components):
            return "(" + components.map(\.type.canonical).joined(separator: ",") + ")"
        }
    }

    /// Whether the encoding has a variable size (and is reached through an offset).
    public var isDynamic: Bool {
        switch self {
        case .address, .bool, .uint, .int, .fixedBytes, .function: return false
        case .bytes, .string: return true
        case .array(let element, let count): return count == nil || element.isDynamic
        case .tuple(let components): return components.contains { $0.type.isDynamic }
        }
    }

    /// A one-word value type: stored directly in a topic when indexed. Every other type
    /// (bytes, string, arrays, tuples) is stored as the keccak-256 hash of its encoding.
    public var isValueType: Bool {
        switch self {
        case .address, .bool, .uint, .int, .fixedBytes, .function: return true
        case .bytes, .string, .array, .tuple: return false
        }
    }

    /// Bytes taken in the head of an enclosing tuple: 32 for dynamic types (the offset), the whole
    /// encoding for static ones. Bounded at parse time (see `ABIType.maximumStaticSize`).
    var headSize: Int {
        switch self {
        case .address, .bool, .uint, .int, .fixedBytes, .function, .bytes, .string: return 32
        case .array(let element, let count):
            guard let count, !element.isDynamic else { return 32 }
            return count * element.headSize
        case .tuple(let components):
            guard !isDynamic else { return 32 }
            return components.reduce(0) { $0 + $1.type.headSize }
        }
    }

    /// Nesting deeper than this is refused when parsing (it bounds the decoder's recursion).
    public static let maximumDepth = 32
    /// Static types larger than this (e.g. `uint256[100000000]`) are refused when parsing.
    public static let maximumStaticSize = 1 << 24

    /// Parses a JSON ABI type string. `components` is the parsed `components` array, required when
    /// the base type is `tuple`. Throws a message describing the problem.
    public static func parse(_ text: String, components: [ABIComponent]? = nil) throws(ABITypeError) -> ABIType {
        var base = Substring(text)
        var dimensions: [Int?] = []
        // Suffixes, outermost last: `uint256[2][]` is a dynamic array of uint256[2].
        while base.last == "]" {
            guard let open = base.lastIndex(of: "[") else { throw ABITypeError("unknown type '\(text)'") }
            let inside = base[base.index(after: open)..<base.index(before: base.endIndex)]
            if inside.isEmpty {
                dimensions.append(nil)
            } else {
                guard inside.allSatisfy({ $0.isASCII && $0.isNumber }), inside.first != "0" || inside.count == 1,
                      inside.count <= 9, let count = Int(inside) else {
                    throw ABITypeError("bad array size in '\(text)'")
                }
                guard count > 0 else { throw ABITypeError("zero-length array in '\(text)'") }
                dimensions.append(count)
            }
            base = base[..<open]
        }
        dimensions.reverse()
        var type = try parseBase(base, text: text, components: components)
        for count in dimensions {
            type = .array(element: type, count: count)
        }
        try type.validate()
        return type
    }

    /// Checks a type built in code the way `parse` checks a parsed one: sizes in range, non-empty
    /// tuples, positive array counts, nesting at most `maximumDepth`, static parts at most
    /// `maximumStaticSize` bytes. The decoder relies on these bounds.
    public func validate() throws(ABITypeError) {
        try validateShape()
        guard depth <= ABIType.maximumDepth else {
            throw ABITypeError("type '\(canonical)' nests more than \(ABIType.maximumDepth) levels")
        }
        guard staticPartsAreBounded else {
            throw ABITypeError("type '\(canonical)' has a static part larger than \(ABIType.maximumStaticSize) bytes")
        }
    }

    private func validateShape() throws(ABITypeError) {
        switch self {
        case .address, .bool, .function, .bytes, .string: return
        case .uint(let bits), .int(let bits):
            guard bits >= 8, bits <= 256, bits % 8 == 0 else { throw ABITypeError("unknown type '\(canonical)'") }
        case .fixedBytes(let size):
            guard size >= 1, size <= 32 else { throw ABITypeError("unknown type '\(canonical)'") }
        case .array(let element, let count):
            if let count, count <= 0 { throw ABITypeError("zero-length array in '\(canonical)'") }
            try element.validateShape()
        case .tuple(let components):
            guard !components.isEmpty else { throw ABITypeError("tuple type '\(canonical)' has no components") }
            var names = Set<String>()
            for (index, component) in components.enumerated() {
                let key = component.name.isEmpty ? "arg\(index)" : component.name
                guard names.insert(key).inserted else {
                    throw ABITypeError("tuple type '\(canonical)' has two components named '\(key)'")
                }
                try component.type.validateShape()
            }
        }
    }

    private static func parseBase(_ base: Substring, text: String, components: [ABIComponent]?) throws(ABITypeError) -> ABIType {
        switch base {
        case "address": return .address
        case "bool": return .bool
        case "string": return .string
        case "bytes": return .bytes
        case "function": return .function
        case "uint": return .uint(bits: 256)
        case "int": return .int(bits: 256)
        case "byte": return .fixedBytes(size: 1)
        case "tuple":
            guard let components else { throw ABITypeError("tuple type '\(text)' has no components") }
            guard !components.isEmpty else { throw ABITypeError("tuple type '\(text)' has no components") }
            return .tuple(components)
        default: break
        }
        if let bits = suffixNumber(base, prefix: "uint") {
            guard bits >= 8, bits <= 256, bits % 8 == 0 else { throw ABITypeError("unknown type '\(text)'") }
            return .uint(bits: bits)
        }
        if let bits = suffixNumber(base, prefix: "int") {
            guard bits >= 8, bits <= 256, bits % 8 == 0 else { throw ABITypeError("unknown type '\(text)'") }
            return .int(bits: bits)
        }
        if let size = suffixNumber(base, prefix: "bytes") {
            guard size >= 1, size <= 32 else { throw ABITypeError("unknown type '\(text)'") }
            return .fixedBytes(size: size)
        }
        if base.hasPrefix("fixed") || base.hasPrefix("ufixed") {
            throw ABITypeError("unsupported type '\(text)' (fixed-point)")
        }
        throw ABITypeError("unknown type '\(text)'")
    }

    /// The decimal number after `prefix`, without sign or leading zero; nil when it is not that shape.
    private static func suffixNumber(_ text: Substring, prefix: String) -> Int? {
        guard text.hasPrefix(prefix) else { return nil }
        let digits = text.dropFirst(prefix.count)
        guard !digits.isEmpty, digits.count <= 3, digits.first != "0",
              digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(digits)
    }

    private var depth: Int {
        switch self {
        case .array(let element, _): return 1 + element.depth
        case .tuple(let components): return 1 + (components.map(\.type.depth).max() ?? 0)
        default: return 0
        }
    }

    /// Whether every static subtree has a bounded size (so `headSize` can never overflow).
    private var staticPartsAreBounded: Bool {
        if !isDynamic { return staticSizeIfBounded != nil }
        switch self {
        case .array(let element, _): return element.staticPartsAreBounded
        case .tuple(let components): return components.allSatisfy(\.type.staticPartsAreBounded)
        default: return true
        }
    }

    /// The static encoding size, or nil when it exceeds `maximumStaticSize` (checked with no overflow).
    private var staticSizeIfBounded: Int? {
        switch self {
        case .array(let element, let count):
            guard let count, let elementSize = element.staticSizeIfBounded else { return nil }
            let (size, overflow) = count.multipliedReportingOverflow(by: elementSize)
            return overflow || size > ABIType.maximumStaticSize ? nil : size
        case .tuple(let components):
            var total = 0
            for component in components {
                guard let size = component.type.staticSizeIfBounded else { return nil }
                total += size
                if total > ABIType.maximumStaticSize { return nil }
            }
            return total
        default:
            return 32
        }
    }
}

/// A named member of a tuple (a struct field). In decoded output a tuple is an object keyed by
/// component name, or `arg<i>` (its position) when the name is empty.
public struct ABIComponent: Sendable, Hashable {
    public var name: String
    public var type: ABIType

    public init(name: String, type: ABIType) {
        self.name = name
        self.type = type
    }
}

/// Why a type string could not be parsed.
public struct ABITypeError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
