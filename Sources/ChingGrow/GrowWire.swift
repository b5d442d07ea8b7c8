import ChingDomain

/// Grow's wire format (GROW.md sections 1.3–1.4): form fields out, a `{status, err, data}` JSON
/// envelope back, shekels as decimal strings. Our agorot become shekels only here.
package enum GrowWire {
    /// `application/x-www-form-urlencoded`, in field order. Bracket keys (`pageField[fullName]`) are encoded like any other.
    package static func formBody(_ fields: [(String, String)]) -> String {
        fields.map { "\(percentEncoded($0.0))=\(percentEncoded($0.1))" }.joined(separator: "&")
    }

    /// Form-encoding of a key or value: unreserved characters as they are, a space as `+`, everything else `%XX` of its UTF-8.
    package static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "*"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: " "): out += "+"
            default:
                let hex = Array("0123456789ABCDEF")
                out += "%" + String(hex[Int(byte >> 4)]) + String(hex[Int(byte & 0x0F)])
            }
        }
        return out
    }

    /// The fields of a form-encoded body, in order (`+` is a space; a malformed escape is kept as written).
    package static func formFields(_ body: String) -> [(String, String)] {
        body.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (percentDecoded(String(parts[0])), parts.count > 1 ? percentDecoded(String(parts[1])) : "")
        }
    }

    package static func percentDecoded(_ text: String) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%"), utf8.count >= 2, let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Agorot as Grow's shekels: always two decimals ("10.99", "67.00").
    package static func shekels(_ agorot: Int64) -> String {
        let sign = agorot < 0 ? "-" : ""
        let magnitude = agorot.magnitude
        let fraction = magnitude % 100
        return "\(sign)\(magnitude / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    /// Grow's shekels ("67", "16.5", "10.99", or a JSON number) as agorot; nil when it is not an amount.
    package static func agorot(_ value: JSONValue?) -> Int64? {
        switch value {
        case .int(let shekels)?: return shekels.multipliedReportingOverflow(by: 100).overflow ? nil : shekels * 100
        case .number(let shekels)?: return shekels.isFinite && abs(shekels) < 1e15 ? Int64((shekels * 100).rounded()) : nil
        case .string(let text)?:
            let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
            guard let whole = Int64(parts[0]), whole >= 0, whole < 1_000_000_000_000 else { return nil }
            var cents: Int64 = 0
            if parts.count == 2 {
                let fraction = parts[1]
                guard (1...2).contains(fraction.count), fraction.allSatisfy(\.isASCIIDigit), let digits = Int64(fraction) else { return nil }
                cents = fraction.count == 1 ? digits * 10 : digits
            }
            return whole * 100 + cents
        default: return nil
        }
    }

    /// A field of a Grow record as text: Grow sends numbers as numbers or as strings.
    package static func text(_ value: JSONValue?) -> String? {
        switch value {
        case .string(let text)?: return text
        case .int(let number)?: return String(number)
        case .number(let number)?: return String(number)
        default: return nil
        }
    }

    /// Grow asks for no special characters: names and descriptions keep letters, digits and spaces.
    package static func plain(_ text: String, limit: Int = 100) -> String {
        let kept = text.map { $0.isLetter || $0.isNumber ? $0 : " " }
        return String(String(kept).split(separator: " ").joined(separator: " ").prefix(limit))
    }

    /// An answer to one call.
    package enum Answer: Sendable, Equatable {
        case success(JSONObject)
        /// Grow's error envelope: `err.id` and its (Hebrew) message.
        case failure(id: Int, message: String)
        /// No answer we can read (a transport error, a timeout, a 5xx, a body that is not Grow's envelope): the call's outcome is unknown.
        case unknown(String)
    }

    /// Reads an HTTP answer. Grow answers 200 for its own errors too; any other status is unknown.
    package static func answer(status: Int, body: [UInt8]) -> Answer {
        guard status == 200 else { return .unknown("HTTP \(status)") }
        guard case .object(let envelope)? = try? JSONValue.parse(body) else { return .unknown("not JSON") }
        if text(envelope["status"]) == "1" {
            return .success(envelope["data"]?.objectValue ?? JSONObject())
        }
        // `err` is {id, message}, sometimes {id: {id, content}}, or a bare string for an unknown method.
        switch envelope["err"] {
        case .object(let err)?:
            let id = text(err["id"]) ?? err["id"]?.objectValue.flatMap { text($0["id"]) }
            return .failure(id: Int(id ?? "") ?? 0, message: text(err["message"]) ?? "")
        case .string(let message)?: return .failure(id: 0, message: message)
        default: return text(envelope["status"]) == "0" ? .failure(id: 0, message: "") : .unknown("no status")
        }
    }
}
