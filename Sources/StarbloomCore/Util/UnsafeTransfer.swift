/// Carries a non-Sendable value (a raw pointer into plugin memory, a C struct) across a thread hop.
/// Safe only where the comment at the use site says who owns the value on each side of the hop.
struct UnsafeTransfer<Value>: @unchecked Sendable {
    var value: Value
    init(_ value: Value) { self.value = value }
}
