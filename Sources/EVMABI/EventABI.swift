import Foundation

/// One event of a Solidity JSON ABI, with its canonical signature and topic0.
public struct EventABI: Sendable, Hashable {
    public struct Parameter: Sendable, Hashable {
        /// As written in the ABI; may be empty.
        public var name: String
        public var type: ABIType
        public var indexed: Bool

        public init(name: String, type: ABIType, indexed: Bool) {
            self.name = name
            self.type = type
            self.indexed = indexed
        }
    }

    public let name: String
    public let inputs: [Parameter]
    public let anonymous: Bool
    /// `Transfer(address,address,uint256)`.
    public let signature: String
    /// keccak-256 of `signature` (32 bytes). Not emitted in the log when `anonymous`.
    public let topic0: [UInt8]
    /// The keys used in the decoded `args` object, one per input: the input's name, or `arg<i>`
    /// (its position) when the name is empty.
    public let argumentNames: [String]

    /// The number of topics a log of this event carries.
    public var topicCount: Int { (anonymous ? 0 : 1) + indexedCount }
    public var indexedCount: Int { inputs.reduce(0) { $0 + ($1.indexed ? 1 : 0) } }

    /// Validates the event: a non-empty name, valid types, at most 3 indexed inputs (4 when
    /// anonymous), no two inputs with the same name.
    public init(name: String, inputs: [Parameter], anonymous: Bool = false) throws(ABIError) {
        try self.init(name: name, inputs: inputs, anonymous: anonymous, entry: nil)
    }

    init(name: String, inputs: [Parameter], anonymous: Bool, entry: Int?) throws(ABIError) {
        guard !name.isEmpty else { throw ABIError(entry: entry, "event has no name") }
        var names: [String] = []
        var seen = Set<String>()
        for (index, input) in inputs.enumerated() {
            do {
                try input.type.validate()
            } catch {
                throw ABIError(entry: entry, "event '\(name)' input \(index): \(error.message)")
            }
            let key = input.name.isEmpty ? "arg\(index)" : input.name
            guard seen.insert(key).inserted else {
                throw ABIError(entry: entry, "event '\(name)' has two inputs named '\(key)'")
            }
            names.append(key)
        }
        let indexed = inputs.reduce(0) { $0 + ($1.indexed ? 1 : 0) }
        let limit = anonymous ? 4 : 3
        guard indexed <= limit else {
            throw ABIError(entry: entry, "event '\(name)' has \(indexed) indexed inputs; at most \(limit) fit in a log")
        }
        self.name = name
        self.inputs = inputs
        self.anonymous = anonymous
        self.argumentNames = names
        self.signature = name + "(" + inputs.map(\.type.canonical).joined(separator: ",") + ")"
        self.topic0 = Keccak256.hash(signature)
    }

    // MARK: JSON ABI

    /// The events of a Solidity JSON ABI: an array of entries (or an object with an `abi` array,
    /// as in Hardhat and Truffle artifacts). Entries whose `type` is not `event` are skipped.
    public static func parse(json: String) throws(ABIError) -> [EventABI] {
        try parse(json: Array(json.utf8))
    }

    public static func parse(json: [UInt8]) throws(ABIError) -> [EventABI] {
        let root: Any
        do {
            root = try JSONSerialization.jsonObject(with: Data(json), options: [])
        } catch {
            throw ABIError(entry: nil, "bad JSON: \(error.localizedDescription)")
        }
        let entries: [Any]
        if let array = root as? [Any] {
            entries = array
        } else if let object = root as? [String: Any], let array = object["abi"] as? [Any] {
            entries = array
        } else {
            throw ABIError(entry: nil, "bad JSON: the ABI must be an array of entries")
        }
        var events: [EventABI] = []
        for (index, entry) in entries.enumerated() {
            guard let object = entry as? [String: Any] else {
                throw ABIError(entry: index, "entry is not an object")
            }
            guard let kind = object["type"] else {
                // Old ABIs omit `type` for functions.
                continue
            }
            guard let kindText = kind as? String else { throw ABIError(entry: index, "'type' is not a string") }
            guard kindText == "event" else { continue }
            events.append(try parseEvent(object, entry: index))
        }
        return events
    }

