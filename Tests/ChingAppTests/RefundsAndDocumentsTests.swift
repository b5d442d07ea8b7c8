import ChingApp
import ChingDomain
import ChingStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SQLKit
import Testing

@Suite("Refunds")
struct RefundsTests {
    @Test("Partial then full refunds grow refunded_amount, issue credit notes and refuse going past the charge")
    func partialAndFull() async throws {
        let app = TestApp()
        try await app.run { api in
            let customer = try await api.customer(email: "tal@example.com")
            let card = try await api.testCard(customer: customer)
            let charge = try await api.charge(customer: customer, paymentMethod: card, amount: 9900)
            let first = try await api.post("/refunds", ["charge": .string(charge.id), "amount": 2000, "reason": "requested_by_customer"])
            #expect(first.status == 200, "\(first.text)")
            #expect(first.id.hasPrefix("re_"))
            #expect(first.data["status"] == "succeeded")
            #expect(first.data["reason"] == "requested_by_customer")
            #expect(try await api.get("/charges/\(charge.id)").data["refunded_amount"] == 2000)
            let tooMuch = try await api.post("/refunds", ["charge": .string(charge.id), "amount": 7901])
            #expect(tooMuch.status == 400)
            #expect(tooMuch.errorCode == "refund_amount_too_large")
            let rest = try await api.post("/refunds", ["charge": .string(charge.id), "amount": 7900])
            #expect(rest.status == 200)
            #expect(try await api.get("/charges/\(charge.id)").data["refunded_amount"] == 9900)
            let creditNote = try await api.get("/documents/\(rest.data["document"]?.stringValue ?? "")")
            #expect(creditNote.data["type"] == "credit_note")
            #expect(creditNote.data["amount"] == 7900)
            #expect(creditNote.data["refund"] == .string(rest.id))
            #expect(creditNote.data["number"] == 3)
            #expect(try await api.get("/refunds/\(first.id)").data == first.data)
            let list = try await api.get("/refunds")
            #expect(list.data.arrayValue?.compactMap { $0["id"]?.stringValue } == [rest.id, first.id])
            #expect(list.data[0]?["customer_name"] == "Tal Levi")
            #expect(try await api.eventTypes().filter { $0 == "refund.created" }.count == 2)
            let emails = try await app.withDatabase { database in
                try await database.read { db in
                    try await db.raw("SELECT kind FROM email_outbox WHERE project_id = \(bind: api.projectID) ORDER BY seq").all()
                        .map { try $0.decode(column: "kind", as: String.self) }
                }
            }
            #expect(emails == ["receipt", "refund_confirmation", "refund_confirmation"])
        }
    }

    @Test("A failed charge has nothing to refund")
    func failedCharge() async throws {
        try await TestApp().run { api in
            let customer = try await api.customer()
            let card = try await api.attachCard(number: "4000000000000341", customer: customer)
            let failed = try await api.charge(customer: customer, paymentMethod: card, amount: 5000)
            let id = failed.json["error"]?["charge"]?["id"]?.stringValue ?? ""
            let refund = try await api.post("/refunds", ["charge": .string(id), "amount": 100])
            #expect(refund.errorCode == "refund_amount_too_large")
        }
    }

    @Test("Each invalid refund field is refused at its path", arguments: [
        (JSONValue.object(["amount": 0]), "amount"),
        (["amount": -1], "amount"),
        (["amount": .number(1.5)], "amount"),
        (["reason": "changed_mind"], "reason"),
        (["charge": "cus_123456789012"], "charge"),
        (["metadata": [:], "note": "x"], "note"),
    ] as [(JSONValue, String)])
    func invalidFields(override: JSONValue, path: String) async throws {
        try await TestApp().run { api in
            let (_, _, charge) = try await api.paidCharge()
            var body: JSONObject = ["charge": .string(charge.id), "amount": 100]
            for (key, value) in override.objectValue!.entries { body[key] = value }
            let result = try await api.post("/refunds", .object(body))
            #expect(result.errorCode == "INVALID_FIELD")
            #expect(result.issuePaths == [path])
            #expect(try await api.get("/charges/\(charge.id)").data["refunded_amount"] == 0)
        }
    }

