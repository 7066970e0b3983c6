/// Checks an instance's settings against the fields its plugin declares, before the plugin sees them.
public enum ConfigValidator {
    public static func validate(
        settings: [String: SettingValue], fields: [ConfigField], instance: String, plugin: String
    ) throws(ConfigError) -> ValidatedConfig {
        for key in settings.keys.sorted() where !fields.contains(where: { $0.name == key }) {
            let accepted = fields.map(\.name).joined(separator: ", ")
            throw ConfigError(
                instance: instance, field: key,
                problem: "is unknown to plugin '\(plugin)' (it accepts: \(accepted.isEmpty ? "no settings" : accepted))")
        }
        var resolved: [(field: ConfigField, value: SettingValue?)] = []
        for field in fields {
            guard let given = settings[field.name] else {
                if field.required {
                    throw ConfigError(instance: instance, field: field.name, problem: "is required (\(field.type.article)\(field.doc.isEmpty ? "" : ": \(field.doc)"))")
                }
                resolved.append((field, field.defaultValue))
                continue
            }
            resolved.append((field, try coerce(given, to: field, instance: instance)))
        }
        return ValidatedConfig(instanceName: instance, values: resolved)
    }

    /// Accepts the value when it is of the field's type; an integer is accepted where a number is
    /// expected, and a single string where a list of strings is expected. Nothing else is converted:
    /// "10" for an integer field is an error, so typos show up before start.
    static func coerce(_ value: SettingValue, to field: ConfigField, instance: String) throws(ConfigError) -> SettingValue {
        func mismatch() -> ConfigError {
            ConfigError(instance: instance, field: field.name,
                        problem: "must be \(field.type.article), got \(value.typeName) '\(value)'")
        }
        switch (field.type, value) {
        case (.string, .string), (.int, .int), (.bool, .bool):
            return value
        case (.float, .float(let number)):
            guard number.isFinite else {
                throw ConfigError(instance: instance, field: field.name, problem: "must be a finite number, got \(number)")
            }
            return value
        case (.float, .int(let number)):
            return .float(Double(number))
        case (.stringList, .string(let text)):
            return .list([.string(text)])
        case (.stringList, .list(let items)):
            for item in items {
                guard case .string = item else {
                    throw ConfigError(instance: instance, field: field.name,
                                      problem: "must be a list of strings, but contains \(item.typeName) '\(item)'")
                }
            }
            return value
        default:
            throw mismatch()
        }
    }
}
