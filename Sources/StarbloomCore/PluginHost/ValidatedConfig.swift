import CStarbloomABI
#if canImport(Glibc)
import Glibc
#endif

/// An instance's settings after validation, in both forms: Swift values for display, and the
/// `sb_config` the plugin reads. Owns every C buffer the `sb_config` points into; the instance keeps
/// it alive from create until destroy returns, as the header promises.
///
/// `@unchecked Sendable`: immutable after init; the C memory is written only in init and freed in deinit.
public final class ValidatedConfig: @unchecked Sendable {
    public let instanceName: String
    /// Every declared field in declaration order, with its value (nil when neither given nor defaulted).
    public let values: [(field: ConfigField, value: SettingValue?)]

    private let cValues: UnsafeMutableBufferPointer<sb_config_value>
    private var allocations: [UnsafeMutableRawPointer] = []
    let config: UnsafeMutablePointer<sb_config>

    init(instanceName: String, values: [(field: ConfigField, value: SettingValue?)]) {
        self.instanceName = instanceName
        self.values = values
        cValues = .allocate(capacity: max(values.count, 1))
        config = .allocate(capacity: 1)
        for (index, entry) in values.enumerated() {
            var cValue = sb_config_value()
            cValue.type = entry.field.type.cValue
            if let value = entry.value {
                cValue.is_set = 1
                switch value {
                case .string(let text): cValue.as.string = copy(text)
                case .int(let number): cValue.as.integer = number
                case .float(let number): cValue.as.number = number
                case .bool(let flag): cValue.as.boolean = flag ? 1 : 0
                case .list(let items):
                    let array = UnsafeMutablePointer<sb_str>.allocate(capacity: max(items.count, 1))
                    allocations.append(UnsafeMutableRawPointer(array))
                    for (i, item) in items.enumerated() {
                        array[i] = copy(item.description)
                    }
                    cValue.as.list.items = UnsafePointer(array)
                    cValue.as.list.count = items.count
                }
            }
            cValues[index] = cValue
        }
        config.pointee = sb_config(count: values.count, values: UnsafePointer(cValues.baseAddress), instance_name: copy(instanceName))
    }

    deinit {
        for allocation in allocations { free(allocation) }
        cValues.deallocate()
        config.deallocate()
    }

    /// The resolved value of a field, if set.
    public subscript(name: String) -> SettingValue? {
        values.first { $0.field.name == name }?.value
    }

    private func copy(_ text: String) -> sb_str {
        var utf8 = Array(text.utf8)
        utf8.append(0) // NUL-terminate too, as a courtesy to C code that uses the pointer directly
        let buffer = malloc(utf8.count)!
        allocations.append(buffer)
        utf8.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: utf8.count) }
        return sb_str(ptr: UnsafePointer(buffer.assumingMemoryBound(to: CChar.self)), len: utf8.count - 1)
    }
}
