import ChingDomain
import ChingProviders
import ChingStore
import Logging

/// Hosted sessions paid on the live provider's page (Grow): opening the payment there, and
/// recording what Grow says became of it.
///
/// Three things may report a payment: Grow's callback, the customer's return to our success URL,
/// and the reconciler. None is trusted by itself: each only leads to `settle`, which asks Grow
/// (`outcome(of:)`) and checks the answer against what we opened (our session id, the amount,
/// authorization or charge). Recording goes through the session's attempt lease and its
/// `pending → succeeded` change, so whichever comes first records the one charge and the others
/// find the session done.
package struct LivePayments: Sendable {
    package let services: AppServices
    package init(services: AppServices) { self.services = services }

    package enum Kind: String, Sendable { case checkout, setup }

    /// How long Grow's page lives (GROW.md section 2.1): an open process younger than this is reused.
    package static let processLifetimeSeconds: Int64 = 10 * 60

    /// The payer's details Grow requires on its page: a full name of two words and an Israeli mobile number.
    package struct Payer: Sendable, Equatable {
        package var name: String
        package var phone: String
        package var email: String?

        package init(name: String, phone: String, email: String?) { self.name = name; self.phone = phone; self.email = email }

        /// `05XXXXXXXX`, from what a person types (`050-123 4567`, `+972 50 123 4567`); nil when it is not an Israeli mobile.
        package static func mobile(_ typed: String) -> String? {
            var digits = typed.filter(\.isASCIIDigit)
            if digits.hasPrefix("972") { digits = "0" + digits.dropFirst(3) }
            return digits.count == 10 && digits.hasPrefix("05") ? digits : nil
        }

        package static func isFullName(_ name: String) -> Bool {
            name.split(whereSeparator: \.isWhitespace).count >= 2 && name.count <= 60
        }

        /// Field errors keyed by form field (`payer_name`, `payer_phone`), empty when Grow will take them.
        package var problems: [String: CheckoutPayment.FieldError] {
            var errors: [String: CheckoutPayment.FieldError] = [:]
            if !Self.isFullName(name) { errors["payer_name"] = .payerNameInvalid }
            if Self.mobile(phone) == nil { errors["payer_phone"] = .payerPhoneInvalid }
            return errors
        }
    }

    package enum Start: Sendable {
        /// Send the customer here (Grow's page).
        case redirect(String)
        case invalid([String: CheckoutPayment.FieldError])
        /// The session cannot be paid (it ended or is locked).
        case refused
    }

    // MARK: - Opening the payment

    /// Opens (or reuses) a payment on Grow's page for a pending session.
    package func start(_ kind: Kind, sessionID: String, installments: Int64, payer: Payer) async throws -> Start {
        let errors = payer.problems
        guard errors.isEmpty else { return .invalid(errors) }
        let now = services.clock.now()
        let id = "gpr_" + services.ids.hex(byteCount: 16)
        enum Opening: Sendable { case open(Caller, HostedPaymentRequest), notPayable, badInstallments }
        let opening = try await services.database.read { db -> Opening in
            switch kind {
            case .checkout:
                guard let session = try await db.checkoutSessions.find(sessionID), session.status(at: now) == .pending,
                      (session.lockedUntil ?? now) <= now else { return .notPayable }
                let offer = try await CheckoutOffer.load(for: session, now: now, on: db)
                let limits = CheckoutPayment.limits(for: offer, settings: try await services.paymentSettings(projectID: session.caller.projectID, on: db))
                guard (1...limits.maxInstallments).contains(installments) else { return .badInstallments }
                let lines = offer.chargeLines(session)
                let description = offer.product?.name ?? (lines.count == 1 ? lines[0].name : "Order")
                return .open(session.caller, request(id, kind: kind, sessionID: session.id, amount: offer.totals.dueToday, description: description,
                                                     installments: Int(installments), authorizeOnly: session.manualCapture, saveCard: offer.plan != nil,
                                                     payer: payer))
            case .setup:
                guard let session = try await db.setupSessions.find(sessionID), session.status(at: now) == .pending,
                      (session.lockedUntil ?? now) <= now else { return .notPayable }
                return .open(session.caller, request(id, kind: kind, sessionID: session.id, amount: 0, description: "Saving a card", installments: 1,
                                                     authorizeOnly: false, saveCard: true, payer: payer))
            }
        }
        let caller: Caller, paymentRequest: HostedPaymentRequest
        switch opening {
        case .open(let opened, let request): (caller, paymentRequest) = (opened, request)
        case .notPayable: return .refused
        case .badInstallments: return .invalid(["installments": .installmentsInvalid])
        }
        guard let provider = try await services.hostedPageProvider(for: caller) else { throw ServiceError.providerUnavailable }

        // A page opened for the same payment a moment ago is sent again: two tabs never get two pages to pay.
        let open = try await services.database.read { db in try await db.providerState.processes(ofSession: sessionID) }.first {
            $0.status == "open" && $0.amount == paymentRequest.amount && $0.installments == Int64(paymentRequest.installments)
                && now.milliseconds - $0.created.milliseconds < (Self.processLifetimeSeconds - 60) * 1000
        }
        if let open { return .redirect(open.url) }

        switch await provider.startPayment(paymentRequest) {
        case .started(let process):
            try await services.database.transaction { db in
                try await db.providerState.insert(ProviderProcess(
                    id: id, caller: caller, sessionKind: kind.rawValue, sessionID: sessionID, processID: process.id, processToken: process.token,
                    url: process.url, amount: paymentRequest.amount, installments: Int64(paymentRequest.installments), recurring: process.recurring,
                    created: now))
            }
            return .redirect(process.url)
        case .refused(717, _):
            return .invalid(["payer_name": .payerNameInvalid, "payer_phone": .payerPhoneInvalid])
        // Grow's page does not allow that many payments (or a credit deal's minimum).
        case .refused(let code, _) where [734, 735, 736, 739, 740].contains(code):
            return .invalid(["installments": .installmentsUnavailable])
        case .refused(let code, _):
            services.logger.error("Grow refused to open a payment page", metadata: ["session": "\(sessionID)", "err": "\(code)"])
            throw ServiceError.rule("provider_error", "Grow refused to open its payment page (error \(code)).", kind: .upstream)
        case .unknown:
            throw ServiceError.rule("provider_error", "Grow did not answer; try again.", kind: .upstream)
        }
    }

    /// What Grow is asked to open for process `id` of a session: the payment, the payer, and the URLs back to us.
    private func request(_ id: String, kind: Kind, sessionID: String, amount: Int64, description: String, installments: Int, authorizeOnly: Bool,
                         saveCard: Bool, payer: Payer) -> HostedPaymentRequest {
        HostedPaymentRequest(reference: sessionID, amount: amount, description: description, installments: installments, authorizeOnly: authorizeOnly,
                             saveCard: saveCard, recurring: saveCard, customerName: payer.name, customerEmail: payer.email,
                             customerPhone: Payer.mobile(payer.phone) ?? payer.phone,
                             // Grow appends `&response=success&cField1=…` to the success URL, so it carries a query already.
                             successURL: "\(services.publicURL)/\(kind.rawValue)/\(sessionID)/return?process=\(id)",
                             cancelURL: "\(services.publicURL)/\(kind.rawValue)/\(sessionID)?canceled=1",
                             notifyURL: "\(services.publicURL)/grow/notify/\(id)")
    }

    // MARK: - Recording it

    package enum Settled: Sendable, Equatable {
        /// The payment is recorded (now or before): the session succeeded.
        case recorded
        /// Grow says nothing was paid (yet).
        case notPaid
        /// Grow could not be asked, or another server is recording it: ask again later.
        case unknown
        /// What was reported does not hold (no such process, a token that does not match, an answer
        /// that disagrees with what we opened): nothing was recorded.
        case refused(String)
    }

    /// Grow's callback for our process `id`: the process id and token it names must be the ones
    /// Grow gave us (the token never reached a browser), then Grow is asked.
    package func callback(_ id: String, body: String, contentType: String) async throws -> Settled {
        guard let process = try await services.database.read({ db in try await db.providerState.process(id) }) else {
            services.logger.warning("A Grow callback for an unknown process was refused", metadata: ["process": "\(id)"])
            return .refused("unknown process")
        }
        guard let provider = try await services.hostedPageProvider(for: process.caller) else { return .unknown }
        guard let named = provider.callbackProcess(body: body, contentType: contentType), named.id == process.processID,
              constantTimeEqual(named.token, process.processToken)
        else {
            services.logger.error("A Grow callback that does not match its process was refused", metadata: ["process": "\(id)"])
            return .refused("process does not match")
        }
        if process.status == "paid" {
            services.logger.info("A Grow callback for a payment already recorded was answered again", metadata: ["process": "\(id)"])
            // Grow sends the callback again while it has no acknowledgement (a lost approveTransaction): acknowledge again.
            if process.sessionKind == Kind.checkout.rawValue, process.amount > 0, case .paid(let payment) = await provider.outcome(of: process.hosted),
               !payment.authorizedOnly {
                await provider.acknowledge(payment, of: process.hosted)
            }
            return .recorded
        }
        return try await settle(process, asking: provider)
    }

    /// The customer came back from Grow's page (`successUrl`): nothing is believed; Grow is asked.
    package func customerReturned(sessionID: String, processID: String) async throws -> Settled {
        guard let process = try await services.database.read({ db in try await db.providerState.process(processID) }),
              process.sessionID == sessionID else { return .refused("unknown process") }
        return try await settle(process)
    }

    /// Asks Grow what became of `process` and records it once.
    package func settle(_ process: ProviderProcess) async throws -> Settled {
        if process.status == "paid" { return .recorded }
        guard let provider = try await services.hostedPageProvider(for: process.caller) else { return .unknown }
        return try await settle(process, asking: provider)
    }

    private func settle(_ process: ProviderProcess, asking provider: any HostedPageProvider) async throws -> Settled {
        let hosted = process.hosted
        switch await provider.outcome(of: hosted) {
        case .pending: return .notPaid
        case .unknown: return .unknown
        case .gone:
            _ = try await services.database.transaction { db in try await db.providerState.close(process.id, as: "closed", transaction: nil) }
            return .notPaid
        case .paid(let payment):
            let kind = Kind(rawValue: process.sessionKind) ?? .checkout
            let manual = kind == .checkout ? try await services.database.read({ db in try await db.checkoutSessions.find(process.sessionID)?.manualCapture }) ?? false : false
            // A saved card (setup) is charged nothing; otherwise Grow's sum must be ours, and a hold only where we asked for one.
            // Grow echoes our session id back, or nothing (`customField: []`); the process was read by our own stored id and token.
            guard payment.requestReference.isEmpty || payment.requestReference == process.sessionID,
                  kind == .setup || process.amount == 0 ? payment.card != nil : (payment.amount == process.amount && payment.authorizedOnly == manual)
            else {
                services.logger.critical("Grow's record of a payment disagrees with what was opened; nothing was recorded",
                                         metadata: ["process": "\(process.id)", "session": "\(process.sessionID)"])
                return .refused("the payment does not match")
            }
            let outcome = try await record(payment, of: process, kind: kind)
            if outcome == .recorded {
                _ = try await services.database.transaction { db in try await db.providerState.close(process.id, as: "paid", transaction: payment.reference) }
                // Grow asks for an acknowledgement of every paid page payment, but not of a hold or a saved card (GROW.md 2.4).
                if kind == .checkout, !payment.authorizedOnly, process.amount > 0 { await provider.acknowledge(payment, of: hosted) }
            }
            return outcome
        }
    }

    /// Records a payment Grow confirmed, under the session's attempt lease; a payment for a session
    /// that another payment already completed (two tabs, two pages) is given back.
    private func record(_ payment: HostedPayment, of process: ProviderProcess, kind: Kind) async throws -> Settled {
        let now = services.clock.now()
        let attempts = SessionAttempts(services: services, table: kind == .checkout ? .checkout : .setup)
        guard let lease = try await attempts.claim(process.sessionID, now: now) else {
            return try await alreadyRecorded(payment, of: process, kind: kind)
        }
        let card = payment.card ?? ProviderCard(token: "", brand: payment.brand, last4: payment.last4, expMonth: 0, expYear: 0, issuerCountry: "",
                                                supportsInstallments: false, supportsRecurring: false)
        do {
            switch kind {
            case .checkout:
                guard let session = try await services.database.read({ db in try await db.checkoutSessions.find(process.sessionID) }) else {
                    try? await attempts.release(process.sessionID, lease: lease)
                    return .refused("no session")
                }
                // The offer as it was when the page was opened: what Grow charged (a plan switch's proration moves with time).
                let offer = try await services.database.read { db in try await CheckoutOffer.load(for: session, now: process.created, on: db) }
                _ = try await CheckoutPayment(services: services).complete(
                    session: session, offer: offer, card: CheckoutPayment.PayingCard(card), installments: Int64(payment.installments),
                    result: process.amount > 0 ? .approved(reference: payment.reference) : nil, lease: lease, now: now, provider: "grow")
            case .setup:
                guard let session = try await services.database.read({ db in try await db.setupSessions.find(process.sessionID) }) else {
                    try? await attempts.release(process.sessionID, lease: lease)
                    return .refused("no session")
                }
                guard case .succeeded = try await SetupCardSaving(services: services).finish(session, card: card, provider: "grow", lease: lease) else {
                    return try await alreadyRecorded(payment, of: process, kind: kind)
                }
            }
            return .recorded
        } catch is CheckoutPayment.LeaseLost {
            return try await alreadyRecorded(payment, of: process, kind: kind)
        } catch {
            try? await attempts.release(process.sessionID, lease: lease)
            throw error
        }
    }

    /// The session could not be taken: another server is recording (ask again later), or it ended.
    /// A paid process whose payment is not the session's recorded one is a second payment and is refunded.
    private func alreadyRecorded(_ payment: HostedPayment, of process: ProviderProcess, kind: Kind) async throws -> Settled {
        let (status, chargeReference) = try await services.database.read { db -> (HostedSessionStatus?, String?) in
            switch kind {
            case .checkout:
                guard let session = try await db.checkoutSessions.find(process.sessionID) else { return (nil, nil) }
                var reference: String?
                if let chargeID = session.chargeID { reference = try await db.charges.find(chargeID, caller: process.caller)?.providerReference }
                return (session.status(at: services.clock.now()), reference)
            case .setup:
                return (try await db.setupSessions.find(process.sessionID)?.status(at: services.clock.now()), nil)
            }
        }
        guard let status, status != .pending else { return .unknown }
        // A saved card charges nothing: a setup that succeeded (by this payment or another tab's) has nothing to give back.
        if status == .succeeded, kind == .setup || process.amount == 0 || chargeReference == payment.reference {
            _ = try await services.database.transaction { db in try await db.providerState.close(process.id, as: "paid", transaction: payment.reference) }
            return .recorded
        }
        // Paid on a second page, or after the session ended: the money goes back.
        let undone = process.amount == 0 ? true
            : await Charges.undo(.approved(reference: payment.reference), amount: payment.amount, authorizationOnly: payment.authorizedOnly,
                                 caller: process.caller, services: services)
        services.logger.log(level: undone ? .warning : .critical, "A Grow payment arrived for a session that was no longer payable",
                            metadata: ["process": "\(process.id)", "session": "\(process.sessionID)", "refunded": "\(undone)"])
        _ = try await services.database.transaction { db in try await db.providerState.close(process.id, as: "closed", transaction: payment.reference) }
        return .refused("session no longer payable")
    }

    // MARK: - The reconciler

    package struct Reconciled: Sendable, Equatable {
        package var processes = 0
        package var charges = 0
        package var refunds = 0
    }

    /// One open page whose callback never came: Grow is asked. A page long past its 10 minutes
    /// that Grow still calls unpaid will not be paid, and is let go. True when a payment was recorded.
    package func reconcile(_ process: ProviderProcess, now: Timestamp) async throws -> Bool {
        let settled = try await settle(process)
        if settled == .notPaid, now.milliseconds - process.created.milliseconds > 2 * Self.processLifetimeSeconds * 1000 {
            _ = try await services.database.transaction { db in try await db.providerState.close(process.id, as: "closed", transaction: nil) }
        }
        return settled == .recorded
    }

    /// Records what became of a `pending` token charge, once Grow knows. A charge Grow has no
    /// record of ten minutes on never reached it, and is recorded failed.
    package func resolvePending(_ charge: Charge, key: String, now: Timestamp) async throws -> Bool {
        guard let provider = try await services.hostedPageProvider(for: charge.caller) else { return false }
        let token = try await services.database.read { db in try await db.paymentMethods.find(charge.paymentMethodID ?? "", caller: charge.caller)?.token }
        var result: ProviderResult? = nil
        if let token { result = await provider.chargeOutcome(token: token, idempotencyKey: key) }
        if result == nil {
            guard now.milliseconds - charge.created.milliseconds > 10 * 60 * 1000 else { return false }
            result = .declined(Decline(code: "processing_error", message: "The charge did not reach Grow; nothing was charged."))
        }
        guard let result, result != .unknown else { return false }
        var new = Charges.NewCharge(customerID: charge.customerID, paymentMethodID: charge.paymentMethodID, amount: charge.amount,
                                    description: charge.description, installments: charge.installments,
                                    metadata: (charge.metadata.objectValue?.entries ?? []).reduce(into: [:]) { $0[$1.key] = $1.value.stringValue },
                                    card: Charges.ChargeableCard(token: token ?? "", brand: CardBrand(rawValue: charge.cardBrand) ?? .unknown,
                                                                 last4: charge.cardLast4, supportsInstallments: false))
        new.id = charge.id
        new.providerKey = key
        new.lineItems = charge.lineItems
        new.subscriptionID = charge.subscriptionID
        let resolved = new
        return try await services.database.transaction { db in
            guard try await db.providerState.takePending(charge.id) else { return false }
            _ = try await Charges.record(resolved, result: result, caller: charge.caller, on: db, services: services)
            // A subscription whose first charge was pending starts once it is paid (declined, it stays incomplete and expires).
            if case .approved = result, let subscriptionID = charge.subscriptionID,
               let before = try await Subscriptions.load(subscriptionID, caller: charge.caller, on: db),
               try await db.subscriptions.activateIncomplete(subscriptionID),
               let after = try await Subscriptions.load(subscriptionID, caller: charge.caller, on: db) {
                try await Events.record("subscription.updated", data: after, previousAttributes: JSONValue.changedAttributes(from: before, to: after),
                                        caller: charge.caller, on: db, services: services)
            }
            return true
        }
    }

    /// A refund whose answer was lost can be told from Grow's record only when it empties the
    /// charge: the transaction then reads refunded. Ten minutes on without that, it did not happen.
    /// A partial one stays pending (logged when it was made) for someone to check in Grow's back office.
    package func resolvePendingRefund(_ refund: Refund, now: Timestamp) async throws -> Bool {
        guard let provider = try await services.hostedPageProvider(for: refund.caller),
              let charge = try await services.database.read({ db in try await db.charges.find(refund.chargeID, caller: refund.caller) }),
              let reference = charge.providerReference, charge.refundedAmount == charge.amountCaptured
        else { return false }
        let pendingOfCharge = try await services.database.read { db in try await db.refunds.pendingCount(ofCharge: refund.chargeID) }
        let result: ProviderResult
        switch await provider.isFullyRefunded(reference: reference) {
        case true?: result = .approved(reference: "")
        // Still paid: none of the pending refunds happened, which tells about this one only when it is the only one.
        case false? where now.milliseconds - refund.created.milliseconds > 10 * 60 * 1000 && pendingOfCharge == 1:
            result = .declined(Decline(code: "processing_error", message: "The refund did not reach Grow."))
        default: return false
        }
        return try await Refunds.finish(refund.id, chargeID: refund.chargeID, amount: refund.amount, result: result, caller: refund.caller,
                                        services: services) != .notPending
    }
}

extension ProviderProcess {
    /// The process as the provider knows it.
    var hosted: HostedProcess { HostedProcess(id: processID, token: processToken, url: url, recurring: recurring) }
}
