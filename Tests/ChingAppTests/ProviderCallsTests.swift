import ChingDomain
import ChingProviders
import Testing

/// What reaches the card provider from the hosted page: money is asked for once per real attempt.
@Suite("Provider calls")
struct ProviderCallsTests {
    static let cart: JSONValue = [["name": "Coffee beans", "amount_agorot": 4500]]

    static func app(_ provider: ScriptedProvider) -> TestApp {
        var app = TestApp()
        app.cardProvider = provider
        return app
    }

    @Test("Field errors never reach the provider")
    func fieldErrorsStayHere() async throws {
        let provider = ScriptedProvider()
        try await Self.app(provider).run { api in
            let session = try await api.checkoutSession(["line_items": Self.cart])
            #expect(try await api.pay(session.id, number: "4242424242424241").status == 422)
            #expect(try await api.pay(session.id, exp: "01/20").status == 422)
            #expect(try await api.pay(session.id, cvc: "1").status == 422)
            #expect(provider.calls.isEmpty)
        }
    }

    @Test("A paid session posted again is sent to success_url without a second charge")
    func secondPostChargesNothing() async throws {
        let provider = ScriptedProvider()
        try await Self.app(provider).run { api in
            let session = try await api.checkoutSession(["line_items": Self.cart])
            let form = try await api.page("/checkout/\(session.id)")
            let fields = [("csrf", form.csrf ?? ""), ("payment_method", "new"), ("name", "Tal Levi"), ("number", "4242424242424242"),
                          ("exp", "12/30"), ("cvc", "123")]
            let first = try await api.submit("/checkout/\(session.id)", fields)
            let second = try await api.submit("/checkout/\(session.id)", fields)
            #expect(first.status == 303 && second.status == 303)
            #expect(second.location == first.location)
            #expect(provider.charges == [.charge(token: "scr_tok_1", amount: 4500)])
        }
    }

    @Test("A provider decline is shown, and the customer's retry charges again and succeeds")
    func declineThenRetry() async throws {
        let provider = ScriptedProvider()
        provider.script(.declined(.insufficientFunds))
        try await Self.app(provider).run { api in
            let session = try await api.checkoutSession(["line_items": Self.cart], locale: "en")
            let declined = try await api.pay(session.id)
            #expect(declined.status == 402)
            #expect(declined.contains("insufficient funds"))
            #expect(try await api.pay(session.id).status == 303)
            #expect(provider.charges.count == 2)
            let statuses = (try await api.get("/charges").data.arrayValue ?? []).compactMap { $0["status"]?.stringValue }
            #expect(statuses == ["succeeded", "failed"])
        }
    }
}
