import Foundation

// The bytes Grow's Light API reads and writes: form bodies in, JSON envelopes out, shekel strings
// and d/n/y dates. Plain functions, no server here.

// MARK: - Request bodies

/// The fields of a request body in wire order, bracket keys kept as flat names (`pageField[fullName]`).
/// Grow reads urlencoded and multipart bodies; anything else (JSON) reads as no fields at all.
func formFields(body: String, contentType: String) -> [(String, String)] {
    let mediaType = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
    switch mediaType {
    case "application/x-www-form-urlencoded":
        return urlencodedFields(body)
    case "multipart/form-data":
        guard let boundary = parameter("boundary", of: contentType) else { return [] }
        return multipartFields(body, boundary: boundary)
    default:
        return []
    }
}

/// `a=1&b=x+y` with `+` as space and percent escapes decoded.
func urlencodedFields(_ body: String) -> [(String, String)] {
    body.split(separator: "&", omittingEmptySubsequences: true).compactMap { pair in
        let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        let name = formDecode(parts[0])
        guard !name.isEmpty else { return nil }
        return (name, parts.count > 1 ? formDecode(parts[1]) : "")
    }
}

private func formDecode(_ text: Substring) -> String {
    let spaced = text.replacingOccurrences(of: "+", with: " ")
    return spaced.removingPercentEncoding ?? spaced
}

/// A text-only multipart reader: each part's `Content-Disposition: form-data; name="..."` and its value.
/// Works on bytes: in a Swift String "\r\n" is one Character, which makes offsets easy to get wrong.
func multipartFields(_ body: String, boundary: String) -> [(String, String)] {
    let bytes = Array(body.utf8)
    let delimiter = Array(("--" + boundary).utf8)
    var fields: [(String, String)] = []
    var parts = split(bytes[...], on: delimiter).dropFirst()  // what precedes the first delimiter is preamble
    while var part = parts.popFirst(), !part.starts(with: Array("--".utf8)) {
        part = dropLineBreak(part, atEnd: false)
        guard let split = range(of: Array("\r\n\r\n".utf8), in: part) ?? range(of: Array("\n\n".utf8), in: part) else { continue }
        let headers = String(decoding: part[..<split.lowerBound], as: UTF8.self).split(whereSeparator: \.isNewline)
        guard let disposition = headers.first(where: { $0.lowercased().hasPrefix("content-disposition:") }),
              let name = parameter("name", of: String(disposition))
        else { continue }
        // The value ends with the line break that precedes the next delimiter.
        fields.append((name, String(decoding: dropLineBreak(part[split.upperBound...], atEnd: true), as: UTF8.self)))
    }
    return fields
}

private func split(_ bytes: ArraySlice<UInt8>, on delimiter: [UInt8]) -> ArraySlice<ArraySlice<UInt8>> {
    var pieces: [ArraySlice<UInt8>] = []
    var rest = bytes
    while let found = range(of: delimiter, in: rest) {
        pieces.append(rest[..<found.lowerBound])
        rest = rest[found.upperBound...]
    }
    pieces.append(rest)
    return pieces[...]
}

private func range(of needle: [UInt8], in haystack: ArraySlice<UInt8>) -> Range<Int>? {
    guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
    for start in haystack.startIndex...(haystack.endIndex - needle.count)
    where haystack[start..<start + needle.count].elementsEqual(needle) {
        return start..<start + needle.count
    }
    return nil
}

/// One CRLF or LF removed from the start or the end.
private func dropLineBreak(_ bytes: ArraySlice<UInt8>, atEnd: Bool) -> ArraySlice<UInt8> {
    let (cr, lf): (UInt8, UInt8) = (13, 10)
    if atEnd {
        guard bytes.last == lf else { return bytes }
        let trimmed = bytes.dropLast()
        return trimmed.last == cr ? trimmed.dropLast() : trimmed
    }
    if bytes.first == cr, bytes.dropFirst().first == lf { return bytes.dropFirst(2) }
    return bytes.first == lf ? bytes.dropFirst() : bytes
}

/// `boundary` of `multipart/form-data; boundary="x"`, or `name` of `form-data; name="a"`.
private func parameter(_ name: String, of header: String) -> String? {
    for piece in header.split(separator: ";").dropFirst() {
        let pair = piece.split(separator: "=", maxSplits: 1)
        guard pair.count == 2, pair[0].trimmingCharacters(in: .whitespacesAndNewlines).lowercased() == name else { continue }
        var value = pair[1].trimmingCharacters(in: .whitespacesAndNewlines)
        if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
        return value
    }
    return nil
}

