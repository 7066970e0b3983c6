extension EventABI {
    /// ERC-20 `Transfer(address indexed from, address indexed to, uint256 value)`.
    public static let erc20Transfer = builtin("Transfer", [
        ("from", .address, true), ("to", .address, true), ("value", .uint(bits: 256), false),
    ])

    /// ERC-20 `Approval(address indexed owner, address indexed spender, uint256 value)`.
    public static let erc20Approval = builtin("Approval", [
        ("owner", .address, true), ("spender", .address, true), ("value", .uint(bits: 256), false),
    ])

    /// ERC-721 `Transfer(address indexed from, address indexed to, uint256 indexed tokenId)`: the
    /// same signature and topic0 as the ERC-20 Transfer, told apart by its 4 topics.
    public static let erc721Transfer = builtin("Transfer", [
        ("from", .address, true), ("to", .address, true), ("tokenId", .uint(bits: 256), true),
    ])

    /// The events decoded with no ABI given.
    public static let builtins: [EventABI] = [erc20Transfer, erc20Approval, erc721Transfer]

    private static func builtin(_ name: String, _ inputs: [(String, ABIType, Bool)]) -> EventABI {
        do {
            return try EventABI(name: name, inputs: inputs.map { Parameter(name: $0.0, type: $0.1, indexed: $0.2) })
        } catch {
            preconditionFailure("built-in event \(name) is invalid: \(error)")
        }
    }
}
