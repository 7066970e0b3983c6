import StarbloomJSON

/// A compiled expression of the pipeline language: filters (`where`), computed fields of `map`,
/// dedupe keys, group-by values.
///
/// Grammar, loosest binding first:
///
///     expr           := or
///     or             := and (("or" | "||") and)*
///     and            := not (("and" | "&&") not)*
///     not            := ("not" | "!") not | comparison
///     comparison     := additive ( ("=="|"!="|"<"|"<="|">"|">=") additive
///                                | "in" "[" literal ("," literal)* "]"
///                                | "not" "in" "[" literal ("," literal)* "]" )?
///     additive       := multiplicative (("+" | "-") multiplicative)*
///     multiplicative := unary (("*" | "/" | "%") unary)*
///     unary          := "-" unary | primary
///     primary        := NUMBER | STRING | true | false | null | path | NAME "(" args ")" | "(" expr ")"
///     path           := IDENT ("." IDENT | "[" INTEGER "]")*
///
/// IDENT is `[A-Za-z_][A-Za-z0-9_]*` or any text in backticks (`` `user-id` ``, no escapes), which
/// is also how a field named like a keyword (`and or not in true false null`) is written. STRING
/// is '…' or "…" with the escapes \\ \' \" \n \t \r. Integers are exact up to 2^256-1 (a larger
/// literal is an error); a number with a fraction or exponent is a decimal (Double). Comparisons
/// do not chain. Functions: `exists(path)`, `header("name")`, `lower(x)`, `upper(x)`,
/// `concat(x, …)`, `length(x)`, `coalesce(x, …)`. Limits: 4096 characters, nesting depth 64
/// (parentheses, calls, unary minus and `not` each count).
///
/// Semantics:
/// - Comparisons. Integers compare exactly. A string of decimal digits only, or "0x"/"0X" and hex
///   digits, compared with a number is compared as that integer (amounts often arrive as JSON
///   strings). Two strings that both start with "0x"/"0X" compare ignoring ASCII case (addresses,
///   hashes); other strings compare by UTF-8 bytes (so "100" < "99" — only a number on one side
///   makes a digit string numeric). Decimals, and an integer against a decimal, compare as Double.
///   Booleans compare only with booleans and only with == and !=; null == null. Objects and arrays
///   are == only when their JSON text is identical. A `missing` field, or operands of different
///   types: ==, <, <=, >, >= are false and != is true (a missing field differs from everything,
///   even another missing field). `x in [a, b]` is `x == a or x == b`; `not in` is its negation.
/// - `and`, `or` short-circuit from the left; they and `not` need booleans: anything else is an
///   evaluation error.
/// - Arithmetic (`+ - * / %`, unary `-`): two integers give an exact integer (sign and 256-bit
///   magnitude; a magnitude past 2^256-1 is an error; `/` truncates toward zero; `%` takes the sign
///   of the dividend; dividing by zero is an error). A decimal operand makes it Double arithmetic
///   (dividing by zero and non-finite results are errors). Digit strings count as integers here
///   too, except that `+` on two strings concatenates them ("12" + "34" is "1234"). A `missing`
///   operand makes the result missing, and otherwise a `null` one makes it null (so a map's computed
///   field is simply absent); any other non-number is an evaluation error naming the operand.
/// - `exists(path)` is true when the field is present, even as null. `header("name")` is the last
///   header with that exact name, as a string, or missing. `lower`/`upper` map ASCII letters of a
///   string. `length` counts the characters of a string, the elements of an array or the members of
///   an object. `concat` joins strings, numbers, booleans and JSON text; any missing argument makes
///   it missing, otherwise any null makes it null. `coalesce` returns the first argument that is
///   neither missing nor null (the last argument when there is none), evaluating no further.
///   These functions pass missing and null through; other wrong types are evaluation errors.
///
/// Evaluating on a `JSONRecordInput` reads fields where they lie in the payload: no String is made
/// to look up a field, and a JSON string is compared with a string literal byte for byte (decoded
/// only when it contains escapes). `evaluate` builds a String only when the result is a string.
public struct Expression: Sendable, CustomStringConvertible {
    let program: ExpressionProgram
    /// The single path when the whole expression is one field path.
    private let singlePath: [PathComponent]?

    /// The expression as written.
    public var text: String { program.text }

    /// Every field path the expression reads, once each, in order of appearance (including the
    /// argument of `exists`), for checking configurations and pre-indexing fields.
    public var fieldPaths: [[PathComponent]] { program.fieldPaths }

    public static func parse(_ text: String) throws(ExpressionError) -> Expression {
        guard text.utf8.count <= ExpressionParser.maximumLength || text.count <= ExpressionParser.maximumLength else {
            throw ExpressionError(position: ExpressionParser.maximumLength + 1,
                                  message: "the expression is longer than \(ExpressionParser.maximumLength) characters")
        }
        let source = ExpressionSource(text)
        var parser = try ExpressionParser(source)
        let tree = try parser.parse()
        var singlePath: [PathComponent]?
        if case .path(let path) = tree.kind { singlePath = path }
        return Expression(program: ExpressionProgram(text: text, fieldPaths: parser.fieldPaths, tree: tree), singlePath: singlePath)
    }

    /// When the whole expression is one field path (`transfer.to`), that path; callers can then copy
    /// the field's raw JSON instead of evaluating.
    public var path: [PathComponent]? { singlePath }

    public var description: String { text }

    /// The value of the expression for `input`.
    public func evaluate(_ input: some ExpressionInput) throws(ExpressionEvaluationError) -> ExpressionValue {
        let evaluator = ExpressionEvaluator(program: program, input: input)
        return evaluator.value(of: try evaluator.evaluate(program.root))
    }

    /// Whether `input` passes the expression as a filter: true only when the result is the boolean
    /// true. A result that is not a boolean (a missing field, a number, …) is an evaluation error.
    public func matches(_ input: some ExpressionInput) throws(ExpressionEvaluationError) -> Bool {
        let evaluator = ExpressionEvaluator(program: program, input: input)
        let result = try evaluator.evaluate(program.root)
        guard case .bool(let passes) = result else {
            throw evaluator.failure("the result is \(evaluator.describe(result)), not a boolean (a filter must be true or false)")
        }
        return passes
    }

    /// `evaluate` on a record's payload held in an array, with its top-level index (from
    /// `JSONScanner.indexObject`). Saves callers the `withUnsafeBytes`, which is `rethrows` and so
    /// loses the error type.
    public func evaluate(payload: [UInt8], fields: [JSONField], headers: [QueueRecord.Header] = []) throws(ExpressionEvaluationError) -> ExpressionValue {
        let result = payload.withUnsafeBytes { bytes in
            Result { () throws(ExpressionEvaluationError) in try evaluate(JSONRecordInput(payload: bytes, fields: fields, headers: headers)) }
        }
        return try result.get()
    }

    /// `matches` on a record's payload held in an array, with its top-level index.
    public func matches(payload: [UInt8], fields: [JSONField], headers: [QueueRecord.Header] = []) throws(ExpressionEvaluationError) -> Bool {
        let result = payload.withUnsafeBytes { bytes in
            Result { () throws(ExpressionEvaluationError) in try matches(JSONRecordInput(payload: bytes, fields: fields, headers: headers)) }
        }
        return try result.get()
    }
}
