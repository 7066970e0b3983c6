/// Passes the events for which the expression is true. Reverts pass or not exactly as the events they
/// revert did (same payload), so a filtered-out event is never retracted downstream.
final class FilterStep: PipelineStep {
    private let expression: Expression
    private let index: PayloadIndex

    init(_ expression: Expression, index: PayloadIndex = PayloadIndex()) {
        self.expression = expression
        self.index = index
    }

    func process(_ event: PipelineEvent, into output: inout StepOutput) throws(StepFailure) {
        try index.load(event)
        if try index.matches(expression, of: event) { output.events.append(event) }
    }
}
