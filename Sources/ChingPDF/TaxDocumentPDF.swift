/// Renders an Israeli tax document (tax invoice / receipt or credit note) as a one-page A4 PDF
/// with an embedded subset of the given TrueType font.
public enum TaxDocumentPDF {
    /// Renders one A4 page. Deterministic: the same input gives the same bytes (no timestamps, no random ids).
    public static func render(_ content: TaxDocumentContent, font: TrueTypeFont) -> [UInt8] {
        var layout = TaxDocumentLayout(content: content, canvas: PageCanvas(font: font))
        layout.draw()
        let canvas = layout.canvas

        var file = PDFFile()
        file.addObject(1, "<< /Type /Catalog /Pages 2 0 R >>")
        file.addObject(2, "<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
        file.addObject(3, """
            << /Type /Page /Parent 2 0 R /MediaBox [0 0 \(pdfNumber(A4.width)) \(pdfNumber(A4.height))] \
            /Resources << /Font << /F1 5 0 R >> /ProcSet [/PDF /Text] >> /Contents 4 0 R >>
            """)
        file.addStream(4, data: canvas.contentStream)
        EmbeddedFont(font: font, characters: canvas.characters).write(into: &file, firstObject: 5)
        let title = pdfTextString("\(content.title) \(content.number)")
        file.addObject(10, "<< /Title \(title) /Producer (Ching Checkout) >>")
        return file.finish(root: 1, info: 10)
    }
}

/// A4 in points.
enum A4 {
    static let width = 595.28
    static let height = 841.89
}

/// Places the parts of a tax document on the page, top to bottom.
/// `top` is the distance from the top edge of the page to the next free line.
private struct TaxDocumentLayout {
    let content: TaxDocumentContent
    var canvas: PageCanvas
    var top = 44.0

    let left = 48.0
    let right = A4.width - 48
    let bodySize = 9.5
    let labelSize = 7.5

    /// Right edges of the numeric columns and the width of the description column.
    var quantityRight: Double { right - 190 }
    var unitRight: Double { right - 95 }
    var totalRight: Double { right - 8 }
    var descriptionWidth: Double { quantityRight - 60 - (left + 8) }

    init(content: TaxDocumentContent, canvas: PageCanvas) {
        self.content = content
        self.canvas = canvas
    }

    /// PDF y coordinate of a baseline `distance` points below the top of the page.
    func y(_ distance: Double) -> Double {
        A4.height - distance
    }

    mutating func draw() {
        if !content.livemode { drawTestModeBanner() }
        drawHeader()
        drawTitle()
        drawCustomer()
        drawLines()
        drawTotalsAndPayment()
        drawFooter()
    }

    mutating func drawTestModeBanner() {
        canvas.fillRectangle(x: left, y: y(top + 24), width: right - left, height: 24, color: .warningShade)
        canvas.strokeRectangle(x: left, y: y(top + 24), width: right - left, height: 24, color: .warning, lineWidth: 1)
        canvas.bilingualText(
            english: "TEST MODE", hebrew: "מצב בדיקה", x: (left + right) / 2, y: y(top + 16), size: 11,
            alignment: .center, bold: true, color: .warning)
        top += 40
    }

    /// Issuer on the left; document number and date on the right.
    mutating func drawHeader() {
        let issuerWidth = (right - left) * 0.58
        var issuerTop = top + 14
        canvas.text(canvas.truncated(content.issuerName, toWidth: issuerWidth, size: 14), x: left, y: y(issuerTop), size: 14, bold: true)
        if let vatNumber = content.issuerVATNumber {
            issuerTop += 15
            // Label and number share a size so text extraction keeps them on one line.
            let labelWidth = canvas.bilingualText(
                english: "VAT No.", hebrew: "ע.מ.", x: left, y: y(issuerTop), size: bodySize, color: .muted)
            canvas.text(vatNumber, x: left + labelWidth + 6, y: y(issuerTop), size: bodySize)
        }
        if let address = content.issuerAddress {
            let direction = Bidi.baseDirection(of: address)
            for line in canvas.wrapped(address, toWidth: issuerWidth, size: bodySize, maxLines: 2) {
                issuerTop += 13
                canvas.text(line, x: left, y: y(issuerTop), size: bodySize, direction: direction)
            }
        }

        let labelX = right - 150
        let valueWidth = right - labelX - 62
        label("No.", "מס׳", x: labelX, top: top + 14)
        canvas.text(canvas.truncated(content.number, toWidth: valueWidth, size: 12), x: right, y: y(top + 14), size: 12, alignment: .right, bold: true)
        label("Date", "תאריך", x: labelX, top: top + 29)
        canvas.text(canvas.truncated(content.date, toWidth: valueWidth, size: bodySize), x: right, y: y(top + 29), size: bodySize, alignment: .right)

        top = max(issuerTop, top + 29) + 14
        canvas.horizontalLine(from: left, to: right, y: y(top), color: .ink, lineWidth: 1)
    }

    mutating func drawTitle() {
        let size = 17.0
        let title = canvas.truncated(content.title, toWidth: right - left, size: size)
        canvas.text(title, x: (left + right) / 2, y: y(top + 27), size: size, alignment: .center, bold: true)
        top += 40
        canvas.horizontalLine(from: left, to: right, y: y(top), color: .rule)
        top += 8
    }

    mutating func drawCustomer() {
        top += 14
        label("Bill to", "לכבוד", x: left, top: top)
        top += 16
        canvas.text(canvas.truncated(content.customerName, toWidth: right - left, size: 12), x: left, y: y(top), size: 12, bold: true)
        if let email = content.customerEmail {
            top += 14
            canvas.text(canvas.truncated(email, toWidth: right - left, size: bodySize), x: left, y: y(top), size: bodySize, color: .muted)
        }
        top += 22
    }

