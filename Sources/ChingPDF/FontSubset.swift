/// Builds a smaller TrueType font that keeps glyph ids unchanged (so a PDF can use
/// `CIDToGIDMap /Identity`) but empties every glyph outline the document does not use.
/// Glyphs above the highest used id are dropped entirely.
struct FontSubset {
    let font: TrueTypeFont
    /// Glyphs the document draws, mapped to the character each one shows.
    let characters: [UInt16: Unicode.Scalar]

    /// The subset font file.
    func fontFile() -> [UInt8] {
        let kept = keptGlyphs()
        let glyphCount = (kept.max() ?? 0) + 1

        var glyf: [UInt8] = []
        var offsets: [Int] = [0]
        for glyph in 0 ..< glyphCount {
            if kept.contains(glyph) {
                glyf += font.outline(ofGlyph: glyph)
                if glyf.count % 2 == 1 { glyf.append(0) }  // short loca needs even offsets
            }
            offsets.append(glyf.count)
        }
        let usesShortOffsets = glyf.count / 2 <= 0xFFFF
        var loca: [UInt8] = []
        for offset in offsets {
            if usesShortOffsets { loca.appendUInt16(offset / 2) } else { loca.appendUInt32(UInt32(offset)) }
        }

        let metricCount = glyphCount
        var hmtx: [UInt8] = []
        for glyph in 0 ..< metricCount {
            hmtx.appendUInt16(font.advanceWidths[glyph])
            hmtx.appendUInt16(Int(UInt16(bitPattern: font.leftSideBearings[glyph])))
        }

        var tables: [String: [UInt8]] = [
            "glyf": glyf,
            "loca": loca,
            "hmtx": hmtx,
            "cmap": characterMap(),
            "name": nameTable(),
        ]
        if var head = font.rawTables["head"] {
            head.setUInt32(0, at: 8)  // checkSumAdjustment, filled in below
            head.setUInt16(usesShortOffsets ? 0 : 1, at: 50)
            tables["head"] = head
        }
        if var hhea = font.rawTables["hhea"] {
            hhea.setUInt16(metricCount, at: 34)
            tables["hhea"] = hhea
        }
        if var maxp = font.rawTables["maxp"] {
            maxp.setUInt16(glyphCount, at: 4)
            tables["maxp"] = maxp
        }
        if let post = font.rawTables["post"], post.count >= 32 {
            // Version 3 carries the metrics without the (large) glyph name list.
            var header = Array(post.prefix(32))
            header.setUInt32(0x0003_0000, at: 0)
            tables["post"] = header
        }
        for tag in ["OS/2", "cvt ", "fpgm", "prep"] {
            if let table = font.rawTables[tag] { tables[tag] = table }
        }
        return Self.assemble(tables)
    }

    /// Used glyphs plus .notdef and the parts of composite glyphs.
    private func keptGlyphs() -> Set<Int> {
        var kept: Set<Int> = [0]
        var pending = characters.keys.map(Int.init).filter { $0 < font.glyphCount }
        while let glyph = pending.popLast() {
            guard kept.insert(glyph).inserted else { continue }
            let parts = (try? font.components(ofGlyph: glyph)) ?? []
            pending += parts.filter { $0 < font.glyphCount && !kept.contains($0) }
        }
        return kept
    }

    /// A format 4 cmap with one segment per used BMP character.
    private func characterMap() -> [UInt8] {
        let pairs = characters
            .filter { $0.value.value <= 0xFFFF && $0.value.value != 0xFFFF }
            .map { (code: Int($0.value.value), glyph: Int($0.key)) }
            .sorted { $0.code < $1.code }
        let segments = pairs + [(code: 0xFFFF, glyph: 0)]
        let segmentCount = segments.count
        var searchRange = 2
        var entrySelector = 0
        while searchRange * 2 <= segmentCount * 2 {
            searchRange *= 2
            entrySelector += 1
        }

        var subtable: [UInt8] = []
        subtable.appendUInt16(4)
        subtable.appendUInt16(16 + 8 * segmentCount)
        subtable.appendUInt16(0)  // language
        subtable.appendUInt16(segmentCount * 2)
        subtable.appendUInt16(searchRange)
        subtable.appendUInt16(entrySelector)
        subtable.appendUInt16(segmentCount * 2 - searchRange)
        for segment in segments { subtable.appendUInt16(segment.code) }  // end codes
        subtable.appendUInt16(0)  // reserved pad
        for segment in segments { subtable.appendUInt16(segment.code) }  // start codes
        for segment in segments { subtable.appendUInt16((segment.glyph - segment.code + 0x10000) & 0xFFFF) }
        for _ in segments { subtable.appendUInt16(0) }  // no glyph id arrays

        var cmap: [UInt8] = []
        cmap.appendUInt16(0)  // version
        cmap.appendUInt16(1)  // one subtable: Windows Unicode BMP
        cmap.appendUInt16(3)
        cmap.appendUInt16(1)
        cmap.appendUInt32(12)
        return cmap + subtable
    }

