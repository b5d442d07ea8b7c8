import Foundation
import Testing
@testable import ChingPDF

/// DejaVu Sans from the app's resources, or from the system when run outside the repository.
private func fontBytes() throws -> [UInt8] {
    let repositoryFont = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()
        .appendingPathComponent("../../Sources/ChingApp/Fonts/DejaVuSans.ttf")
        .standardizedFileURL.path
    let systemFont = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
    let path = FileManager.default.fileExists(atPath: repositoryFont) ? repositoryFont : systemFont
    return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

private func loadFont() throws -> TrueTypeFont {
    try TrueTypeFont(data: fontBytes())
}

private func invoice(customerName: String, livemode: Bool = true) -> TaxDocumentContent {
    TaxDocumentContent(
        title: "חשבונית מס / קבלה  Tax invoice / receipt",
        number: "1001",
        date: "2026-04-19",
        issuerName: "חנות הדוגמה בע״מ",
        issuerVATNumber: "514000001",
        issuerAddress: "רחוב הרצל 1, תל אביב",
        customerName: customerName,
        customerEmail: "tal@example.com",
        lines: [
            TaxDocumentContent.Line(description: "Pro plan (monthly) / מנוי חודשי", quantity: "1", unitAmount: "₪83.90", total: "₪83.90"),
        ],
        net: "₪83.90",
        vat: "₪15.10",
        vatLabel: "VAT 18% / מע״מ 18%",
        total: "₪99.00",
        payment: "Visa •••• 4242, 1 installment",
        reference: nil,
        livemode: livemode
    )
}

private func text(_ bytes: [UInt8]) -> String {
    String(decoding: bytes, as: Unicode.ASCII.self)
}

private let pdftotextPath = ["/usr/bin/pdftotext", "/usr/local/bin/pdftotext", "/opt/homebrew/bin/pdftotext"]
    .first { FileManager.default.isExecutableFile(atPath: $0) }

/// Runs `pdftotext` on the PDF and returns what it extracts.
private func extractText(_ pdf: [UInt8], layout: Bool = false) throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chingpdf-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let input = directory.appendingPathComponent("document.pdf")
    let output = directory.appendingPathComponent("document.txt")
    try Data(pdf).write(to: input)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: pdftotextPath ?? "pdftotext")
    process.arguments = (layout ? ["-layout"] : []) + ["-enc", "UTF-8", input.path, output.path]
    try process.run()
    process.waitUntilExit()
    return try String(contentsOf: output, encoding: .utf8)
}

@Suite("Tax document PDF")
struct TaxDocumentPDFTests {
    @Test("the font parses and maps Hebrew, Latin and the shekel sign to real glyphs")
    func fontMapsCharacters() throws {
        let font = try loadFont()
        #expect(font.glyphID(for: "א") != 0)
        #expect(font.glyphID(for: "A") != 0)
        #expect(font.glyphID(for: "₪") != 0)
        #expect(font.unitsPerEm == 2048)
    }

    @Test("input that is not a font throws instead of crashing")
    func nonFontThrows() throws {
        #expect(throws: TrueTypeFontError.self) { try TrueTypeFont(data: Array("%PDF-1.4 not a font".utf8)) }
        #expect(throws: TrueTypeFontError.self) { try TrueTypeFont(data: []) }
    }

    @Test("a truncated font throws instead of crashing")
    func truncatedFontThrows() throws {
        let data = try fontBytes()
        for length in [12, 100, 1000, data.count / 2] {
            #expect(throws: TrueTypeFontError.self) { try TrueTypeFont(data: Array(data.prefix(length))) }
        }
    }

    @Test("a document renders bytes that start with %PDF- and end with %%EOF")
    func documentHasPDFFraming() throws {
        let pdf = TaxDocumentPDF.render(invoice(customerName: "Tal Levi"), font: try loadFont())
        let body = text(pdf)
        #expect(body.hasPrefix("%PDF-1.4"))
        #expect(body.hasSuffix("%%EOF\n"))
    }

    @Test("the xref offsets point at each object's header")
    func xrefOffsetsPointAtObjects() throws {
        let pdf = TaxDocumentPDF.render(invoice(customerName: "טל לוי"), font: try loadFont())
        let body = text(pdf)
        let startxref = try #require(body.range(of: "startxref\n", options: .backwards))
        let xrefOffset = try #require(Int(body[startxref.upperBound...].prefix { $0.isNumber }))
        let xrefSection = String(decoding: pdf[xrefOffset...], as: Unicode.ASCII.self)
        #expect(xrefSection.hasPrefix("xref\n0 "))

        let entries = xrefSection.split(separator: "\n").dropFirst(3).prefix { $0.hasSuffix(" n ") }
        #expect(entries.count == 10)
        for (index, entry) in entries.enumerated() {
            let offset = try #require(Int(entry.prefix(10)))
            let header = Array("\(index + 1) 0 obj".utf8)
            #expect(Array(pdf[offset ..< offset + header.count]) == header)
        }
    }

