import ChingDomain
import ChingProviders
import ChingStore
import SQLKit

/// Refunds as the API returns them.
package enum Refunds {
    package static func load(_ id: String, caller: Caller, on db: any SQLDatabase) async throws -> JSONValue? {
        try await db.scopedRow("refunds", id: id, caller: caller).map(json)
    }

    package static func json(_ row: any SQLRow) throws -> JSONValue {
        .object([
            "id": .string(try row.string("id")),
            "object": "refund",
            "charge": .string(try row.string("charge_id")),
            "amount": .int(try row.int("amount")),
            "currency": .string(try row.string("currency")),
            "reason": .optional(try row.optionalString("reason")),
            "status": .string(try row.string("status")),
            "document": .optional(try row.optionalString("document_id")),
            "metadata": try row.metadata(),
            "livemode": .bool(try row.bool("livemode")),
            "created": .string(try row.timestamp("created").iso8601),
        ])
    }

    /// Refunds part or all of a captured charge (reserve, ask the provider, then the credit note and `refund.created`; see `RefundsAPI.create`).
    package static func create(chargeID: String, amount: Int64, reason: String?, metadata: [String: String], caller: Caller,
                               services: AppServices) async throws -> JSONValue {
        let id = services.ids.make(.refund)

        let reference = try await services.database.transaction { db in
            guard let charge = try await Charges.row(chargeID, caller: caller, on: db) else { throw ServiceError.notFound("charge", chargeID) }
            let reserved = try await db.raw("""
                UPDATE charges SET refunded_amount = refunded_amount + \(bind: amount)
                WHERE id = \(bind: chargeID) AND status = 'succeeded' AND amount_captured - refunded_amount >= \(bind: amount)
                RETURNING refunded_amount
                """).first()
            guard reserved != nil else {
                let remaining = try charge.string("status") == "succeeded" ? (try charge.int("amount_captured") - charge.int("refunded_amount")) : 0
                throw ServiceError.rule("refund_amount_too_large", "At most \(remaining) agorot of this charge can be refunded.")
            }
            try await db.raw("""
                INSERT INTO refunds (id, project_id, livemode, charge_id, amount, currency, reason, status, metadata, created)
                VALUES (\(bind: id), \(bind: caller.projectID), \(bind: caller.mode), \(bind: chargeID), \(bind: amount), 'ils',
                  \(bind: reason), 'pending', \(bind: metadata.storedJSON), \(bind: services.clock.now().milliseconds))
                """).run()
            return try charge.optionalString("provider_reference") ?? ""
        }

        let result = await services.provider(for: caller).refund(reference: reference, amount: amount)
        let refund = try await services.database.transaction { db in
            guard case .approved(let refundReference) = result else {
                try await db.raw("UPDATE charges SET refunded_amount = refunded_amount - \(bind: amount) WHERE id = \(bind: chargeID)").run()
                try await db.raw("UPDATE refunds SET status = 'failed' WHERE id = \(bind: id)").run()
                return JSONValue.null
            }
            let charge = try await Charges.row(chargeID, caller: caller, on: db)!
            let originalNumber = try await db.raw("SELECT number FROM documents WHERE charge_id = \(bind: chargeID) AND type = 'tax_invoice_receipt'").first()
            let documentID = try await Documents.issue(
                .creditNote, amount: amount, chargeID: chargeID, refundID: id, customerID: try charge.string("customer_id"),
                lines: [DocumentLine(description: "Refund of charge \(chargeID)", quantity: 1, unitAmount: amount)], payment: nil,
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
        return refund
    }
}
