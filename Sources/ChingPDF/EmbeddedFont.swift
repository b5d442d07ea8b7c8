/// The PDF objects that embed a subset of a TrueType font as a composite (Type0) font:
/// glyph ids are written as 2-byte codes (`Identity-H`, `CIDToGIDMap /Identity`), and a
/// ToUnicode CMap maps them back to text for search and copy.
struct EmbeddedFont {
    let font: TrueTypeFont
    /// Glyphs drawn on the page and the character each one stands for.
    let characters: [UInt16: Unicode.Scalar]

    /// Writes the Type0 font as `firstObject` and its parts as the next four objects.
    func write(into file: inout PDFFile, firstObject: Int) {
        let cidFont = firstObject + 1
        let descriptor = firstObject + 2
        let fontFile = firstObject + 3
        let toUnicode = firstObject + 4
        let name = subsetTag() + "+" + font.postScriptName

        file.addObject(firstObject, """
            << /Type /Font /Subtype /Type0 /BaseFont /\(name) /Encoding /Identity-H \
            /DescendantFonts [\(cidFont) 0 R] /ToUnicode \(toUnicode) 0 R >>
            """)
        file.addObject(cidFont, """
            << /Type /Font /Subtype /CIDFontType2 /BaseFont /\(name) \
            /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> \
            /FontDescriptor \(descriptor) 0 R /CIDToGIDMap /Identity \
            /DW \(font.advanceWidth(ofGlyph: 0)) /W \(widthsArray()) >>
            """)
        let box = font.boundingBox
        let bbox = [box.xMin, box.yMin, box.xMax, box.yMax].map { String(font.scaled($0)) }.joined(separator: " ")
        // Flags: symbolic (4) because the glyphs go beyond the standard Latin set; fixed pitch is 1.
        let flags = 4 | (font.isFixedPitch ? 1 : 0)
        file.addObject(descriptor, """
            << /Type /FontDescriptor /FontName /\(name) /Flags \(flags) /FontBBox [\(bbox)] \
            /ItalicAngle \(pdfNumber(font.italicAngle)) /Ascent \(font.scaled(font.ascender)) \
            /Descent \(font.scaled(font.descender)) /CapHeight \(font.scaled(font.capHeight)) \
            /StemV 80 /FontFile2 \(fontFile) 0 R >>
            """)
        let subset = FontSubset(font: font, characters: characters).fontFile()
        file.addStream(fontFile, dictionaryEntries: "/Length1 \(subset.count)", data: subset)
        file.addStream(toUnicode, data: Array(toUnicodeCMap().utf8))
    }

    /// `/W` entries grouped into runs of consecutive glyph ids: `first [w1 w2 ...]`.
    private func widthsArray() -> String {
        var groups: [String] = []
        var runStart: UInt16?
        var runWidths: [String] = []
        var previous: UInt16?
        for glyph in characters.keys.sorted() where glyph != 0 {
            if let last = previous, glyph == last + 1 {
                runWidths.append(String(font.advanceWidth(ofGlyph: glyph)))
            } else {
                if let start = runStart { groups.append("\(start) [\(runWidths.joined(separator: " "))]") }
                runStart = glyph
                runWidths = [String(font.advanceWidth(ofGlyph: glyph))]
            }
            previous = glyph
        }
        if let start = runStart { groups.append("\(start) [\(runWidths.joined(separator: " "))]") }
        return "[" + groups.joined(separator: " ") + "]"
    }

    private func toUnicodeCMap() -> String {
        let entries = characters.filter { $0.key != 0 }.sorted { $0.key < $1.key }.map { glyph, scalar in
            "<\(hex(glyph))> <\(String(scalar).utf16.map { hex($0) }.joined())>"
        }
        // A bfchar block may hold at most 100 entries.
        var blocks: [String] = []
        var start = 0
        while start < entries.count {
            let block = entries[start ..< min(start + 100, entries.count)]
            blocks.append("\(block.count) beginbfchar\n\(block.joined(separator: "\n"))\nendbfchar")
            start += 100
        }
        return """
            /CIDInit /ProcSet findresource begin
            12 dict begin
            begincmap
            /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def
            /CMapName /Adobe-Identity-UCS def
            /CMapType 2 def
            1 begincodespacerange
            <0000> <FFFF>
            endcodespacerange
            \(blocks.joined(separator: "\n"))
            endcmap
            CMapName currentdict /CMap defineresource pop
            end
            end
            """
    }

    /// Six uppercase letters derived from the glyph set, as PDF requires for subset font names.
    /// Derived rather than random so that rendering stays deterministic.
    private func subsetTag() -> String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325  // FNV-1a
        for glyph in characters.keys.sorted() {
            hash = (hash ^ UInt64(glyph)) &* 0x0000_0100_0000_01B3
        }
        var tag = ""
        for _ in 0 ..< 6 {
            tag.unicodeScalars.append(Unicode.Scalar(UInt8(65 + hash % 26)))
            hash /= 26
        }
        return tag
    }
}