    @Test("rendering the same document twice gives the same bytes")
    func renderingIsDeterministic() throws {
        let font = try loadFont()
        let content = invoice(customerName: "טל לוי", livemode: false)
        #expect(TaxDocumentPDF.render(content, font: font) == TaxDocumentPDF.render(content, font: font))
    }

    @Test("the embedded font is a subset, not the whole font file")
    func fontIsSubset() throws {
        let pdf = TaxDocumentPDF.render(invoice(customerName: "Tal Levi"), font: try loadFont())
        #expect(pdf.count < 150_000)
        #expect(text(pdf).contains("/FontFile2"))
    }

    @Test("long descriptions are wrapped and cut with an ellipsis instead of running off the page")
    func longDescriptionsAreWrapped() throws {
        let font = try loadFont()
        let canvas = PageCanvas(font: font)
        let description = String(repeating: "Enterprise subscription with priority support ", count: 12)
        let lines = canvas.wrapped(description, toWidth: 240, size: 9.5, maxLines: 3)
        #expect(lines.count == 3)
        #expect(lines.allSatisfy { canvas.width(of: $0, size: 9.5) <= 240 })
        #expect(lines.last?.hasSuffix("…") == true)
    }

    @Test("Hebrew is laid out right to left while numbers and Latin keep their order")
    func bidiReordersHebrew() {
        #expect(String(String.UnicodeScalarView(Bidi.visualOrder("טל לוי"))) == "יול לט")
        #expect(String(String.UnicodeScalarView(Bidi.visualOrder("Tal Levi"))) == "Tal Levi")
        #expect(String(String.UnicodeScalarView(Bidi.visualOrder("סה״כ ₪99.00"))) == "₪99.00 כ״הס")
    }

    @Test(
        "pdftotext finds the number, the total and the customer name",
        .enabled(if: pdftotextPath != nil, "pdftotext is not installed"),
        arguments: ["טל לוי", "Tal Levi"]
    )
    func extractedTextContainsKeyFields(customerName: String) throws {
        let pdf = TaxDocumentPDF.render(invoice(customerName: customerName, livemode: false), font: try loadFont())
        for layout in [false, true] {
            let extracted = try extractText(pdf, layout: layout)
            #expect(extracted.contains("1001"))
            #expect(extracted.contains("₪99.00"))
            #expect(extracted.contains(customerName))
        }
    }

    @Test(
        "pdftotext finds both halves of a mixed Hebrew and English name",
        .enabled(if: pdftotextPath != nil, "pdftotext is not installed")
    )
    func extractedTextContainsMixedName() throws {
        // poppler lists the runs of a right-to-left line in visual order ("Levi טל"),
        // so only the parts can be found verbatim.
        let pdf = TaxDocumentPDF.render(invoice(customerName: "טל Levi"), font: try loadFont())
        let extracted = try extractText(pdf)
        #expect(extracted.contains("טל"))
        #expect(extracted.contains("Levi"))
    }

    @Test("the embedded subset is a valid font that keeps the original glyph ids")
    func subsetKeepsGlyphIDs() throws {
        let font = try loadFont()
        let characters: [UInt16: Unicode.Scalar] = Dictionary(
            "אבג ABC ₪99.00".unicodeScalars.map { (font.glyphID(for: $0), $0) }, uniquingKeysWith: { first, _ in first })
        let subsetBytes = FontSubset(font: font, characters: characters).fontFile()
        let subset = try TrueTypeFont(data: subsetBytes)
        for (glyph, scalar) in characters {
            #expect(subset.glyphID(for: scalar) == glyph)
            #expect(subset.advanceWidth(ofGlyph: glyph) == font.advanceWidth(ofGlyph: glyph))
        }
        // The whole-file checksum of a finished TrueType font is this magic number.
        #expect(FontSubset.checksum(subsetBytes) == 0xB1B0_AFBA)
        #expect(subsetBytes.count < 60_000)
    }

    @Test("a corrupted font either throws or still renders, and never crashes")
    func corruptedFontNeverCrashes() throws {
        let original = try fontBytes()
        var seed: UInt64 = 42
        func nextRandom() -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407  // deterministic LCG
            return Int(truncatingIfNeeded: seed >> 33)
        }
        for _ in 0 ..< 40 {
            var corrupted = original
            // Damage the table directory and the first tables, where the structure lives.
            for _ in 0 ..< 8 {
                corrupted[nextRandom() % 4096] = UInt8(truncatingIfNeeded: nextRandom())
            }
            if let font = try? TrueTypeFont(data: corrupted) {
                #expect(TaxDocumentPDF.render(invoice(customerName: "טל לוי"), font: font).count > 0)
            }
        }
    }
}
