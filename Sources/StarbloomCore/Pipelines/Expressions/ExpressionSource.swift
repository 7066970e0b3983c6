/// An expression's text as Unicode scalars, with the character column of each, so tokens work in
/// scalars while messages count characters as a reader does.
struct ExpressionSource {
    let text: String
    let scalars: [Unicode.Scalar]
    /// 1-based character column of each scalar offset, plus one entry for the end.
    private let columns: [Int]

    init(_ text: String) {
        self.text = text
        var scalars: [Unicode.Scalar] = []
        var columns: [Int] = []
        var column = 1
        for character in text {
            for scalar in character.unicodeScalars {
                scalars.append(scalar)
                columns.append(column)
            }
            column += 1
        }
        columns.append(column)
        self.scalars = scalars
        self.columns = columns
    }

    func column(_ offset: Int) -> Int { columns[min(max(offset, 0), columns.count - 1)] }

    func snippet(_ start: Int, _ end: Int) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars[max(start, 0)..<min(end, scalars.count)])
        return String(view)
    }
}
