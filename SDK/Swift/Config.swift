import CStarbloomABI

/// An instance's validated settings, looked up by the names the plugin declared.
/// Values were checked by the host against the declared types before the plugin sees them.
public struct Config {
    let raw: UnsafePointer<sb_config>
    let declarations: [SettingDeclaration]

    public var instanceName: String { StarbloomPluginSDK.string(raw.pointee.instance_name) }

    private func value(_ name: String) -> sb_config_value? {
        guard let index = declarations.firstIndex(where: { $0.name == name }), index < raw.pointee.count,
              let values = raw.pointee.values, values[index].is_set != 0 else { return nil }
        return values[index]
    }

    public func string(_ name: String) -> String? {
        value(name).flatMap { $0.type == SB_TYPE_STRING ? StarbloomPluginSDK.string($0.as.string) : nil }
    }
    public func int(_ name: String) -> Int64? {
        value(name).flatMap { $0.type == SB_TYPE_INT ? $0.as.integer : nil }
    }
    public func double(_ name: String) -> Double? {
        value(name).flatMap { $0.type == SB_TYPE_FLOAT ? $0.as.number : nil }
    }
    public func bool(_ name: String) -> Bool? {
        value(name).flatMap { $0.type == SB_TYPE_BOOL ? $0.as.boolean != 0 : nil }
    }
    public func strings(_ name: String) -> [String]? {
        value(name).flatMap { value in
            guard value.type == SB_TYPE_STRING_LIST else { return nil }
            return (0..<value.as.list.count).map { StarbloomPluginSDK.string(value.as.list.items[$0]) }
        }
    }
}
