import ChingDomain
import ChingProviders
import Foundation

/// A `MailMessage` as the bytes SMTP's DATA carries (RFC 5322 with MIME): `multipart/mixed` of a
/// `multipart/alternative` (plain text, then HTML) and the attachments. Every part is base64, so
/// no line is too long and no byte needs an 8-bit channel; headers that are not ASCII are RFC 2047
/// encoded words. Lines end in CRLF.
public enum MIME {
    public static func render(_ message: MailMessage) -> String {
        let boundary = "ching-mixed-\(message.messageID)", alternative = "ching-alt-\(message.messageID)"
        var lines = [
            "From: " + address(message.from, name: message.fromName),
            "To: <\(message.to)>",
        ]
        if let replyTo = message.replyTo { lines.append("Reply-To: <\(replyTo)>") }
        lines += [
            "Subject: " + encodedWords(message.subject),
            "Date: " + date(message.date),
            "Message-ID: <\(message.messageID)>",
            "MIME-Version: 1.0",
            "Content-Type: multipart/mixed; boundary=\"\(boundary)\"",
            "",
            "--\(boundary)",
            "Content-Type: multipart/alternative; boundary=\"\(alternative)\"",
            "",
        ]
        lines += part(contentType: "text/plain; charset=utf-8", bytes: Array(message.text.utf8), boundary: alternative)
        lines += part(contentType: "text/html; charset=utf-8", bytes: Array(message.html.utf8), boundary: alternative)
        lines += ["--\(alternative)--", ""]
        for attachment in message.attachments {
            let name = attachment.fileName.replacingOccurrences(of: "\"", with: "")
            lines += part(contentType: "\(attachment.contentType); name=\"\(name)\"", bytes: attachment.bytes, boundary: boundary,
                          disposition: "attachment; filename=\"\(name)\"")
        }
        lines.append("--\(boundary)--")
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    private static func part(contentType: String, bytes: [UInt8], boundary: String, disposition: String? = nil) -> [String] {
        var lines = ["--\(boundary)", "Content-Type: \(contentType)", "Content-Transfer-Encoding: base64"]
        if let disposition { lines.append("Content-Disposition: \(disposition)") }
        lines.append("")
        lines += Data(bytes).base64EncodedString(options: .lineLength76Characters).components(separatedBy: "\r\n")
        lines.append("")
        return lines
    }

    /// `"Café Negev" <shop@example.com>`, the name encoded when it is not plain ASCII.
    static func address(_ address: String, name: String?) -> String {
        guard let name, !name.isEmpty else { return "<\(address)>" }
        let plain = name.unicodeScalars.allSatisfy { $0.isASCII && $0.value >= 32 && $0 != "\"" && $0 != "\\" }
        return (plain ? "\"\(name)\"" : encodedWords(name)) + " <\(address)>"
    }

    /// The text as is when it is printable ASCII, else RFC 2047 `=?UTF-8?B?...?=` words of at most
    /// 75 characters, split between characters, folded onto continuation lines.
    public static func encodedWords(_ text: String) -> String {
        if text.unicodeScalars.allSatisfy({ $0.isASCII && $0.value >= 32 && $0.value < 127 }) { return text }
        var words: [String] = [], chunk: [UInt8] = []
        for character in text {
            let bytes = Array(String(character).utf8)
            // 45 bytes make 60 base64 characters: with "=?UTF-8?B?" and "?=", 72.
            if chunk.count + bytes.count > 45 {
                words.append(word(chunk))
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty { words.append(word(chunk)) }
        return words.joined(separator: "\r\n ")
    }

    private static func word(_ bytes: [UInt8]) -> String { "=?UTF-8?B?" + Data(bytes).base64EncodedString() + "?=" }

    /// RFC 5322's date, in UTC: `Tue, 01 Dec 2026 21:09:26 +0000`.
    static func date(_ time: Timestamp) -> String {
        let days = time.milliseconds >= 0 ? time.milliseconds / 86_400_000 : (time.milliseconds - 86_399_999) / 86_400_000
        let date = time.date, seconds = (time.milliseconds - days * 86_400_000) / 1000
        let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"], months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(weekdays[Int(((days % 7) + 7) % 7)]), \(two(date.day)) \(months[Int(date.month) - 1]) \(date.year) "
            + "\(two(seconds / 3600)):\(two(seconds / 60 % 60)):\(two(seconds % 60)) +0000"
    }
}
