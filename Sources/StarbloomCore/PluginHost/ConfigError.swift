/// A setting that does not fit the plugin's declared fields. Names the instance and the field.
public struct ConfigError: Error, Sendable, CustomStringConvertible, Equatable {
    public let instance: String
    public let field: String?
    public let problem: String

    public var description: String {
        if let field { return "instance '\(instance)': setting '\(field)' \(problem)" }
        return "instance '\(instance)': \(problem)"
    }
}