    mutating func drawLines() {
        // Header row on a shaded band.
        canvas.fillRectangle(x: left, y: y(top + 20), width: right - left, height: 20, color: .shade)
        let headerBaseline = top + 13.5
        label("Description", "תיאור", x: left + 8, top: headerBaseline)
        label("Qty", "כמות", x: quantityRight, top: headerBaseline, alignment: .right)
        label("Unit price", "מחיר יחידה", x: unitRight, top: headerBaseline, alignment: .right)
        label("Total", "סה״כ", x: totalRight, top: headerBaseline, alignment: .right)
        top += 20

        // Rows stop early when the totals, payment and footer would no longer fit on the page.
        let lowestRowBottom = A4.height - 180
        let lineHeight = 12.5
        for (index, line) in content.lines.enumerated() {
            let direction = Bidi.baseDirection(of: line.description)
            let descriptionLines = canvas.wrapped(line.description, toWidth: descriptionWidth, size: bodySize, maxLines: 3)
            let rowHeight = Double(descriptionLines.count) * lineHeight + 9
            let remaining = content.lines.count - index
            if top + rowHeight + (remaining > 1 ? 22 : 0) > lowestRowBottom {
                drawOmittedLinesRow(count: remaining)
                break
            }
            var baseline = top + 4 + lineHeight - 2.5
            canvas.text(canvas.truncated(line.quantity, toWidth: 50, size: bodySize), x: quantityRight, y: y(baseline), size: bodySize, alignment: .right)
            canvas.text(canvas.truncated(line.unitAmount, toWidth: 85, size: bodySize), x: unitRight, y: y(baseline), size: bodySize, alignment: .right)
            canvas.text(canvas.truncated(line.total, toWidth: 85, size: bodySize), x: totalRight, y: y(baseline), size: bodySize, alignment: .right)
            // A wrapped Hebrew paragraph reads best with an even right edge.
            let descriptionX = direction == .rightToLeft ? left + 8 + descriptionWidth : left + 8
            let alignment: TextAlignment = direction == .rightToLeft ? .right : .left
            for text in descriptionLines {
                canvas.text(text, x: descriptionX, y: y(baseline), size: bodySize, alignment: alignment, direction: direction)
                baseline += lineHeight
            }
            top += rowHeight
            canvas.horizontalLine(from: left, to: right, y: y(top), color: .rule)
        }
        top += 18
    }

    mutating func drawOmittedLinesRow(count: Int) {
        canvas.bilingualText(
            english: "… \(count) more lines", hebrew: "ועוד \(count) שורות", x: left + 8, y: y(top + 14),
            size: bodySize, color: .muted)
        top += 22
        canvas.horizontalLine(from: left, to: right, y: y(top), color: .rule)
    }

    /// Totals in a box on the right; payment method and reference on the left beside it.
    mutating func drawTotalsAndPayment() {
        let boxLeft = right - 240
        let rowHeight = 19.0
        let boxTop = top
        canvas.bilingualText(english: "Net", hebrew: "לפני מע״מ", x: boxLeft + 10, y: y(boxTop + 13), size: bodySize)
        canvas.text(content.net, x: right - 10, y: y(boxTop + 13), size: bodySize, alignment: .right)
        let vatLabel = canvas.truncated(content.vatLabel, toWidth: 140, size: bodySize)
        canvas.text(vatLabel, x: boxLeft + 10, y: y(boxTop + rowHeight + 13), size: bodySize, direction: .leftToRight)
        canvas.text(content.vat, x: right - 10, y: y(boxTop + rowHeight + 13), size: bodySize, alignment: .right)
        let totalTop = boxTop + 2 * rowHeight
        canvas.fillRectangle(x: boxLeft, y: y(totalTop + 24), width: right - boxLeft, height: 24, color: .shade)
        canvas.horizontalLine(from: boxLeft, to: right, y: y(totalTop), color: .rule)
        canvas.bilingualText(english: "Total", hebrew: "סה״כ לתשלום", x: boxLeft + 10, y: y(totalTop + 16), size: 11, bold: true)
        canvas.text(content.total, x: right - 10, y: y(totalTop + 16), size: 12, alignment: .right, bold: true)
        let boxBottom = totalTop + 24
        canvas.strokeRectangle(x: boxLeft, y: y(boxBottom), width: right - boxLeft, height: boxBottom - boxTop, color: .ink)

        var notesTop = boxTop + 4
        let notesWidth = boxLeft - left - 24
        let notes: [(String, String, String?)] = [
            ("Payment", "אמצעי תשלום", content.payment), ("Reference", "אסמכתא", content.reference),
        ]
        for case let (english, hebrew, value?) in notes {
            notesTop += 9
            label(english, hebrew, x: left, top: notesTop)
            let direction = Bidi.baseDirection(of: value)
            for line in canvas.wrapped(value, toWidth: notesWidth, size: bodySize, maxLines: 2) {
                notesTop += 13
                canvas.text(line, x: left, y: y(notesTop), size: bodySize, direction: direction)
            }
            notesTop += 8
        }
        top = max(boxBottom, notesTop)
    }

    mutating func drawFooter() {
        canvas.horizontalLine(from: left, to: right, y: 52, color: .rule)
        canvas.bilingualText(
            english: "Computer-generated document", hebrew: "מסמך ממוחשב", x: (left + right) / 2, y: 38,
            size: labelSize, alignment: .center, color: .muted)
    }

    /// A small grey "English / עברית" caption.
    mutating func label(_ english: String, _ hebrew: String, x: Double, top: Double, alignment: TextAlignment = .left) {
        canvas.bilingualText(english: english, hebrew: hebrew, x: x, y: y(top), size: labelSize, alignment: alignment, color: .muted)
    }
}