// MARK: - Form encoding (callbacks, redirects, the test client)

/// `application/x-www-form-urlencoded` as PHP's http_build_query writes it: brackets escaped, space as `+`.
func formEncode(_ fields: [(String, String)]) -> String {
    fields.map { formEscape($0.0) + "=" + formEscape($0.1) }.joined(separator: "&")
}

func formEscape(_ text: String) -> String {
    var allowed = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: Unicode.Scalar(0)..<Unicode.Scalar(128)))
    allowed.insert(charactersIn: "-_. ")
    let escaped = text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    return escaped.replacingOccurrences(of: " ", with: "+")
}

// MARK: - JSON out

/// A JSON value that keeps object keys in the order written, as Grow's answers read.
enum JSON: Sendable {
    case string(String)
    case number(Int)
    case object([(String, JSON)])
    case array([JSON])

    var text: String {
        switch self {
        case .string(let value): return Self.quoted(value)
        case .number(let value): return String(value)
        case .array(let items): return "[" + items.map(\.text).joined(separator: ",") + "]"
        case .object(let members): return "{" + members.map { Self.quoted($0.0) + ":" + $0.1.text }.joined(separator: ",") + "}"
        }
    }

    private static func quoted(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// Grow's two envelopes: `{"status":1,"err":"","data":{...}}` and `{"status":0,"err":{"id":..,"message":..},"data":""}`.
enum Envelope {
    static func success(_ data: JSON) -> String {
        JSON.object([("status", .number(1)), ("err", .string("")), ("data", data)]).text
    }

    static func failure(_ error: GrowError) -> String {
        let err = JSON.object([("id", .number(error.id)), ("message", .string(error.message))])
        return JSON.object([("status", .number(0)), ("err", err), ("data", .string(""))]).text
    }

    /// The one answer of another shape: status as a string, err as a string, the message in data.
    static let unknownMethod = #"{"err":"unknown method","status":"0","data":{"message":"מתודה לא קיימת"}}"#
}

// MARK: - Money

/// Shekel strings as Grow writes them ("67", "16.5", "10.99") and reads them (up to two decimals).
enum Shekels {
    /// Agorot for "10.99", "67", "16.50"; nil for anything else (signs, letters, a third decimal that is not 0).
    static func agorot(_ text: String) -> Int? {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty || parts.count == 2, whole.allSatisfy(\.isASCIIDigit) else { return nil }
        var fraction = parts.count == 2 ? String(parts[1]) : ""
        guard fraction.allSatisfy(\.isASCIIDigit), !(parts.count == 2 && fraction.isEmpty) else { return nil }
        while fraction.count > 2, fraction.hasSuffix("0") { fraction.removeLast() }
        guard fraction.count <= 2, whole.count <= 12 else { return nil }
        let shekels = Int(whole.isEmpty ? "0" : whole) ?? 0
        let cents = Int(fraction.padding(toLength: 2, withPad: "0", startingAt: 0)) ?? 0
        return shekels * 100 + cents
    }

    /// "67" for 6700, "16.5" for 1650, "10.99" for 1099: no trailing zeros, as in Grow's examples.
    static func text(_ agorot: Int) -> String {
        let sign = agorot < 0 ? "-" : ""
        let value = abs(agorot)
        let (shekels, cents) = (value / 100, value % 100)
        if cents == 0 { return sign + String(shekels) }
        if cents % 10 == 0 { return sign + "\(shekels).\(cents / 10)" }
        return sign + "\(shekels).\(cents < 10 ? "0" : "")\(cents)"
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

// MARK: - Dates

/// Grow's calendar is Israel's: the d/n/y payment date and the same-day refund rule use it.
enum GrowCalendar {
    static let calendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Asia/Jerusalem") ?? TimeZone(secondsFromGMT: 7200)!
        return calendar
    }()

    /// PHP's `d/n/y`: two-digit day, month without a leading zero, two-digit year ("05/3/24").
    static func paymentDate(_ date: Date) -> String {
        let parts = calendar.dateComponents([.day, .month, .year], from: date)
        return String(format: "%02d/%d/%02d", parts.day ?? 0, parts.month ?? 0, (parts.year ?? 0) % 100)
    }

    /// "2024-03-05 14:07:09", the shape of received_time / complete_time.
    static func timestamp(_ date: Date) -> String {
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(
            format: "%04d-%02d-%02d %02d:%02d:%02d",
            parts.year ?? 0, parts.month ?? 0, parts.day ?? 0, parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0
        )
    }

    static func sameDay(_ first: Date, _ second: Date) -> Bool {
        calendar.isDate(first, inSameDayAs: second)
    }
}
