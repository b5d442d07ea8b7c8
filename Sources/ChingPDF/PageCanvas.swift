/// An RGB colour with components from 0 to 1.
struct PDFColor {
    var red: Double
    var green: Double
    var blue: Double

    static let black = PDFColor(red: 0, green: 0, blue: 0)
    static let ink = PDFColor(red: 0.13, green: 0.15, blue: 0.18)
    static let muted = PDFColor(red: 0.42, green: 0.45, blue: 0.5)
    static let rule = PDFColor(red: 0.8, green: 0.82, blue: 0.85)
    static let shade = PDFColor(red: 0.94, green: 0.95, blue: 0.96)
    static let warning = PDFColor(red: 0.75, green: 0.1, blue: 0.1)
    static let warningShade = PDFColor(red: 1, green: 0.92, blue: 0.92)

    var operands: String {
        "\(pdfNumber(red)) \(pdfNumber(green)) \(pdfNumber(blue))"
    }
}

/// Where a line of text sits relative to its x coordinate(s).
enum TextAlignment {
    case left, right, center
}

/// Builds a page content stream in PDF coordinates (origin bottom-left, points) with one
/// embedded font, and records which glyphs were used so the font can be subset.
struct PageCanvas {
    let font: TrueTypeFont
    private(set) var operators: [String] = []
    private(set) var characters: [UInt16: Unicode.Scalar] = [:]

    init(font: TrueTypeFont) {
        self.font = font
    }

    var contentStream: [UInt8] {
        Array(operators.joined(separator: "\n").utf8)
    }

    func width(of text: String, size: Double) -> Double {
        font.width(of: text, fontSize: size)
    }

    /// Draws one line of text. `x` is the left edge, right edge or centre depending on `alignment`.
    /// The text is reordered for display so Hebrew reads right to left; `direction` overrides the
    /// paragraph direction, which otherwise follows the first strong character.
    mutating func text(
        _ text: String, x: Double, y: Double, size: Double,
        alignment: TextAlignment = .left, bold: Bool = false, color: PDFColor = .ink,
        direction: Bidi.Direction? = nil
    ) {
        let printable = String(String.UnicodeScalarView(text.unicodeScalars.map { $0.value < 0x20 ? " " : $0 }))
        guard !printable.isEmpty else { return }
        let visual = Bidi.visualOrder(printable, base: direction)
        var codes = ""
        for scalar in visual {
            let glyph = font.glyphID(for: scalar)
            if characters[glyph] == nil { characters[glyph] = scalar }
            codes += hex(glyph)
        }
        let textWidth = width(of: printable, size: size)
        let left = switch alignment {
        case .left: x
        case .right: x - textWidth
        case .center: x - textWidth / 2
        }
        // Fake bold: fill and stroke the outlines with a thin line.
        // Render mode persists between text objects, so it is set every time.
        let style = bold ? "2 Tr \(pdfNumber(size * 0.035)) w \(color.operands) RG " : "0 Tr "
        operators.append(
            "BT /F1 \(pdfNumber(size)) Tf \(color.operands) rg \(style)1 0 0 1 \(pdfNumber(left)) \(pdfNumber(y)) Tm <\(codes)> Tj ET"
        )
    }

    /// Draws "English / עברית". The Hebrew half is laid out as its own right-to-left phrase so that
    /// its punctuation (the final dot of "ע.מ.") lands where a Hebrew reader expects it.
    /// Returns the width drawn.
    @discardableResult
    mutating func bilingualText(
        english: String, hebrew: String, x: Double, y: Double, size: Double,
        alignment: TextAlignment = .left, bold: Bool = false, color: PDFColor = .ink
    ) -> Double {
        let englishPart = english + " / "
        let englishWidth = width(of: englishPart, size: size)
        let totalWidth = englishWidth + width(of: hebrew, size: size)
        let left = switch alignment {
        case .left: x
        case .right: x - totalWidth
        case .center: x - totalWidth / 2
        }
        text(englishPart, x: left, y: y, size: size, bold: bold, color: color, direction: .leftToRight)
        text(hebrew, x: left + englishWidth, y: y, size: size, bold: bold, color: color, direction: .rightToLeft)
        return totalWidth
    }

    mutating func fillRectangle(x: Double, y: Double, width: Double, height: Double, color: PDFColor) {
        operators.append("\(color.operands) rg \(pdfNumber(x)) \(pdfNumber(y)) \(pdfNumber(width)) \(pdfNumber(height)) re f")
    }

    mutating func strokeRectangle(x: Double, y: Double, width: Double, height: Double, color: PDFColor, lineWidth: Double = 0.75) {
        operators.append(
            "\(color.operands) RG \(pdfNumber(lineWidth)) w \(pdfNumber(x)) \(pdfNumber(y)) \(pdfNumber(width)) \(pdfNumber(height)) re S"
        )
    }

    mutating func horizontalLine(from x1: Double, to x2: Double, y: Double, color: PDFColor, lineWidth: Double = 0.5) {
        operators.append("\(color.operands) RG \(pdfNumber(lineWidth)) w \(pdfNumber(x1)) \(pdfNumber(y)) m \(pdfNumber(x2)) \(pdfNumber(y)) l S")
    }

    /// Shortens `text` with "…" so it fits in `maxWidth`.
    func truncated(_ text: String, toWidth maxWidth: Double, size: Double) -> String {
        guard width(of: text, size: size) > maxWidth else { return text }
        var scalars = Array(text.unicodeScalars)
        while !scalars.isEmpty {
            scalars.removeLast()
            while scalars.last == " " { scalars.removeLast() }
            let candidate = String(String.UnicodeScalarView(scalars)) + "…"
            if width(of: candidate, size: size) <= maxWidth { return candidate }
        }
        return "…"
    }

    /// Breaks `text` into lines no wider than `maxWidth` at spaces (or anywhere inside a word
    /// that is too long), at most `maxLines` of them, the last one truncated if needed.
    func wrapped(_ text: String, toWidth maxWidth: Double, size: Double, maxLines: Int) -> [String] {
        var lines: [String] = []
        var current = ""
        for word in text.split(separator: " ", omittingEmptySubsequences: true).map(String.init) {
            let candidate = current.isEmpty ? word : current + " " + word
            if width(of: candidate, size: size) <= maxWidth {
                current = candidate
                continue
            }
            if !current.isEmpty { lines.append(current) }
            current = word
            // A single word wider than the line is split by characters.
            while width(of: current, size: size) > maxWidth {
                var head = ""
                var rest = Substring(current)
                while let next = rest.first, width(of: head + String(next), size: size) <= maxWidth {
                    head.append(next)
                    rest = rest.dropFirst()
                }
                if head.isEmpty { break }
                lines.append(head)
                current = String(rest)
            }
        }
        if !current.isEmpty { lines.append(current) }
        guard lines.count > maxLines else { return lines.isEmpty ? [""] : lines }
        var kept = Array(lines.prefix(maxLines))
        kept[maxLines - 1] = truncated(kept[maxLines - 1] + " " + lines[maxLines], toWidth: maxWidth, size: size)
        if !kept[maxLines - 1].hasSuffix("…") { kept[maxLines - 1] += "…" }
        return kept
    }
}
