import ChingDomain
import ChingProviders
import Foundation
import Testing
@testable import ChingMail

@Suite("MIME and SMTP settings")
struct MIMETests {
    /// The text of RFC 2047 encoded words, joined.
    func decode(_ header: String) -> String {
        let words = header.components(separatedBy: "\r\n ")
        return words.map { word in
            let base64 = word.dropFirst("=?UTF-8?B?".count).dropLast(2)
            return String(decoding: Data(base64Encoded: String(base64)) ?? Data(), as: UTF8.self)
        }.joined()
    }

    @Test("A Hebrew subject becomes encoded words of at most 75 characters that decode to it; an ASCII one stays as it is")
    func encodedWords() {
        let subject = "קבלה על תשלום: ‏1,234.50 ₪ — תודה שקניתם בקפה נגב, נשמח לראותכם שוב"
        let header = MIME.encodedWords(subject)
        #expect(header.hasPrefix("=?UTF-8?B?"))
        #expect(header.components(separatedBy: "\r\n ").allSatisfy { $0.count <= 75 && $0.hasPrefix("=?UTF-8?B?") && $0.hasSuffix("?=") })
        #expect(header.components(separatedBy: "\r\n ").count > 1)
        #expect(decode(header) == subject)
        #expect(MIME.encodedWords("Your receipt: ₪99.00") != "Your receipt: ₪99.00", "₪ is not ASCII")
        #expect(MIME.encodedWords("Your receipt") == "Your receipt")
    }

    @Test("The message is multipart: text then HTML, then the attachment byte for byte; lines end in CRLF and stay short")
    func message() throws {
        let pdf = (0..<5000).map { UInt8($0 % 251) }
        let message = MailMessage(from: "billing@shop.example", fromName: "קפה נגב", to: "dana@example.com", replyTo: "help@shop.example",
                                  subject: "Your receipt", text: "Thanks.\nSee you.", html: "<p>Thanks.</p>",
                                  attachments: [.init(fileName: "receipt-12.pdf", contentType: "application/pdf", bytes: pdf)],
                                  messageID: "em_abc@pay.example", date: Timestamp(milliseconds: 1_796_159_366_000))
        let raw = MIME.render(message)
        #expect(raw.contains("\r\nTo: <dana@example.com>\r\n") && raw.contains("\r\nReply-To: <help@shop.example>\r\n"))
        #expect(raw.hasPrefix("From: =?UTF-8?B?"), "a Hebrew display name is encoded")
        #expect(raw.contains("\r\nDate: Tue, 01 Dec 2026 21:09:26 +0000\r\n"))
        #expect(raw.contains("\r\nMessage-ID: <em_abc@pay.example>\r\n"))
        #expect(!raw.replacingOccurrences(of: "\r\n", with: "").contains("\n"), "every line ends in CRLF")
        #expect(raw.components(separatedBy: "\r\n").allSatisfy { $0.utf8.count <= 998 })
        let text = try #require(raw.range(of: "text/plain"))
        let html = try #require(raw.range(of: "text/html"))
        #expect(text.lowerBound < html.lowerBound)
        let attachment = try #require(raw.components(separatedBy: "Content-Disposition: attachment; filename=\"receipt-12.pdf\"\r\n\r\n").last)
        let base64 = attachment.components(separatedBy: "\r\n\r\n--").first?.replacingOccurrences(of: "\r\n", with: "") ?? ""
        #expect(Data(base64Encoded: base64).map(Array.init) == pdf)
    }

    @Test("SMTP settings: STARTTLS when offered or required, implicit TLS, credentials, default ports; anything else is refused")
    func settings() throws {
        let plain = try SMTPConfiguration(url: "smtp://mailer:s%40cret@mail.example:2525")
        #expect(plain.security == .startTLSIfOffered && plain.port == 2525 && plain.username == "mailer" && plain.password == "s@cret")
        #expect(plain.redacted == "smtp://mailer@mail.example:2525")
        #expect(try SMTPConfiguration(url: "smtp://mail.example?starttls=required").security == .startTLSRequired)
        #expect(try SMTPConfiguration(url: "smtp://mail.example").port == 587)
        let implicit = try SMTPConfiguration(url: "smtps://mail.example")
        #expect(implicit.security == .implicitTLS && implicit.port == 465)
        for bad in ["http://mail.example", "smtp://", "smtp://mail.example?starttls=maybe", "mail.example"] {
            #expect(throws: ConfigurationProblem.self) { try SMTPConfiguration(url: bad) }
        }
    }
}
