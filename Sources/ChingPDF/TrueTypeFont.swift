/// Why a byte array could not be used as a TrueType font.
public struct TrueTypeFontError: Error, CustomStringConvertible, Sendable {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// Big-endian reads over font bytes. Every read is bounds-checked so that a truncated
/// or corrupt font throws instead of crashing.
struct FontBytes: Sendable {
    let bytes: [UInt8]

    func u8(_ offset: Int) throws -> UInt8 {
        guard offset >= 0, offset < bytes.count else {
            throw TrueTypeFontError("font data is truncated (read at byte \(offset) of \(bytes.count))")
        }
        return bytes[offset]
    }

    func u16(_ offset: Int) throws -> UInt16 {
        UInt16(try u8(offset)) << 8 | UInt16(try u8(offset + 1))
    }

    func i16(_ offset: Int) throws -> Int16 {
        Int16(bitPattern: try u16(offset))
    }

    func u32(_ offset: Int) throws -> UInt32 {
        UInt32(try u16(offset)) << 16 | UInt32(try u16(offset + 2))
    }

    func slice(_ offset: Int, _ length: Int) throws -> [UInt8] {
        guard offset >= 0, length >= 0, offset <= bytes.count - length else {
            throw TrueTypeFontError("font data is truncated (need \(length) bytes at \(offset) of \(bytes.count))")
        }
        return Array(bytes[offset ..< offset + length])
    }
}

/// A parsed TrueType font that can be embedded in a PDF.
///
/// Only what a PDF writer needs is parsed: metrics for the font descriptor, advance widths,
/// the Unicode-to-glyph map, and the glyph outlines for subsetting.
public struct TrueTypeFont: Sendable {
    /// Font design units per em (2048 for DejaVu Sans).
    public let unitsPerEm: Int
    /// Number of glyphs in the font (`maxp.numGlyphs`).
    public let glyphCount: Int
    /// PostScript name from the `name` table, e.g. "DejaVuSans".
    public let postScriptName: String

    // Metrics in font units, used for the PDF font descriptor.
    let boundingBox: (xMin: Int, yMin: Int, xMax: Int, yMax: Int)
    let ascender: Int
    let descender: Int
    let capHeight: Int
    let italicAngle: Double
    let isFixedPitch: Bool

    let advanceWidths: [Int]
    let leftSideBearings: [Int16]
    let glyphOffsets: [Int]  // glyphCount + 1 offsets into `glyf`
    let glyphTable: [UInt8]
    let glyphForScalar: [UInt32: UInt16]
    let namesForSubset: [UInt16: String]  // name ids 1, 2, 4, 6

    /// Raw tables copied into a subset unchanged or lightly patched.
    let rawTables: [String: [UInt8]]

