import ChingApp
import ChingDomain
import Configuration
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

/// `../shared/seeds/000`: "Accept a one-off payment", step by step, exactly as the guide sends it.
@Suite("Seed guide 000: accept a one-off payment")
struct SeedGuideTests {
    @Test("Customer, test card, charge, document and its PDF, through /ching/v1")
    func guide() async throws {
        try await TestApp().run { api in
            func send(_ method: HTTPRequest.Method, _ path: String, _ body: String? = nil) async throws -> APIResult {
                try await api.request(method, path, body, prefix: "/ching/v1")
            }
            // 1. Create a customer
            let customer = try await send(.post, "/customers", #"{ "name": "Tal Levi", "email": "tal@example.com" }"#)
            #expect(customer.status == 200)
            #expect(customer.json["success"] == true)
            #expect(customer.id.hasPrefix("cus_"))

            // 2. Attach a card
            let card = try await send(.post, "/payment_methods/test-card", #"{ "customer": "\#(customer.id)" }"#)
            #expect(card.status == 200)
            #expect(card.id.hasPrefix("pm_"))

            // 3. Run the charge
            let charge = try await send(.post, "/charges", """
                { "customer": "\(customer.id)", "payment_method": "\(card.id)", "amount": 9900, "description": "One-off order #1234" }
                """)
            #expect(charge.status == 200)
            #expect(charge.id.hasPrefix("ch_"))
            #expect(charge.data["status"] == "succeeded")
            #expect(charge.data["amount"] == 9900)
            #expect(charge.data["currency"] == "ils")
            let documentID = try #require(charge.data["document"]?.stringValue)
            #expect(documentID.hasPrefix("doc_"))

            // 4. Send the receipt: fetch the document for its PDF URL
            let document = try await send(.get, "/documents/\(documentID)")
            #expect(document.status == 200)
            #expect(document.data["charge"] == .string(charge.id))
            let pdfURL = try #require(document.data["pdf_url"]?.stringValue)
            let pdf = try await api.client.execute(uri: String(pdfURL.dropFirst("https://pay.example.test".count)), method: .get, headers: [:], body: nil)
            #expect(pdf.status == .ok)
            #expect(String(buffer: pdf.body).hasPrefix("%PDF-"))
        }
    }
}

@Suite("Configuration")
struct ConfigurationTests {
    @Test("Flags win over CHING_* environment variables, which win over the defaults")
    func layering() {
        let reader = ConfigReader(providers: [
            InMemoryProvider(values: [AbsoluteConfigKey(["ching", "port"]): 9090]),
            EnvironmentVariablesProvider(environmentVariables: [
                "CHING_PORT": "7070", "CHING_HOST": "0.0.0.0", "CHING_DATABASE_URL": "postgres://u@db/ching", "CHING_PUBLIC_URL": "https://pay.shop.co.il/",
            ]),
        ])
        let configuration = AppConfiguration(reader: reader)
        #expect(configuration.port == 9090)
        #expect(configuration.host == "0.0.0.0")
        #expect(configuration.databaseURL == "postgres://u@db/ching")
        #expect(configuration.publicURL == "https://pay.shop.co.il")
        let defaults = AppConfiguration(reader: ConfigReader(providers: [EnvironmentVariablesProvider(environmentVariables: [:])]))
        #expect(defaults.host == "127.0.0.1")
        #expect(defaults.port == 8080)
        #expect(defaults.databaseURL == "ching.sqlite")
        #expect(defaults.publicURL == "http://127.0.0.1:8080")
    }
}
