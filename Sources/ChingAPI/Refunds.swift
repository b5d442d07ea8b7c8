import ChingDomain
import ChingHTTP
import ChingProviders
import ChingServices
import ChingStore
import HTTPTypes
import Hummingbird
import SQLKit

/// `/refunds`: money given back on a succeeded charge, never more than was captured.
struct RefundsAPI: Sendable {
    let services: AppServices

    enum Reason: String, CaseIterable { case requestedByCustomer = "requested_by_customer", duplicate, fraudulent }

    func addRoutes(to group: RouterGroup<AppRequestContext>, endpoint: EndpointWrapper) {
        group.post("refunds", use: endpoint(create))
        group.get("refunds", use: endpoint(list))
        group.get("refunds/:id", use: endpoint(retrieve))
    }

    /// POST /refunds
    ///
    /// 1. One conditional UPDATE reserves the amount on the charge (it only matches while
    ///    `amount_captured - refunded_amount` covers it), so concurrent refunds can never exceed
    ///    the charge; the refund row is written `pending` in the same transaction.
    /// 2. The provider is asked outside any transaction.
    /// 3. Success marks the refund `succeeded` with its credit note, event and email; failure
    ///    gives the reserved amount back.
    @Sendable func create(_ call: APICall) async throws -> APIResponse {
        var reader = call.reader(allowing: ["charge", "amount", "reason", "metadata"])
        let chargeID = reader.id("charge", required: true, prefix: .charge)
        let amount = reader.integer("amount", required: true, in: 1...Money.maximumAmount)
        let reason: Reason? = reader.choice("reason")
        let metadata = reader.metadata() ?? [:]
        try reader.throwIfInvalid()
        let caller = call.caller
        let id = services.ids.make(.refund)

        let reference = try await services.database.transaction { db in
            guard let charge = try await Charges.row(chargeID!, caller: caller, on: db) else { throw ServiceError.notFound("charge", chargeID!) }
            let reserved = try await db.raw("""
                UPDATE charges SET refunded_amount = refunded_amount + \(bind: amount!)
                WHERE id = \(bind: chargeID!) AND status = 'succeeded' AND amount_captured - refunded_amount >= \(bind: amount!)
                RETURNING refunded_amount
                """).first()
            guard reserved != nil else {
                let remaining = try charge.string("status") == "succeeded" ? (try charge.int("amount_captured") - charge.int("refunded_amount")) : 0
                throw ServiceError.rule("refund_amount_too_large", "At most \(remaining) agorot of this charge can be refunded.")
            }
            try await db.raw("""
                INSERT INTO refunds (id, project_id, livemode, charge_id, amount, currency, reason, status, metadata, created)
                VALUES (\(bind: id), \(bind: caller.projectID), \(bind: caller.mode), \(bind: chargeID!), \(bind: amount!), 'ils',
                  \(bind: reason?.rawValue), 'pending', \(bind: metadata.storedJSON), \(bind: services.clock.now().milliseconds))
                """).run()
            return try charge.optionalString("provider_reference") ?? ""
        }

        let result = await services.provider(for: caller).refund(reference: reference, amount: amount!)
        let refund = try await services.database.transaction { db in
            guard case .approved(let refundReference) = result else {
                try await db.raw("UPDATE charges SET refunded_amount = refunded_amount - \(bind: amount!) WHERE id = \(bind: chargeID!)").run()
                try await db.raw("UPDATE refunds SET status = 'failed' WHERE id = \(bind: id)").run()
                return JSONValue.null
            }
            let charge = try await Charges.row(chargeID!, caller: caller, on: db)!
            let originalNumber = try await db.raw("SELECT number FROM documents WHERE charge_id = \(bind: chargeID!) AND type = 'tax_invoice_receipt'").first()
            let documentID = try await Documents.issue(
                .creditNote, amount: amount!, chargeID: chargeID!, refundID: id, customerID: try charge.string("customer_id"),
                lines: [DocumentLine(description: "Refund of charge \(chargeID!)", quantity: 1, unitAmount: amount!)], payment: nil,
                reference: try originalNumber.map { "Credits document \(try $0.int("number"))" },
                caller: caller, on: db, services: services)
            try await db.raw("""
                UPDATE refunds SET status = 'succeeded', provider_reference = \(bind: refundReference), document_id = \(bind: documentID) WHERE id = \(bind: id)
                """).run()
            let refund = try await Refunds.load(id, caller: caller, on: db)!
            try await Events.record("refund.created", data: refund, caller: caller, on: db, services: services)
            return refund
        }
        guard refund != .null else { throw ServiceError.rule("provider_error", "The provider did not accept the refund; nothing was refunded.", kind: .upstream) }
        return APIResponse(refund)
    }

    /// GET /refunds/:id
    @Sendable func retrieve(_ call: APICall) async throws -> APIResponse {
        let refund = try await services.database.read { db in try await Refunds.load(call.id, caller: call.caller, on: db) }
        guard let refund else { throw ServiceError.notFound("refund", call.id) }
        return APIResponse(refund)
    }

    /// GET /refunds; rows add `customer_name`.
    @Sendable func list(_ call: APICall) async throws -> APIResponse {
        try await services.database.read { db in
            let page = try await ListPage.read(call, table: "refunds", on: db)
            let rows = try await page.rows(
                "*, (SELECT c.name FROM charges ch JOIN customers c ON c.id = ch.customer_id WHERE ch.id = refunds.charge_id) AS customer_name", on: db)
            return page.response(try rows.map { try withCustomerName($0, Refunds.json) })
        }
    }

}
