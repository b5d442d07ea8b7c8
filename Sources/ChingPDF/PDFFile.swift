/// Writes a PDF file object by object and finishes it with the cross-reference table.
/// Object numbers are chosen by the caller; offsets are recorded as objects are written.
struct PDFFile {
    private(set) var bytes: [UInt8] = []
    private var objectOffsets: [Int: Int] = [:]

    init() {
        append("%PDF-1.4\n")
        // A comment with high bytes tells transfer tools the file is binary.
        bytes += [0x25, 0xE2, 0xE3, 0xCF, 0xD3, 0x0A]
    }

    mutating func addObject(_ number: Int, _ body: String) {
        objectOffsets[number] = bytes.count
        append("\(number) 0 obj\n\(body)\nendobj\n")
    }

    /// `dictionaryEntries` is the inside of the stream dictionary without `/Length`.
    mutating func addStream(_ number: Int, dictionaryEntries: String = "", data: [UInt8]) {
        objectOffsets[number] = bytes.count
        let separator = dictionaryEntries.isEmpty ? "" : " "
        append("\(number) 0 obj\n<< /Length \(data.count)\(separator)\(dictionaryEntries) >>\nstream\n")
        bytes += data
        append("\nendstream\nendobj\n")
    }

    /// Appends the xref table and trailer. Objects must be numbered 1...n without gaps.
    mutating func finish(root: Int, info: Int) -> [UInt8] {
        let objectCount = objectOffsets.count
        let xrefOffset = bytes.count
        append("xref\n0 \(objectCount + 1)\n0000000000 65535 f \n")
        for number in 1 ... objectCount {
            append(zeroPadded(objectOffsets[number] ?? 0, width: 10) + " 00000 n \n")
        }
        append("trailer\n<< /Size \(objectCount + 1) /Root \(root) 0 R /Info \(info) 0 R >>\n")
        append("startxref\n\(xrefOffset)\n%%EOF\n")
        return bytes
    }

    private mutating func append(_ text: String) {
        bytes += Array(text.utf8)
    }

    private func zeroPadded(_ value: Int, width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}

/// Formats a number for a PDF content stream: at most two decimals, no exponent, no locale.
func pdfNumber(_ value: Double) -> String {
    let hundredths = Int((value * 100).rounded())
    let sign = hundredths < 0 ? "-" : ""
    let magnitude = abs(hundredths)
    let fraction = magnitude % 100
    if fraction == 0 { return "\(sign)\(magnitude / 100)" }
    let decimals = fraction % 10 == 0 ? "\(fraction / 10)" : (fraction < 10 ? "0\(fraction)" : "\(fraction)")
    return "\(sign)\(magnitude / 100).\(decimals)"
}

/// A PDF hex string of UTF-16BE code units with a byte order mark, for text outside ASCII
/// (document info entries such as /Title).
func pdfTextString(_ text: String) -> String {
    "<FEFF" + text.utf16.map { hex($0) }.joined() + ">"
}

/// Four uppercase hex digits.
func hex(_ value: UInt16) -> String {
    let digits = String(value, radix: 16, uppercase: true)
    return String(repeating: "0", count: 4 - digits.count) + digits
}
