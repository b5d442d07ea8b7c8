import ChingDomain
import ChingProviders
import ChingStore
import Logging

/// Refunds as the API returns them.
package enum Refunds {
    package static func load(_ id: String, caller: Caller, on db: Store) async throws -> JSONValue? {
        try await db.refunds.find(id, caller: caller).map(json)
    }

    package static func json(_ refund: Refund) -> JSONValue {
        .object([
            "id": .string(refund.id),
            "object": "refund",
            "charge": .string(refund.chargeID),
            "amount": .int(refund.amount),
            "currency": .string(refund.currency),
            "reason": .optional(refund.reason),
            "status": .string(refund.status),
            "document": .optional(refund.documentID),
            "metadata": refund.metadata,
            "livemode": .bool(refund.caller.livemode),
            "created": .string(refund.created.iso8601),
        ])
    }

    /// Refunds part or all of a captured charge (reserve, ask the provider, then the credit note and `refund.created`; see `RefundsAPI.create`).
    package static func create(chargeID: String, amount: Int64, reason: String?, metadata: [String: String], caller: Caller,
                               services: AppServices) async throws -> JSONValue {
        let id = services.ids.make(.refund)

        let reference = try await services.database.transaction { db in
            guard let charge = try await db.charges.find(chargeID, caller: caller) else { throw ServiceError.notFound("charge", chargeID) }
            guard try await db.charges.reserveRefund(chargeID, amount: amount) else {
                let remaining = charge.status == "succeeded" ? charge.amountCaptured - charge.refundedAmount : 0
                throw ServiceError.rule("refund_amount_too_large", "At most \(remaining) agorot of this charge can be refunded.")
            }
            try await db.refunds.insertPending(id: id, caller: caller, chargeID: chargeID, amount: amount, reason: reason,
                                               metadata: .strings(metadata), created: services.clock.now())
            return charge.providerReference ?? ""
        }

        let result = await (try services.provider(for: caller)).refund(reference: reference, amount: amount)
        if result == .unknown {
            // Grow cannot be asked about a refund by our id, and asking again could refund twice: the refund
            // stays `pending`, its amount reserved, for the reconciler (which can tell only a refund that
            // empties the charge) or for someone who checks Grow's back office.
            services.logger.critical("A refund's outcome is unknown; it stays pending until it is known",
                                     metadata: ["refund": "\(id)", "charge": "\(chargeID)"])
            return try await services.database.read { db in try await Refunds.load(id, caller: caller, on: db)! }
        }
        switch try await finish(id, chargeID: chargeID, amount: amount, result: result, caller: caller, services: services) {
        case .succeeded(let refund):
            return refund
        case .notPending:
            // The reconciler recorded its outcome first: the refund as it now is.
            return try await services.database.read { db in try await Refunds.load(id, caller: caller, on: db)! }
        case .failed:
            if case .declined(let decline) = result, decline.code != "processing_error" { throw ServiceError.rule(decline.code, decline.message) }
            throw ServiceError.rule("provider_error", "The provider did not accept the refund; nothing was refunded.", kind: .upstream)
        }
    }

    package enum Finished: Sendable, Equatable {
        case succeeded(JSONValue)
        /// Failed, its amount given back to the charge.
        case failed
        /// Its outcome was recorded already (by the request or the reconciler, whichever came second).
        case notPending
    }

    /// Records a pending refund's outcome: approved, its credit note and `refund.created`; otherwise
    /// failed, with its amount given back to the charge. Only once.
    package static func finish(_ id: String, chargeID: String, amount: Int64, result: ProviderResult, caller: Caller,
                               services: AppServices) async throws -> Finished {
        do {
            return try await finishing(id, chargeID: chargeID, amount: amount, result: result, caller: caller, services: services)
        } catch is NotPending {
            return .notPending
        }
    }

    private static func finishing(_ id: String, chargeID: String, amount: Int64, result: ProviderResult, caller: Caller,
                                  services: AppServices) async throws -> Finished {
        try await services.database.transaction { db in
            guard case .approved(let refundReference) = result else {
                guard try await db.refunds.markFailed(id) else { return .notPending }
                try await db.charges.releaseRefund(chargeID, amount: amount)
                return .failed
            }
            let charge = try await db.charges.find(chargeID, caller: caller)!
            let original = try await db.documents.receipt(ofCharge: chargeID)
            let documentID = try await Documents.issue(
                .creditNote, amount: amount, chargeID: chargeID, refundID: id, customerID: charge.customerID,
                lines: [DocumentLine(description: "Refund of charge \(chargeID)", quantity: 1, unitAmount: amount)], payment: nil,
                reference: original.map { "Credits document \($0.number)" },
                caller: caller, on: db, services: services)
            // Resolved meanwhile (the reconciler): the rollback takes the credit note back.
            guard try await db.refunds.markSucceeded(id, providerReference: refundReference, documentID: documentID) else { throw NotPending() }
            let refund = try await Refunds.load(id, caller: caller, on: db)!
            try await Events.record("refund.created", data: refund, caller: caller, on: db, services: services)
            return .succeeded(refund)
        }
    }

    private struct NotPending: Error {}
}