    /// A minimal Windows-platform name table with the original font's names.
    private func nameTable() -> [UInt8] {
        let records = font.namesForSubset.sorted { $0.key < $1.key }
        var storage: [UInt8] = []
        var table: [UInt8] = []
        table.appendUInt16(0)
        table.appendUInt16(records.count)
        table.appendUInt16(6 + 12 * records.count)
        for (nameID, value) in records {
            let encoded = value.utf16.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
            table.appendUInt16(3)  // Windows
            table.appendUInt16(1)  // Unicode BMP
            table.appendUInt16(0x0409)  // en-US
            table.appendUInt16(Int(nameID))
            table.appendUInt16(encoded.count)
            table.appendUInt16(storage.count)
            storage += encoded
        }
        return table + storage
    }

    /// Writes the sfnt header, table directory (sorted by tag) and 4-byte aligned tables.
    private static func assemble(_ tables: [String: [UInt8]]) -> [UInt8] {
        let tags = tables.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        var searchRange = 1
        var entrySelector = 0
        while searchRange * 2 <= tags.count {
            searchRange *= 2
            entrySelector += 1
        }
        var file: [UInt8] = []
        file.appendUInt32(0x0001_0000)
        file.appendUInt16(tags.count)
        file.appendUInt16(searchRange * 16)
        file.appendUInt16(entrySelector)
        file.appendUInt16(tags.count * 16 - searchRange * 16)

        var offset = 12 + 16 * tags.count
        var headOffset: Int?
        for tag in tags {
            let table = tables[tag] ?? []
            file += Array(tag.utf8)
            file.appendUInt32(checksum(table))
            file.appendUInt32(UInt32(offset))
            file.appendUInt32(UInt32(table.count))
            if tag == "head" { headOffset = offset }
            offset += (table.count + 3) & ~3
        }
        for tag in tags {
            file += tables[tag] ?? []
            while file.count % 4 != 0 { file.append(0) }
        }
        if let headOffset {
            file.setUInt32(0xB1B0_AFBA &- checksum(file), at: headOffset + 8)
        }
        return file
    }

    /// Sum of big-endian 32-bit words, zero-padded.
    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var sum: UInt32 = 0
        var index = 0
        while index < bytes.count {
            var word: UInt32 = 0
            for byte in 0 ..< 4 {
                word <<= 8
                if index + byte < bytes.count { word |= UInt32(bytes[index + byte]) }
            }
            sum &+= word
            index += 4
        }
        return sum
    }
}

extension [UInt8] {
    mutating func appendUInt16(_ value: Int) {
        append(UInt8((value >> 8) & 0xFF))
        append(UInt8(value & 0xFF))
    }

    mutating func appendUInt32(_ value: UInt32) {
        append(UInt8(value >> 24))
        append(UInt8((value >> 16) & 0xFF))
        append(UInt8((value >> 8) & 0xFF))
        append(UInt8(value & 0xFF))
    }

    mutating func setUInt16(_ value: Int, at offset: Int) {
        guard offset + 2 <= count else { return }
        self[offset] = UInt8((value >> 8) & 0xFF)
        self[offset + 1] = UInt8(value & 0xFF)
    }

    mutating func setUInt32(_ value: UInt32, at offset: Int) {
        guard offset + 4 <= count else { return }
        self[offset] = UInt8(value >> 24)
        self[offset + 1] = UInt8((value >> 16) & 0xFF)
        self[offset + 2] = UInt8((value >> 8) & 0xFF)
        self[offset + 3] = UInt8(value & 0xFF)
    }
}
