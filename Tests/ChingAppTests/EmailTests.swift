import ChingApp
import ChingDomain
import ChingProviders
import Foundation
import HTTPTypes
import Synchronization
import HummingbirdTesting
import NIOCore
import Testing

/// A real SMTP server for one test: `Tests/Mail/smtp_server.py` (aiosmtpd) on a free port, keeping
/// every accepted message as a file, with STARTTLS on a self-signed certificate the test trusts.
final class SMTPServer: @unchecked Sendable {
    let port: Int
    let folder: String
    let certificate: String
    private let process: Process
    private let input = Pipe()

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("ching-smtp-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        certificate = folder + "/cert.pem"
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        openssl.arguments = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", folder + "/key.pem", "-out", certificate,
                             "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]
        openssl.standardOutput = FileHandle.nullDevice
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        // A port nothing listens on: ask the system for one, then let the server take it.
        port = try Self.freePort()
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", API.resources + "/Tests/Mail/smtp_server.py", "--port", String(port), "--folder", folder,
                             "--cert", certificate, "--key", folder + "/key.pem"]
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        // The server prints "ready" once it listens.
        let ready = output.fileHandleForReading.availableData
        guard String(decoding: ready, as: UTF8.self).contains("ready") else { throw ServerDidNotStart() }
    }

    struct ServerDidNotStart: Error {}

    static func freePort() throws -> Int {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// The accepted messages, oldest first: (envelope lines, raw message).
    func messages() throws -> [(envelope: [String], raw: String)] {
        try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".eml") }.sorted().map { name in
            let envelope = try String(contentsOfFile: "\(folder)/\(name).envelope", encoding: .utf8).split(separator: "\n").map(String.init)
            return (envelope, try String(contentsOfFile: "\(folder)/\(name)", encoding: .utf8))
        }
    }

    func stop() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: folder)
    }
}

/// The decoded text of a header's RFC 2047 words (or the header as it is).
func decodedHeader(_ name: String, in raw: String) -> String? {
    let lines = raw.components(separatedBy: "\r\n")
    guard let start = lines.firstIndex(where: { $0.hasPrefix(name + ": ") }) else { return nil }
    var value = String(lines[start].dropFirst(name.count + 2))
    for line in lines[(start + 1)...] where line.hasPrefix(" ") { value += "\r\n" + line } 
    // Folding, then each encoded word in place.
    value = value.replacingOccurrences(of: "?=\r\n =?", with: "?==?").replacingOccurrences(of: "\r\n ", with: " ")
    while let word = value.range(of: #"=\?UTF-8\?B\?[A-Za-z0-9+/=]*\?="#, options: .regularExpression) {
        let base64 = String(value[word].dropFirst(10).dropLast(2))
        value.replaceSubrange(word, with: String(decoding: Data(base64Encoded: base64) ?? Data(), as: UTF8.self))
    }
    return value
}

/// The text of a message's base64 part of `contentType`.
func decodedPart(_ contentType: String, in raw: String) -> String? {
    guard let start = raw.range(of: "Content-Type: \(contentType)\r\nContent-Transfer-Encoding: base64\r\n\r\n") else { return nil }
    let base64 = raw[start.upperBound...].components(separatedBy: "\r\n\r\n--").first?.replacingOccurrences(of: "\r\n", with: "") ?? ""
    return Data(base64Encoded: base64).map { String(decoding: $0, as: UTF8.self) }
}

/// A mail sender that keeps what it is given (for counting, not for the wire).
final class RecordingSender: MailSender, @unchecked Sendable {
    private let sent = Mutex<[MailMessage]>([])
    var messages: [MailMessage] { sent.withLock { $0 } }
    func send(_ message: MailMessage) async -> MailOutcome {
        sent.withLock { $0.append(message) }
        return .accepted
    }
}

@Suite("Emails", .serialized)
struct EmailTests {
    func app(_ server: SMTPServer?) -> TestApp {
        var app = TestApp()
        if let server { app.smtp = ("smtp://localhost:\(server.port)?starttls=required", server.certificate) }
        return app
    }

