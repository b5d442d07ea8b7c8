import ChingDomain
import ChingProviders
import ChingStore

/// Saving a card on a setup session's page: the same checks, 3-D Secure, lock and single-attempt
/// rules as paying a checkout (`SessionAttempts`, `CheckoutPayment.check`), ending in a new
/// payment method instead of a charge.
package struct SetupCardSaving: Sendable {
    package let services: AppServices
    package init(services: AppServices) { self.services = services }
    package var attempts: SessionAttempts { SessionAttempts(services: services, table: .setup) }
    package typealias Outcome = HostedOutcome<SetupSession>

    package func save(sessionID: String, form: CheckoutPayment.CardForm) async throws -> Outcome {
        let now = services.clock.now()
        let session = try await load(sessionID)
        if let refusal = Outcome.refusal(session, now: now) { return refusal }
        if try await services.hostedPageProvider(for: session.caller) != nil {
            throw ServiceError.rule("card_form_unavailable", "In live mode the card is taken on Grow's page: send the customer to the session's url.")
        }
        let requireID = try await services.database.read { db in
            try await services.paymentSettings(projectID: session.caller.projectID, on: db).requireIsraeliID
        }
        let errors = CheckoutPayment.check(form, limits: .init(maxInstallments: 1, requireIsraeliID: requireID), today: now.date)
        guard errors.isEmpty else { return .invalid(errors) }
        guard let lease = try await attempts.claim(sessionID, now: now) else { return Outcome.refusal(try await load(sessionID), now: now) ?? .busy }
        do {
            let input = CardInput(number: form.number, expMonth: form.expMonth ?? 0, expYear: form.expYear ?? 0, cvc: form.cvc, holderName: form.holderName)
            switch await services.cardForm(for: session.caller).saveCard(input) {
            case .failure(let decline):
                try await services.database.transaction { db in try await attempts.recordFailure(sessionID, lease: lease, now: now, on: db) }
                return .declined(decline)
            case .success(let card):
                if services.cardForm(for: session.caller).requiresAuthentication(card) {
                    return .requiresAuthentication(attemptID: try await attempts.startAuthentication(sessionID, card: card, installments: 1, lease: lease))
                }
                return try await finish(session, card: card, lease: lease)
            }
        } catch {
            try? await attempts.release(sessionID, lease: lease)
            throw error
        }
    }

    package func authenticate(sessionID: String, attemptID: String, passed: Bool) async throws -> Outcome {
        let now = services.clock.now()
        let session = try await load(sessionID)
        if let refusal = Outcome.refusal(session, now: now) { return refusal }
        guard let (card, _) = try await attempts.answerAuthentication(sessionID, attemptID: attemptID, passed: passed) else {
            throw ServiceError.notFound("authentication", attemptID)
        }
        guard passed else {
            try await services.database.transaction { db in try await attempts.recordFailure(sessionID, lease: nil, now: now, on: db) }
            return .declined(.authenticationFailed)
        }
        guard let lease = try await attempts.claim(sessionID, now: now) else { return Outcome.refusal(try await load(sessionID), now: now) ?? .busy }
        do {
            return try await finish(session, card: card, lease: lease)
        } catch {
            try? await attempts.release(sessionID, lease: lease)
            throw error
        }
    }

    /// The card becomes the customer's (`payment_method.attached`) and the session succeeds (`setup_session.succeeded`), together.
    package func finish(_ session: SetupSession, card: ProviderCard, provider: String = "sandbox", lease: HostedSessionRows.Lease) async throws -> Outcome {
        let now = services.clock.now()
        let done: SetupSession
        do {
            done = try await services.database.transaction { db in
                let paymentMethod = try await PaymentMethods.attach(card, provider: provider, customerID: session.customerID, metadata: [:], caller: session.caller,
                                                                      on: db, services: services)
                let moved = try await db.hostedSessions(.setup).apply(.complete, to: session.id, at: now, by: lease,
                                                                      results: .init(paymentMethodID: paymentMethod["id"]?.stringValue))
                // Another attempt owns the session now (this server was judged dead): nothing is recorded.
                guard moved else { throw CheckoutPayment.LeaseLost() }
                let done = try await db.setupSessions.find(session.id)!
                try await Events.record("setup_session.succeeded", data: try SetupSessions.json(done, services: services),
                                        caller: session.caller, on: db, services: services)
                return done
            }
        } catch is CheckoutPayment.LeaseLost {
            return Outcome.refusal(try await load(session.id), now: now) ?? .busy
        }
        return .succeeded(done)
    }

    private func load(_ id: String) async throws -> SetupSession {
        guard let session = try await services.database.read({ db in try await db.setupSessions.find(id) }) else {
            throw ServiceError.notFound("setup_session", id)
        }
        return session
    }
}
