import ChingDomain
import ChingHTTP
import ChingProviders
import ChingServices
import ChingStore
import HTTPTypes
import Hummingbird
import SQLKit

/// `/charges`: money taken from a saved card. A successful charge issues its tax document in the
/// same transaction that records it.
struct ChargesAPI: Sendable {
    let services: AppServices

    func addRoutes(to group: RouterGroup<AppRequestContext>, endpoint: EndpointWrapper) {
        group.post("charges", use: endpoint(create))
        group.get("charges", use: endpoint(list))
        group.get("charges/:id", use: endpoint(retrieve))
        group.post("charges/:id/capture", use: endpoint(capture))
        group.post("charges/:id/cancel", use: endpoint(cancel))
    }

    enum CancellationReason: String, CaseIterable { case requestedByCustomer = "requested_by_customer", fraudulent, abandoned }

    /// POST /charges/:id/capture: takes `amount` (default all) of an authorization; the rest is released.
    @Sendable func capture(_ call: APICall) async throws -> APIResponse {
        var reader = call.reader(allowing: ["amount"])
        let requested = reader.integer("amount", in: 1...Money.maximumAmount)
        try reader.throwIfInvalid()
        let caller = call.caller
        let now = services.clock.now()
        let (reference, amount) = try await services.database.read { db in
            guard let row = try await Charges.row(call.id, caller: caller, on: db) else { throw ServiceError.notFound("charge", call.id) }
            guard try row.string("status") == "requires_capture" else {
                throw ServiceError.rule("charge_not_capturable", "Only an authorized (requires_capture) charge can be captured; this one is \(try row.string("status")).")
            }
            if let until = try row.optionalTimestamp("capturable_until"), now >= until {
                throw ServiceError.rule("charge_authorization_expired", "The authorization expired at \(until.iso8601); it can no longer be captured.")
            }
            let authorized = try row.int("amount")
            let amount = requested ?? authorized
            guard amount <= authorized else {
                throw ServiceError.rule("capture_amount_too_large", "At most the authorized \(authorized) agorot can be captured.")
            }
            return (try row.optionalString("provider_reference") ?? "", amount)
        }
        guard case .approved = await services.provider(for: caller).capture(reference: reference, amount: amount) else {
            throw ServiceError.rule("provider_error", "The provider did not capture the authorization; try again.", kind: .upstream)
        }
        let charge = try await services.database.transaction { db in
            let claimed = try await db.raw("""
                UPDATE charges SET status = 'succeeded', captured = 1, amount_captured = \(bind: amount), captured_at = \(bind: now.milliseconds)
                WHERE id = \(bind: call.id) AND status = 'requires_capture' RETURNING line_items, description
                """).first()
            guard let claimed else { throw ServiceError.rule("charge_not_capturable", "The charge was captured or canceled meanwhile.") }
            let session = try await db.raw("SELECT create_document FROM checkout_sessions WHERE charge_id = \(bind: call.id)").first()
            if try session?.bool("create_document") ?? true {
                let items = try claimed.optionalJSON("line_items")
                let full = try await Charges.row(call.id, caller: caller, on: db)!
                let lines = try amount == full.int("amount") ? items.map(Documents.lines(fromLineItems:)) : nil
                try await Charges.issueReceipt(chargeID: call.id, amount: amount, caller: caller, on: db, services: services,
                    lines: lines ?? [DocumentLine(description: try claimed.optionalString("description") ?? "Captured payment", quantity: 1, unitAmount: amount)])
            }
            let charge = try await Charges.load(call.id, caller: caller, on: db)!
            try await Events.record("charge.captured", data: charge, caller: caller, on: db, services: services)
            return charge
        }
        return APIResponse(charge)
    }