    @Test("A receipt goes out over STARTTLS: Hebrew subject, From the brand, the PDF byte for byte; the document says it was sent")
    func receipt() async throws {
        let server = try SMTPServer()
        defer { server.stop() }
        let app = app(server)
        try await app.run { api in
            let customer = try await api.post("/customers", ["name": "דנה", "email": "dana@example.com", "locale": "he"]).id
            let card = try await api.testCard(customer: customer)
            let charge = try await api.charge(customer: customer, paymentMethod: card, amount: 9900)
            let documentID = try #require(charge.data["document"]?.stringValue)
            #expect(try await api.get("/emails").data[0]?["status"] == "pending")
            #expect(try await sendEmails(app.configuration, projectID: api.projectID) == 1)

            let messages = try server.messages()
            #expect(messages.count == 1)
            let (envelope, raw) = try #require(messages.first)
            #expect(envelope == ["billing@shop.example", "dana@example.com", "tls"], "sent over STARTTLS to the customer")
            #expect(decodedHeader("Subject", in: raw) == "קבלה על תשלום: \u{200F}99.00 ₪")
            #expect(decodedHeader("From", in: raw) == "\"Test Shop\" <billing@shop.example>")
            #expect(raw.contains("Content-Type: multipart/alternative") && raw.contains("Content-Type: text/html; charset=utf-8"))
            let part = try #require(raw.components(separatedBy: "filename=\"receipt-1.pdf\"\r\n\r\n").last)
            let base64 = part.components(separatedBy: "\r\n\r\n--").first?.replacingOccurrences(of: "\r\n", with: "") ?? ""
            let pdf = try await api.client.execute(uri: "/v1/documents/\(documentID)/pdf", method: .get,
                                                   headers: [.authorization: "Bearer \(api.key)"], body: nil)
            #expect(Data(base64Encoded: base64).map(Array.init) == pdf.body.getBytes(at: 0, length: pdf.body.readableBytes), "the attachment is the document's PDF")
            #expect(!raw.contains("4242424242424242") && !raw.contains(api.key), "no card number or API key in an email")

            #expect(try await api.get("/documents/\(documentID)").data["sent_to_customer"] == true)
            let email = try await api.get("/emails/\(try #require(try await api.get("/emails").data[0]?["id"]?.stringValue))").data
            #expect(email["status"] == "sent" && email["attempt_count"] == 1 && email["kind"] == "receipt")
            #expect(email["attempts"]?[0]?["outcome"] == "accepted")
            #expect(!app.logs.text.contains(api.key))
        }
    }

    @Test("A 451 is tried again after a minute; a 550 fails with the server's reply; a customer without an email is skipped with the reason")
    func refusals() async throws {
        let server = try SMTPServer()
        defer { server.stop() }
        let app = app(server)
        try await app.run { api in
            for (name, email) in [("Later", "tempfail@example.com"), ("Never", "reject@example.com")] {
                let customer = try await api.customer(name, email: email)
                #expect(try await api.charge(customer: customer, paymentMethod: try await api.testCard(customer: customer), amount: 1000).status == 200)
            }
            let noEmail = try await api.customer("No email")
            #expect(try await api.charge(customer: noEmail, paymentMethod: try await api.testCard(customer: noEmail), amount: 1000).status == 200)
            #expect(try await sendEmails(app.configuration, projectID: api.projectID) == 2)
            let emails = Dictionary(uniqueKeysWithValues: (try await api.get("/emails").data.arrayValue ?? []).map { ($0["to"]?.stringValue ?? "none", $0) })
            #expect(emails["tempfail@example.com"]?["status"] == "pending")
            #expect(emails["tempfail@example.com"]?["next_attempt_at"] == "2026-04-19T09:16:22.000Z")
            #expect(emails["tempfail@example.com"]?["last_error"]?.stringValue?.contains("451") == true)
            #expect(emails["reject@example.com"]?["status"] == "failed")
            #expect(emails["reject@example.com"]?["last_error"]?.stringValue?.contains("550") == true)
            #expect(emails["none"]?["status"] == "skipped" && emails["none"]?["last_error"] == "the customer has no email address")
            #expect(try await sendEmails(app.configuration, projectID: api.projectID) == 0, "nothing is due before the minute")
            app.clock.advance(seconds: 61)
            #expect(try await sendEmails(app.configuration, projectID: api.projectID) == 1)
            let retried = try #require(try await api.get("/emails").data.arrayValue?.first { $0["to"] == "tempfail@example.com" })
            #expect(retried["attempt_count"] == 2 && retried["status"] == "pending")
            #expect(try server.messages().isEmpty)
        }
    }

