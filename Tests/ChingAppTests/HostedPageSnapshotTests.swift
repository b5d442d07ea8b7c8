import ChingApp
import ChingDomain
import Foundation
import SnapshotTesting
import Testing

/// Every state of the hosted pages, whole, in both languages: a template or wording change shows
/// as a diff of `__Snapshots__` in review. Ids and the clock are fixed, so the bytes are too.
/// To accept a change on purpose: `SNAPSHOT_TESTING_RECORD=all swift test --filter HostedPageSnapshotTests`.
@Suite("Hosted page snapshots")
struct HostedPageSnapshotTests {
    enum State: String, CaseIterable, Sendable {
        case pendingCart = "pending-cart", planWithTrial = "plan-with-trial", mixed, manualCapture = "manual-capture"
        case fieldErrors = "field-errors", declined, threeDSecure = "3d-secure", paid, expired, canceled, notFound = "not-found", setup
        case planChange = "plan-change"
        case portal, portalCancel = "portal-cancel", portalPastDue = "portal-past-due", portalEmpty = "portal-empty", portalExpired = "portal-expired"
    }

    static let cart: JSONValue = [["name": "Coffee beans", "amount_agorot": 4500, "quantity": 2],
                                  ["name": "Welcome discount", "amount_agorot": -1000]]

    @Test("Each hosted page state renders as recorded", arguments: State.allCases, Language.allCases)
    func page(state: State, language: Language) async throws {
        var app = TestApp()
        app.ids = .seeded("snapshot-\(state.rawValue)-\(language.rawValue)")
        let html = try await app.run { api in try await Self.html(of: state, language: language.rawValue, api: api) }
        withSnapshotTesting(record: ProcessInfo.processInfo.environment["SNAPSHOT_TESTING_RECORD"] == "all" ? .all : .missing) {
            assertSnapshot(of: html, as: .lines, named: "\(state.rawValue)-\(language.rawValue)")
        }
    }

    /// Drives a session into `state` as a customer and a merchant would, and returns the page shown.
    static func html(of state: State, language: String, api: API) async throws -> String {
        let query = "?locale=\(language)"
        func session(_ fields: JSONObject) async throws -> String {
            let result = try await api.checkoutSession(fields)
            #expect(result.status == 200, "\(result.text)")
            return result.id
        }
        func monthly(trialDays: Int64) async throws -> String {
            try await api.product("Pro plan", price: ["unit_amount": 4900, "type": "recurring",
                                                      "recurring": ["interval": "month", "trial_period_days": .int(trialDays)]])
        }
        switch state {
        case .pendingCart:
            return try await api.page("/checkout/\(try await session(["line_items": cart]))\(query)").html
        case .planWithTrial:
            return try await api.page("/checkout/\(try await session(["price": .string(try await monthly(trialDays: 14))]))\(query)").html
        case .mixed:
            let id = try await session(["price": .string(try await monthly(trialDays: 0)), "line_items": [["name": "Setup", "amount_agorot": 5000]]])
            return try await api.page("/checkout/\(id)\(query)").html
        case .manualCapture:
            return try await api.page("/checkout/\(try await session(["line_items": cart, "capture_method": "manual"]))\(query)").html
        case .fieldErrors:
            return try await api.pay(try await session(["line_items": cart]), number: "4242424242424241", cvc: "1", exp: "01/20", locale: language).html
        case .declined:
            return try await api.pay(try await session(["line_items": cart]), number: "4000000000000002", locale: language).html
        case .threeDSecure:
            let challenge = try await api.pay(try await session(["line_items": cart]), number: "4000002760003184", locale: language)
            return try await api.page(try #require(challenge.location)).html
        case .paid:
            let id = try await session(["line_items": cart])
            #expect(try await api.pay(id).status == 303)
            return try await api.page("/checkout/\(id)\(query)").html
        case .expired:
            let id = try await session(["line_items": cart])
            api.app.clock.advance(seconds: 31 * 60)
            return try await api.page("/checkout/\(id)\(query)").html
        case .canceled:
            let id = try await session(["line_items": cart])
            #expect(try await api.post("/checkout_sessions/\(id)/expire").status == 200)
            return try await api.page("/checkout/\(id)\(query)").html
        case .notFound:
            return try await api.page("/checkout/co_000000000000000000000000\(query)").html
        case .setup:
            return try await api.page("/setup/\(try await api.setupSession().id)\(query)").html
        case .planChange:
            let (_, customer, _) = try await api.subscribed()
            let pro = try await api.product("Pro", price: ["unit_amount": 9900, "type": "recurring", "recurring": ["interval": "month"]])
            api.app.clock.advance(seconds: 10 * 86_400)
            let id = try await api.checkoutSession(["price": .string(pro)], customer: customer).id
            return try await api.page("/checkout/\(id)\(query)").html
        case .portal:
            let (customer, _, _) = try await api.planCustomer()
            _ = try await api.testCard(customer: customer, index: 1)
            return try await api.page("\(try await api.portal(customer: customer).path)\(query)").html
        case .portalCancel:
            let (customer, subscription, _) = try await api.planCustomer()
            return try await api.page("\(try await api.portal(customer: customer).path)/subscriptions/\(subscription)/cancel\(query)").html
        case .portalPastDue:
            let (customer, _) = try await api.pastDueCustomer()
            return try await api.page("\(try await api.portal(customer: customer).path)\(query)").html
        case .portalEmpty:
            return try await api.page("\(try await api.portal(customer: try await api.customer()).path)\(query)&notice=card_not_added").html
        case .portalExpired:
            let (_, path) = try await api.portal(customer: try await api.customer())
            api.app.clock.advance(seconds: 30 * 60)
            return try await api.page("\(path)\(query)").html
        }
    }
}