    /// POST /charges/:id/cancel: releases an authorization.
    @Sendable func cancel(_ call: APICall) async throws -> APIResponse {
        var reader = call.reader(allowing: ["cancellation_reason"])
        let reason: CancellationReason = reader.choice("cancellation_reason") ?? .requestedByCustomer
        try reader.throwIfInvalid()
        let reference = try await services.database.read { db in
            guard let row = try await Charges.row(call.id, caller: call.caller, on: db) else { throw ServiceError.notFound("charge", call.id) }
            guard try row.string("status") == "requires_capture" else {
                throw ServiceError.rule("charge_not_cancelable", "Only an authorized (requires_capture) charge can be canceled; refund a captured one.")
            }
            return try row.optionalString("provider_reference") ?? ""
        }
        let charge = try await Charges.void(call.id, reference: reference, reason: reason.rawValue, caller: call.caller, services: services)
        guard let charge else { throw ServiceError.rule("charge_not_cancelable", "The charge was captured or canceled meanwhile.") }
        return APIResponse(charge)
    }

    /// POST /charges: create and confirm in one call.
    @Sendable func create(_ call: APICall) async throws -> APIResponse {
        var reader = call.reader(allowing: ["customer", "payment_method", "amount", "currency", "description", "installments", "metadata"])
        let customerID = reader.id("customer", required: true, prefix: .customer)
        let paymentMethodID = reader.id("payment_method", required: true, prefix: .paymentMethod)
        let amount = reader.integer("amount", required: true, in: 1...Money.maximumAmount)
        let _: Catalog.Currency? = reader.choice("currency")
        let description = reader.string("description", maxLength: 500)
        let metadata = reader.metadata() ?? [:]
        var installments: Int64 = 1
        if var nested = reader.nested("installments") {
            nested.rejectUnknownFields(allowing: ["count"])
            installments = nested.integer("count", in: 1...12) ?? 1
            reader.merge(nested)
        }
        try reader.throwIfInvalid()

        let caller = call.caller
        let (card, maxInstallments) = try await services.database.read { db in
            _ = try await Customers.requireActive(customerID!, caller: caller, on: db)
            let card = try await Charges.chargeableCard(paymentMethodID!, customerID: customerID!, caller: caller, on: db)
            return (card, try await services.paymentSettings(projectID: caller.projectID, on: db).maxInstallments)
        }
        if installments > maxInstallments {
            throw ServiceError.invalid("installments.count", "Must be between 1 and \(maxInstallments) for this project.")
        }
        if installments > 1, !card.supportsInstallments {
            throw ServiceError.invalid("installments.count", "This card does not offer installments (only cards issued in Israel do).")
        }

        let installmentCount = installments
        let result = await services.provider(for: caller).charge(token: card.token, amount: amount!, installments: Int(installmentCount), capture: true)
        let charge = try await services.database.transaction { db in
            try await Charges.record(
                Charges.NewCharge(customerID: customerID!, paymentMethodID: paymentMethodID!, amount: amount!, description: description,
                          installments: installmentCount, metadata: metadata, card: card),
                result: result, caller: caller, on: db, services: services)
        }
        if case .declined(let decline) = result {
            var error = ServiceError(.paymentFailed, "CHARGE_FAILED", decline.message)
            error.extra["charge"] = charge
            throw error
        }
        return APIResponse(charge)
    }

    /// GET /charges/:id
    @Sendable func retrieve(_ call: APICall) async throws -> APIResponse {
        let charge = try await services.database.read { db in try await Charges.load(call.id, caller: call.caller, on: db) }
        guard let charge else { throw ServiceError.notFound("charge", call.id) }
        return APIResponse(charge)
    }

    /// GET /charges (`?customer=`); rows add `customer_name`.
    @Sendable func list(_ call: APICall) async throws -> APIResponse {
        let customer: SQLQueryString = call.query["customer"].map { " AND customer_id = \(bind: $0)" } ?? ""
        return try await services.database.read { db in
            let page = try await ListPage.read(call, table: "charges", on: db)
            let rows = try await page.rows("*, (SELECT name FROM customers c WHERE c.id = charges.customer_id) AS customer_name",
                                           filter: customer, on: db)
            return page.response(try rows.map { try withCustomerName($0, Charges.json) })
        }
    }

}