    @Test("Without SMTP the server starts and says so once; emails wait, and those older than 3 days when SMTP comes expire instead of going out stale")
    func notConfigured() async throws {
        let server = try SMTPServer()
        defer { server.stop() }
        let app = TestApp()
        try await app.run { api in
            let customer = try await api.customer("Dana", email: "dana@example.com")
            #expect(try await api.charge(customer: customer, paymentMethod: try await api.testCard(customer: customer), amount: 1000).status == 200)
            #expect(try await sendEmails(app.configuration, projectID: api.projectID) == 0)
            #expect(app.logs.text.components(separatedBy: "Email is not configured").count == 2, "said once")
            let stale = try #require(try await api.get("/emails").data[0]?["id"]?.stringValue)

            // SMTP is configured three days later: the old receipt expires, a new one goes out.
            var configured = app.configuration
            configured.smtpURL = "smtp://localhost:\(server.port)?starttls=required"
            configured.smtpCAFile = server.certificate
            app.clock.advance(seconds: 3 * 86_400 + 60)
            let noa = try await api.customer("Noa", email: "noa@example.com")
            #expect(try await api.charge(customer: noa, paymentMethod: try await api.testCard(customer: noa), amount: 2000).status == 200)
            #expect(try await sendEmails(configured, projectID: api.projectID) == 1)
            #expect(try server.messages().map(\.envelope[1]) == ["noa@example.com"])
            let expired = try await api.get("/emails/\(stale)").data
            #expect(expired["status"] == "expired" && expired["attempt_count"] == 0)
        }
    }

    @Test("A trial ending, a failed payment (with a fresh link to the billing portal), a cancellation and a refund with its credit note are sent")
    func notices() async throws {
        let server = try SMTPServer()
        defer { server.stop() }
        let app = app(server)
        try await app.run { api in
            let (customer, subscription) = try await api.pastDueCustomer()
            #expect(try await api.post("/subscriptions/\(subscription)/cancel").status == 200)
            let paid = try await api.paidCharge(amount: 5000)
            #expect(try await api.post("/refunds", ["charge": .string(paid.charge.id), "amount": 2000]).status == 200)
            #expect(try await sendEmails(app.configuration, projectID: api.projectID) == 3, "the skipped ones are not tried")
            let kinds = (try await api.get("/emails").data.arrayValue ?? []).reversed().map { "\($0["kind"]?.stringValue ?? ""):\($0["status"]?.stringValue ?? "")" }
            #expect(kinds == ["trial_ending:sent", "payment_failed:sent", "subscription_canceled:sent", "receipt:skipped", "refund_confirmation:skipped"],
                    "Tal has no email address")
            let messages = try server.messages().map(\.raw)
            #expect(messages.count == 3)
            let subjects = messages.compactMap { decodedHeader("Subject", in: $0) }
            #expect(Set(subjects) == ["תקופת הניסיון של Pro plan מסתיימת ב-26 באפריל 2026", "התשלום עבור Pro plan נכשל", "המנוי ל-Pro plan הסתיים"])
            let failedMessage = try #require(messages.first { decodedHeader("Subject", in: $0) == "התשלום עבור Pro plan נכשל" })
            let failed = try #require(decodedPart("text/plain; charset=utf-8", in: failedMessage))
            let link = try #require(failed.range(of: #"https://pay\.example\.test/portal/[0-9a-f]{64}"#, options: .regularExpression).map { String(failed[$0]) })
            #expect(try await api.page(String(link.dropFirst("https://pay.example.test".count))).status == 200, "the link opens the customer's portal")
            _ = customer

            // The refund's confirmation carries the credit note when the customer has an address.
            let noa = try await api.customer("Noa", email: "noa@example.com")
            let charge = try await api.charge(customer: noa, paymentMethod: try await api.testCard(customer: noa), amount: 3000)
            #expect(try await api.post("/refunds", ["charge": .string(charge.id), "amount": 3000]).status == 200)
            #expect(try await sendEmails(app.configuration, projectID: api.projectID) == 2)
            let refund = try #require(try server.messages().map(\.raw).first { decodedHeader("Subject", in: $0)?.hasPrefix("אישור החזר") == true })
            #expect(refund.contains("filename=\"credit-note-"))
            // The cards were typed on the setup page: no email and no log line carries their numbers, a CVC or the API key.
            for text in try server.messages().map(\.raw) + [app.logs.text] {
                for secret in ["4000000000000341", "4242424242424242", "cvc=123", api.key] { #expect(!text.contains(secret)) }
            }
        }
    }

