import ChingDomain
import ChingProviders
import ChingStore

/// Renewals and dunning. At `current_period_end` a subscription's next period (computed from its
/// anchor) is charged; a decline makes it `past_due` and is retried 3, 7 and 14 days after the
/// first failure with the customer's current default card, then the subscription is canceled.
///
/// Exactly one charge per subscription and period: a renewal first takes a lease on the
/// subscription (`renewal_owner`, `renewal_started_at`), asks the provider with the idempotency key
/// `renewal:<subscription>:<period>:<attempt>`, and records the outcome only while its lease and
/// the period still hold. A renewal whose server died is taken over after `leaseSeconds`; its retry
/// carries the same key, so the provider answers the first transaction instead of charging again.
package enum Renewals {
    /// Days after the first failed renewal when it is tried again.
    package static let retryDays: [Int64] = [3, 7, 14]
    package static let leaseSeconds: Int64 = 5 * 60
    /// `subscription.trial_will_end` this long before the trial ends (at once for a shorter trial).
    package static let trialNoticeDays: Int64 = 3

    /// Renews (or retries) the subscription if it is still due and no other server holds it;
    /// true when an outcome was recorded.
    ///
    /// `customerCard`: the customer pays a `past_due` plan now with this card (the billing portal).
    /// That retry is their own: paid, the period starts as with any renewal; declined, only the
    /// failed charge is recorded, and the dunning schedule (its count, its next date, its emails)
    /// goes on as it was. Its idempotency key names the card, so it never replays another try.
    package static func renew(_ id: String, now: Timestamp, services: AppServices, customerCard: String? = nil) async throws -> Bool {
        // 1. The lease, taken only while the renewal is due.
        let owner = services.instanceID
        guard let subscription = try await services.database.transaction({ db in
            try await db.subscriptions.takeForRenewal(id, owner: owner, now: now, staleRenewal: Subscriptions.staleRenewal(now),
                                                      customerRetry: customerCard != nil)
        }), let periodEnd = subscription.currentPeriodEnd, let anchor = subscription.billingCycleAnchor else { return false }
        let caller = subscription.caller, customerID = subscription.customerID
        let period = subscription.periodsBilled, attempt = subscription.failedAttempts

        // 2. What is charged: the pending downgrade takes effect first; to the card the attempt uses.
        let pendingDue = subscription.pendingEffectiveAt.map { $0 <= periodEnd } ?? false
        let priceID = (pendingDue ? subscription.pendingPrice : nil) ?? subscription.priceID ?? ""
        let (plan, productName, card, createDocument) = try await services.database.read { db in
            guard let price = try await db.catalog.price(priceID, caller: caller), let plan = price.plan else {
                throw ServiceError.notFound("price", priceID)
            }
            let product = try await db.catalog.product(price.productID, caller: caller)
            let customerDefault = try await db.customers.find(customerID, caller: caller)?.defaultPaymentMethod
            let sale = try await db.checkoutSessions.find(subscription.checkoutSessionID ?? "")
            // The first try uses the subscription's card; retries the customer's current default (a card replaced meanwhile).
            let preferred = customerCard.map { [$0] } ?? (subscription.status == .pastDue
                ? [customerDefault, subscription.defaultPaymentMethod] : [subscription.defaultPaymentMethod, customerDefault])
            var card: (id: String, card: Charges.ChargeableCard)?
            for candidate in preferred.compactMap({ $0 }) where card == nil {
                card = try? await (candidate, Charges.chargeableCard(candidate, customerID: customerID, caller: caller, on: db))
            }
            return (plan, product?.name ?? "Subscription", card, sale?.createDocument ?? true)
        }
        let amount = try Subscriptions.periodAmount(plan)
        let key = "renewal:\(id):\(period):\(attempt)" + (customerCard.map { ":" + $0 } ?? "")
        let result: ProviderResult? = if amount == 0 { nil } else if let card {
            try await Charges.chargeRenewal(token: card.card.token, amount: amount, key: key, caller: caller, services: services)
        } else {
            .declined(Decline(code: "payment_method_missing", message: "The customer has no card to charge."))
        }
        // The provider may or may not have charged: nothing is recorded and the lease is kept. When it
        // goes stale the renewal is tried again under the same key, and the provider answers what the
        // first try did instead of charging twice.
        if result == .unknown { return false }

        // 3. The outcome, recorded only while this renewal still holds the subscription.
        let schedule = BillingSchedule(anchor: anchor, interval: plan.interval, intervalCount: plan.intervalCount)
        let lease = SubscriptionStore.RenewalLease(owner: owner, startedAt: now, period: period)
        return try await services.database.transaction { db in
            var charge: Charges.NewCharge?
            if let card, result != nil {
                let (from, to) = (String(schedule.periodStart(period).iso8601.prefix(10)), String(schedule.periodStart(period + 1).iso8601.prefix(10)))
                var new = Charges.NewCharge(customerID: customerID, paymentMethodID: card.id, amount: amount, description: productName,
                                            installments: 1, metadata: [:], card: card.card)
                new.id = services.ids.make(.charge)
                new.subscriptionID = id
                new.documentLines = [DocumentLine(description: "\(productName), \(from) – \(to)", quantity: 1, unitAmount: amount)]
                // A plan sold with create_document: false renews without documents too.
                new.createDocument = createDocument
                charge = new
            }
            let before = Subscriptions.json(subscription)
            let latestCharge = charge?.id ?? subscription.latestCharge
            // Once the subscription has moved: the charge (with its events), then the subscription as it now is.
            func chargeRecorded() async throws -> Subscription {
                if let charge, let result { _ = try await Charges.record(charge, result: result, caller: caller, on: db, services: services) }
                return try await db.subscriptions.find(id, caller: caller)!
            }
            func recordUpdated(_ after: Subscription) async throws {
                try await Events.record("subscription.updated", data: Subscriptions.json(after),
                                        previousAttributes: JSONValue.changedAttributes(from: before, to: Subscriptions.json(after)),
                                        caller: caller, on: db, services: services)
            }
            if case .declined = result, customerCard != nil {
                guard try await db.subscriptions.releaseRenewal(id, lease: lease, latestCharge: latestCharge) else { return false }
                try await recordUpdated(try await chargeRecorded())
                return true
            }
            if case .declined = result {
                let failures = attempt + 1
                let firstFailed = subscription.firstFailedAt ?? now
                let retryAt = failures <= retryDays.count ? firstFailed.adding(days: retryDays[Int(failures) - 1]) : nil
                guard try await db.subscriptions.renewalDeclined(id, lease: lease, failures: failures, firstFailedAt: firstFailed, retryAt: retryAt,
                                                                 now: now, latestCharge: latestCharge) else { return false }
                let after = try await chargeRecorded()
                if retryAt == nil {
                    try await Events.record("subscription.canceled", data: Subscriptions.json(after), caller: caller, on: db, services: services)
                    try await Outbox.queueCancellationNotice(after, on: db, services: services)
                } else {
                    if subscription.status != .pastDue {
                        try await Events.record("subscription.past_due", data: Subscriptions.json(after), caller: caller, on: db, services: services)
                    }
                    try await recordUpdated(after)
                }
                try await Outbox.queuePaymentFailedNotice(customerID: customerID, productName: productName, amount: amount, nextTry: retryAt,
                                                          caller: caller, on: db, services: services)
                return true
            }
            guard try await db.subscriptions.renewed(id, lease: lease, priceID: priceID, periodStart: schedule.periodStart(period),
                                                     periodEnd: schedule.periodStart(period + 1), latestCharge: latestCharge) else { return false }
            try await recordUpdated(try await chargeRecorded())
            return true
        }
    }

    /// `subscription.trial_will_end`, once per subscription, `trialNoticeDays` before the trial ends.
    package static func noticeTrialEnd(_ id: String, now: Timestamp, services: AppServices) async throws -> Bool {
        try await services.database.transaction { db in
            guard let caller = try await db.subscriptions.markTrialNoticeSent(id, endingBy: now.adding(days: trialNoticeDays)),
                  let subscription = try await db.subscriptions.find(id, caller: caller) else { return false }
            try await Events.record("subscription.trial_will_end", data: Subscriptions.json(subscription), caller: caller, on: db, services: services)
            let sold = try await db.catalog.priceAndProduct(subscription.priceID ?? "", caller: caller)
            try await Outbox.queueTrialEndingNotice(subscription, productName: sold?.product?.name ?? "", amount: try? sold?.price.plan?.periodAmount(),
                                                    on: db, services: services)
            return true
        }
    }
}