    public init(data: [UInt8]) throws {
        let font = FontBytes(bytes: data)
        guard data.count >= 12 else { throw TrueTypeFontError("not a font: only \(data.count) bytes") }
        let version = try font.u32(0)
        switch version {
        case 0x0001_0000, 0x7472_7565:  // 1.0 or 'true'
            break
        case 0x4F54_544F:  // 'OTTO'
            throw TrueTypeFontError("CFF-based OpenType fonts are not supported; use a TrueType (glyf) font")
        case 0x7474_6366:  // 'ttcf'
            throw TrueTypeFontError("font collections (.ttc) are not supported; use a single .ttf")
        default:
            throw TrueTypeFontError("not a TrueType font (unknown sfnt version 0x\(String(version, radix: 16)))")
        }

        var tables: [String: [UInt8]] = [:]
        let tableCount = Int(try font.u16(4))
        for index in 0 ..< tableCount {
            let record = 12 + 16 * index
            let tagBytes = try font.slice(record, 4)
            let tag = String(decoding: tagBytes, as: UTF8.self)
            let offset = Int(try font.u32(record + 8))
            let length = Int(try font.u32(record + 12))
            tables[tag] = try font.slice(offset, length)
        }
        func table(_ tag: String) throws -> FontBytes {
            guard let bytes = tables[tag] else { throw TrueTypeFontError("font has no '\(tag)' table") }
            return FontBytes(bytes: bytes)
        }

        let head = try table("head")
        guard try head.u32(12) == 0x5F0F_3CF5 else { throw TrueTypeFontError("'head' table has a bad magic number") }
        unitsPerEm = Int(try head.u16(18))
        guard unitsPerEm > 0 else { throw TrueTypeFontError("'head' table has unitsPerEm = 0") }
        boundingBox = (Int(try head.i16(36)), Int(try head.i16(38)), Int(try head.i16(40)), Int(try head.i16(42)))
        let usesLongOffsets = try head.i16(50) == 1

        let maxp = try table("maxp")
        glyphCount = Int(try maxp.u16(4))
        guard glyphCount > 0 else { throw TrueTypeFontError("font has no glyphs") }

        let hhea = try table("hhea")
        ascender = Int(try hhea.i16(4))
        descender = Int(try hhea.i16(6))
        let horizontalMetricCount = Int(try hhea.u16(34))
        guard horizontalMetricCount > 0 else { throw TrueTypeFontError("'hhea' has no horizontal metrics") }

        if let os2Bytes = tables["OS/2"], try FontBytes(bytes: os2Bytes).u16(0) >= 2 {
            capHeight = Int(try FontBytes(bytes: os2Bytes).i16(88))
        } else {
            capHeight = ascender * 7 / 10  // a reasonable guess when OS/2 has no cap height
        }

        if let postBytes = tables["post"] {
            let post = FontBytes(bytes: postBytes)
            italicAngle = Double(Int32(bitPattern: try post.u32(4))) / 65536
            isFixedPitch = try post.u32(12) != 0
        } else {
            italicAngle = 0
            isFixedPitch = false
        }

        // hmtx: advance + lsb pairs, then bare lsbs; the last advance repeats.
        let hmtx = try table("hmtx")
        var advances: [Int] = []
        var bearings: [Int16] = []
        advances.reserveCapacity(glyphCount)
        bearings.reserveCapacity(glyphCount)
        for glyph in 0 ..< glyphCount {
            if glyph < horizontalMetricCount {
                advances.append(Int(try hmtx.u16(4 * glyph)))
                bearings.append(try hmtx.i16(4 * glyph + 2))
            } else {
                advances.append(advances[horizontalMetricCount - 1])
                bearings.append(try hmtx.i16(4 * horizontalMetricCount + 2 * (glyph - horizontalMetricCount)))
            }
        }
        advanceWidths = advances
        leftSideBearings = bearings

        let loca = try table("loca")
        glyphTable = try table("glyf").bytes
        var offsets: [Int] = []
        offsets.reserveCapacity(glyphCount + 1)
        for index in 0 ... glyphCount {
            let offset = usesLongOffsets ? Int(try loca.u32(4 * index)) : Int(try loca.u16(2 * index)) * 2
            guard offset <= glyphTable.count, offset >= (offsets.last ?? 0) else {
                throw TrueTypeFontError("'loca' table is inconsistent with 'glyf' at glyph \(index)")
            }
            offsets.append(offset)
        }
        glyphOffsets = offsets

        glyphForScalar = try Self.parseCharacterMap(try table("cmap"), glyphCount: glyphCount)
        guard !glyphForScalar.isEmpty else { throw TrueTypeFontError("'cmap' table has no usable Unicode mapping") }

        namesForSubset = tables["name"].map { Self.parseNames(FontBytes(bytes: $0)) } ?? [:]
        postScriptName = Self.sanitizedPostScriptName(namesForSubset[6] ?? namesForSubset[4] ?? "EmbeddedFont")

        rawTables = tables.filter { ["head", "hhea", "maxp", "OS/2", "post", "cvt ", "fpgm", "prep"].contains($0.key) }
    }

    /// The glyph for a Unicode scalar, or 0 (.notdef) when the font lacks it.
    public func glyphID(for scalar: Unicode.Scalar) -> UInt16 {
        glyphForScalar[scalar.value] ?? 0
    }

    /// Advance width of a glyph in PDF text-space units (1000 per em).
    public func advanceWidth(ofGlyph glyph: UInt16) -> Int {
        let index = Int(glyph) < advanceWidths.count ? Int(glyph) : 0
        return scaled(advanceWidths[index])
    }

    /// Width of `text` at `fontSize` points, ignoring kerning.
    public func width(of text: String, fontSize: Double) -> Double {
        let units = text.unicodeScalars.reduce(0) { $0 + advanceWidth(ofGlyph: glyphID(for: $1)) }
        return Double(units) * fontSize / 1000
    }

    /// Font units to PDF glyph-space units (1000 per em).
    func scaled(_ value: Int) -> Int {
        Int((Double(value) * 1000 / Double(unitsPerEm)).rounded())
    }

    /// The outline bytes of one glyph (empty for blank glyphs such as space).
    func outline(ofGlyph glyph: Int) -> ArraySlice<UInt8> {
        glyphTable[glyphOffsets[glyph] ..< glyphOffsets[glyph + 1]]
    }

    /// Glyphs a composite glyph is built from (empty for simple glyphs).
    func components(ofGlyph glyph: Int) throws -> [Int] {
        let data = FontBytes(bytes: Array(outline(ofGlyph: glyph)))
        guard data.bytes.count >= 10, try data.i16(0) < 0 else { return [] }
        var components: [Int] = []
        var offset = 10
        while true {
            let flags = try data.u16(offset)
            components.append(Int(try data.u16(offset + 2)))
            offset += 4
            offset += flags & 0x0001 != 0 ? 4 : 2  // ARG_1_AND_2_ARE_WORDS
            if flags & 0x0008 != 0 { offset += 2 }  // WE_HAVE_A_SCALE
            else if flags & 0x0040 != 0 { offset += 4 }  // WE_HAVE_AN_X_AND_Y_SCALE
            else if flags & 0x0080 != 0 { offset += 8 }  // WE_HAVE_A_TWO_BY_TWO
            guard flags & 0x0020 != 0 else { break }  // MORE_COMPONENTS
        }
        return components
    }

    // MARK: - cmap