    @Test("A brand's own email template is used; one that could print raw HTML is refused and the stock one stays")
    func brandedTemplate() async throws {
        let server = try SMTPServer()
        defer { server.stop() }
        let app = app(server)
        try await app.run { api in
            let folder = "\(app.brandingRoot)/\(api.projectID)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try #"{"display_name": "Café Negev"}"#.write(toFile: "\(folder)/brand.json", atomically: true, encoding: .utf8)
            try "<html><body><h1>{{heading}}</h1><p>From the café</p></body></html>".write(toFile: "\(folder)/email.mustache", atomically: true, encoding: .utf8)
            let customer = try await api.customer("Dana", email: "dana@example.com")
            #expect(try await api.charge(customer: customer, paymentMethod: try await api.testCard(customer: customer), amount: 1000).status == 200)
            #expect(try await sendEmails(app.configuration, projectID: api.projectID) == 1)
            let raw = try #require(try server.messages().last?.raw)
            #expect(decodedPart("text/html; charset=utf-8", in: raw)?.contains("From the café") == true)
            #expect(decodedHeader("From", in: raw) == "Café Negev <billing@shop.example>")

            try "<html><body>{{{heading}}}</body></html>".write(toFile: "\(folder)/email.mustache", atomically: true, encoding: .utf8)
            #expect(try await api.charge(customer: customer, paymentMethod: try await api.testCard(customer: customer), amount: 1000).status == 200)
            #expect(try await sendEmails(app.configuration, projectID: api.projectID) == 1)
            let last = try #require(try server.messages().last?.raw)
            let stock = try #require(decodedPart("text/html; charset=utf-8", in: last))
            #expect(!stock.contains("{{{") && stock.contains("role=\"presentation\""), "the last good template (the stock one) renders")
        }
    }

    @Test("Two senders on one database share 60 emails between them, each sent exactly once")
    func twoSenders() async throws {
        let sender = RecordingSender()
        let app = { var app = TestApp(); app.smtp = ("smtp://unused.example", nil); return app }()
        try await app.run { api in
            for index in 0..<30 {
                let customer = try await api.customer("Customer \(index)", email: "c\(index)@example.com")
                #expect(try await api.charge(customer: customer, paymentMethod: try await api.testCard(customer: customer), amount: 1000).status == 200)
                #expect(try await api.post("/refunds", ["charge": .string(try await api.get("/charges?customer=\(customer)").data[0]?["id"]?.stringValue ?? ""),
                                                        "amount": 500]).status == 200)
            }
            var configuration = app.configuration
            configuration.mailSender = sender
            let sending = configuration
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<2 {
                    group.addTask {
                        var idleRounds = 0
                        while idleRounds < 2 { idleRounds = try await sendEmails(sending, projectID: api.projectID) == 0 ? idleRounds + 1 : 0 }
                    }
                }
                try await group.waitForAll()
            }
            let ids = sender.messages.map(\.messageID)
            #expect(ids.count == 60)
            #expect(Set(ids).count == 60)
            #expect((try await api.get("/emails").data.arrayValue ?? []).allSatisfy { $0["status"] == "sent" && $0["attempt_count"] == 1 })
        }
    }
}