    private static func parseEvent(_ object: [String: Any], entry: Int) throws(ABIError) -> EventABI {
        guard let rawName = object["name"] else { throw ABIError(entry: entry, "event has no name") }
        guard let name = rawName as? String else { throw ABIError(entry: entry, "event 'name' is not a string") }
        guard !name.isEmpty else { throw ABIError(entry: entry, "event has no name") }
        let anonymous = try flag(object["anonymous"], field: "anonymous", entry: entry, event: name)
        let rawInputs = object["inputs"] ?? [Any]()
        guard let inputList = rawInputs as? [Any] else {
            throw ABIError(entry: entry, "event '\(name)': 'inputs' is not an array")
        }
        var inputs: [Parameter] = []
        for (index, rawInput) in inputList.enumerated() {
            let context = "event '\(name)' input \(index)"
            guard let input = rawInput as? [String: Any] else {
                throw ABIError(entry: entry, "\(context) is not an object")
            }
            let component = try parseComponent(input, context: context, entry: entry, depth: 0)
            let indexed = try flag(input["indexed"], field: "indexed", entry: entry, event: name)
            inputs.append(Parameter(name: component.name, type: component.type, indexed: indexed))
        }
        return try EventABI(name: name, inputs: inputs, anonymous: anonymous, entry: entry)
    }

    private static func parseComponent(_ object: [String: Any], context: String, entry: Int, depth: Int) throws(ABIError) -> ABIComponent {
        guard depth <= ABIType.maximumDepth else {
            throw ABIError(entry: entry, "\(context): type nests more than \(ABIType.maximumDepth) levels")
        }
        let name: String
        switch object["name"] {
        case nil, is NSNull: name = ""
        case let text as String: name = text
        default: throw ABIError(entry: entry, "\(context): 'name' is not a string")
        }
        let label = name.isEmpty ? context : "\(context) ('\(name)')"
        guard let typeText = object["type"] as? String else {
            throw ABIError(entry: entry, "\(label): missing 'type'")
        }
        var components: [ABIComponent]?
        if typeText.hasPrefix("tuple") {
            guard let rawComponents = object["components"] as? [Any] else {
                throw ABIError(entry: entry, "\(label): tuple without 'components'")
            }
            var parsed: [ABIComponent] = []
            for (index, rawComponent) in rawComponents.enumerated() {
                let inner = "\(label) component \(index)"
                guard let componentObject = rawComponent as? [String: Any] else {
                    throw ABIError(entry: entry, "\(inner) is not an object")
                }
                parsed.append(try parseComponent(componentObject, context: inner, entry: entry, depth: depth + 1))
            }
            components = parsed
        }
        do {
            return ABIComponent(name: name, type: try ABIType.parse(typeText, components: components))
        } catch {
            throw ABIError(entry: entry, "\(label): \(error.message)")
        }
    }

    private static func flag(_ value: Any?, field: String, entry: Int, event: String) throws(ABIError) -> Bool {
        switch value {
        case nil, is NSNull: return false
        case let flag as Bool:
            return flag
        case let number as NSNumber:
            // Depending on the platform, JSON booleans come as NSNumber; accept 0 and 1 too.
            if number.doubleValue == 0 { return false }
            if number.doubleValue == 1 { return true }
            throw ABIError(entry: entry, "event '\(event)': '\(field)' is not a boolean")
        default:
            throw ABIError(entry: entry, "event '\(event)': '\(field)' is not a boolean")
        }
    }
}

/// Why an ABI could not be used. `entry` is the index of the offending entry in the ABI array
/// (nil when the problem is the document as a whole).
public struct ABIError: Error, Sendable, Hashable, CustomStringConvertible {
    public var entry: Int?
    public var message: String

    public init(entry: Int?, _ message: String) {
        self.entry = entry
        self.message = message
    }

    public var description: String {
        entry.map { "ABI entry \($0): \(message)" } ?? "ABI: \(message)"
    }
}