    @Test("50 concurrent refunds of 1 agora on a 20-agorot charge: exactly 20 succeed")
    func concurrentRefunds() async throws {
        try await TestApp().run { api in
            let (_, _, charge) = try await api.paidCharge(amount: 20)
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<50 {
                    group.addTask { try await api.post("/refunds", ["charge": .string(charge.id), "amount": 1]).status }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 200 }.count == 20)
            #expect(statuses.filter { $0 == 400 }.count == 30)
            #expect(try await api.get("/charges/\(charge.id)").data["refunded_amount"] == 20)
            #expect(try await api.get("/refunds?limit=100").data.arrayValue?.count == 20)
            // One invoice and 20 credit notes, numbered 1 to 21 with no gap and no repeat.
            let numbers = try await api.get("/documents").data.arrayValue?.compactMap { $0["number"]?.intValue }.sorted()
            #expect(numbers == Array(1...21))
        }
    }
}

@Suite("Documents")
struct DocumentsTests {
    @Test("Concurrent charges get document numbers 1 to N with no gap or repeat")
    func concurrentNumbering() async throws {
        try await TestApp().run { api in
            let customer = try await api.customer()
            let card = try await api.testCard(customer: customer)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for amount in 1...20 {
                    group.addTask { _ = try await api.charge(customer: customer, paymentMethod: card, amount: Int64(amount * 100)) }
                }
                try await group.waitForAll()
            }
            let numbers = try await api.get("/documents").data.arrayValue?.compactMap { $0["number"]?.intValue }.sorted()
            #expect(numbers == Array(1...20))
        }
    }

    @Test("A document carries its VAT and a public PDF link; the API and the link serve the same PDF")
    func documentAndPDF() async throws {
        try await TestApp().run { api in
            let (customer, _, charge) = try await api.paidCharge(amount: 11800)
            let id = charge.data["document"]?.stringValue ?? ""
            let document = try await api.get("/documents/\(id)")
            #expect(document.data["object"] == "document")
            #expect(document.data["status"] == "issued")
            #expect(document.data["number"] == 1)
            #expect(document.data["vat_rate"] == .number(0.18))
            #expect(document.data["vat_amount"] == 1800)
            #expect(document.data["customer"] == .string(customer))
            #expect(document.data["allocation_number"] == .null)
            let pdfURL = try #require(document.data["pdf_url"]?.stringValue)
            #expect(pdfURL.hasPrefix("https://pay.example.test/documents/\(id).pdf?key="))

            let viaAPI = try await api.client.execute(uri: "/v1/documents/\(id)/pdf", method: .get, headers: [.authorization: "Bearer \(api.key)"], body: nil)
            #expect(viaAPI.status == .ok)
            #expect(viaAPI.headers[.contentType] == "application/pdf")
            let publicPath = String(pdfURL.dropFirst("https://pay.example.test".count))
            let viaLink = try await api.client.execute(uri: publicPath, method: .get, headers: [:], body: nil)
            #expect(viaLink.status == .ok)
            #expect(viaLink.body == viaAPI.body)
            let wrongKey = try await api.client.execute(uri: "/documents/\(id).pdf?key=guess", method: .get, headers: [:], body: nil)
            #expect(wrongKey.status == .notFound)
            let noKey = try await api.client.execute(uri: "/v1/documents/\(id)/pdf", method: .get, headers: [:], body: nil)
            #expect(noKey.status == .unauthorized)

            let text = try PDFText.extract(Data(viaAPI.body.readableBytesView))
            #expect(text.contains("1"))
            #expect(text.contains("₪118.00"))
            #expect(text.contains("Tal Levi"))
            #expect(text.contains("Test Shop Ltd."))
        }
    }

    @Test("A Hebrew customer name is found in the PDF's text", .enabled(if: PDFText.isAvailable))
    func hebrewName() async throws {
        try await TestApp().run { api in
            let customer = try await api.customer("טל לוי")
            let card = try await api.testCard(customer: customer)
            let charge = try await api.charge(customer: customer, paymentMethod: card, amount: 4990)
            let pdf = try await api.client.execute(uri: "/v1/documents/\(charge.data["document"]?.stringValue ?? "")/pdf", method: .get,
                                                   headers: [.authorization: "Bearer \(api.key)"], body: nil)
            let text = try PDFText.extract(Data(pdf.body.readableBytesView))
            #expect(text.contains("טל לוי"))
            #expect(text.contains("₪49.90"))
        }
    }
}

/// Text extraction with poppler's `pdftotext` (CI installs poppler-utils).
enum PDFText {
    static let path = ["/usr/bin/pdftotext", "/usr/local/bin/pdftotext"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static var isAvailable: Bool { path != nil }

    static func extract(_ pdf: Data) throws -> String {
        guard let path else { throw TestFailure("pdftotext is not installed (apt-get install poppler-utils)") }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ching-\(UUID().uuidString).pdf")
        try pdf.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = [file.path, "-"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