    /// Reads the best Unicode subtable: format 12 (full Unicode) if present, else format 4 (BMP).
    private static func parseCharacterMap(_ cmap: FontBytes, glyphCount: Int) throws -> [UInt32: UInt16] {
        var format4: Int?
        var format12: Int?
        let subtableCount = Int(try cmap.u16(2))
        for index in 0 ..< subtableCount {
            let record = 4 + 8 * index
            let platform = try cmap.u16(record)
            let encoding = try cmap.u16(record + 2)
            let offset = Int(try cmap.u32(record + 4))
            let isUnicode = platform == 0 || (platform == 3 && (encoding == 1 || encoding == 10))
            guard isUnicode else { continue }
            switch try cmap.u16(offset) {
            case 4 where format4 == nil: format4 = offset
            case 12 where format12 == nil: format12 = offset
            default: break
            }
        }
        if let offset = format12 {
            return try parseFormat12(cmap, at: offset, glyphCount: glyphCount)
        }
        if let offset = format4 {
            return try parseFormat4(cmap, at: offset, glyphCount: glyphCount)
        }
        throw TrueTypeFontError("'cmap' table has no Unicode subtable in format 4 or 12")
    }

    private static func parseFormat4(_ cmap: FontBytes, at start: Int, glyphCount: Int) throws -> [UInt32: UInt16] {
        let segmentCount = Int(try cmap.u16(start + 6)) / 2
        let endCodes = start + 14
        let startCodes = endCodes + 2 * segmentCount + 2
        let deltas = startCodes + 2 * segmentCount
        let rangeOffsets = deltas + 2 * segmentCount
        var map: [UInt32: UInt16] = [:]
        for segment in 0 ..< segmentCount {
            let first = Int(try cmap.u16(startCodes + 2 * segment))
            let last = Int(try cmap.u16(endCodes + 2 * segment))
            let delta = Int(try cmap.u16(deltas + 2 * segment))
            let rangeOffsetPosition = rangeOffsets + 2 * segment
            let rangeOffset = Int(try cmap.u16(rangeOffsetPosition))
            guard first <= last else { continue }
            for code in first ... last where code != 0xFFFF {
                var glyph: Int
                if rangeOffset == 0 {
                    glyph = (code + delta) & 0xFFFF
                } else {
                    glyph = Int(try cmap.u16(rangeOffsetPosition + rangeOffset + 2 * (code - first)))
                    if glyph != 0 { glyph = (glyph + delta) & 0xFFFF }
                }
                if glyph != 0, glyph < glyphCount { map[UInt32(code)] = UInt16(glyph) }
            }
        }
        return map
    }

    private static func parseFormat12(_ cmap: FontBytes, at start: Int, glyphCount: Int) throws -> [UInt32: UInt16] {
        let groupCount = Int(try cmap.u32(start + 12))
        var map: [UInt32: UInt16] = [:]
        for group in 0 ..< groupCount {
            let record = start + 16 + 12 * group
            let first = try cmap.u32(record)
            let last = try cmap.u32(record + 4)
            let firstGlyph = Int(try cmap.u32(record + 8))
            guard first <= last, last <= 0x10FFFF else { continue }
            for code in first ... last {
                let glyph = firstGlyph + Int(code - first)
                if glyph != 0, glyph < glyphCount { map[code] = UInt16(glyph) }
            }
        }
        return map
    }

    // MARK: - name

    /// Family (1), subfamily (2), full name (4) and PostScript name (6), from Windows or Mac records.
    private static func parseNames(_ name: FontBytes) -> [UInt16: String] {
        var names: [UInt16: String] = [:]
        guard let count = try? Int(name.u16(2)), let storage = try? Int(name.u16(4)) else { return [:] }
        for index in 0 ..< count {
            let record = 6 + 12 * index
            guard let platform = try? name.u16(record),
                  let encoding = try? name.u16(record + 2),
                  let nameID = try? name.u16(record + 6),
                  let length = try? Int(name.u16(record + 8)),
                  let offset = try? Int(name.u16(record + 10)),
                  [1, 2, 4, 6].contains(nameID),
                  let bytes = try? name.slice(storage + offset, length)
            else { continue }
            if platform == 3, encoding == 1 || encoding == 0 {
                var units: [UInt16] = []
                for pair in stride(from: 0, to: bytes.count - 1, by: 2) {
                    units.append(UInt16(bytes[pair]) << 8 | UInt16(bytes[pair + 1]))
                }
                names[nameID] = String(decoding: units, as: UTF16.self)
            } else if platform == 1, encoding == 0, names[nameID] == nil {
                names[nameID] = String(decoding: bytes.map { $0 < 0x80 ? $0 : 0x3F }, as: UTF8.self)
            }
        }
        return names
    }

    /// PDF names and PostScript names allow only printable ASCII without delimiters.
    private static func sanitizedPostScriptName(_ name: String) -> String {
        let allowed = name.unicodeScalars.filter {
            $0.value > 0x20 && $0.value < 0x7F && !"()<>[]{}/%#".unicodeScalars.contains($0)
        }
        let cleaned = String(String.UnicodeScalarView(allowed))
        return cleaned.isEmpty ? "EmbeddedFont" : String(cleaned.prefix(60))
    }
}
