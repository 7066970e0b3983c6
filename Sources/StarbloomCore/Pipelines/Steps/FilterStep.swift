/// Passes the events for which the expression is true. Reverts pass or not exactly as the events they
/// revert did (same payload), so a filtered-out event is never retracted downstream.
final class FilterStep: PipelinePredicateStep {
    private let expression: Expression
    private let index: PayloadIndex

    init(_ expression: Expression, index: PayloadIndex = PayloadIndex()) {
        self.expression = expression
        self.index = index
    }

    func keeps(_ event: PipelineEvent) throws(StepFailure) -> Bool {
        try index.load(event)
        return try index.matches(expression, of: event)
    }
}
