import StarbloomJSON

extension JSONWriter {
    /// A uint256 as a JSON string of decimal digits ("1500000000000000000000"): token amounts exceed
    /// what a JSON number keeps exactly in most readers (2^53).
    mutating func uint256String(_ value: UInt256) {
        unescapedString { value.appendDecimal(to: &$0) }
    }
}
