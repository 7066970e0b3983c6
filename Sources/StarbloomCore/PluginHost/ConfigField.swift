/// One setting a plugin declares in its descriptor (`sb_config_field`), read into Swift at load time.
public struct ConfigField: Sendable, Codable, Equatable {
    public let name: String
    public let type: ValueType
    public let required: Bool
    /// The default as the plugin wrote it, and parsed with the field's type.
    public let defaultText: String?
    public let defaultValue: SettingValue?
    public let doc: String
}

/// One operator command a plugin declares (`sb_command`).
public struct CommandSpec: Sendable, Codable, Equatable {
    public struct Parameter: Sendable, Codable, Equatable {
        public let name: String
        public let type: ValueType
        public let doc: String
    }
    public let name: String
    public let doc: String
    public let parameters: [Parameter]

    /// "backfill FROM:int TO:int" — how the CLI shows usage.
    public var usage: String {
        ([name] + parameters.map { "\($0.name.uppercased()):\($0.type.rawValue)" }).joined(separator: " ")
    }
}
