import ChingDomain
import ChingProviders
import ChingStore
import SQLKit

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

    /// A renewal or a retry is due at `now`, and no renewal is in flight.
    static func isDue(at now: Timestamp) -> SQLQueryString {
        """
        ((status IN ('active', 'trialing') AND cancel_at_period_end = 0 AND current_period_end <= \(bind: now.milliseconds))
          OR (status = 'past_due' AND next_retry_at <= \(bind: now.milliseconds)))
        """ + Subscriptions.notRenewing(at: now)
    }

    /// Subscriptions with a renewal or a retry due at `now`, and no renewal in flight.
    package static func due(at now: Timestamp, scope: SQLQueryString, on db: any SQLDatabase) async throws -> [String] {
        try await db.raw("SELECT id FROM subscriptions WHERE " + isDue(at: now) + scope + " ORDER BY current_period_end, seq LIMIT 500").all()
            .map { try $0.string("id") }
    }

    /// Renews (or retries) the subscription if it is still due and no other server holds it;
    /// true when an outcome was recorded.
    package static func renew(_ id: String, now: Timestamp, services: AppServices) async throws -> Bool {
        // 1. The lease, taken only while the renewal is due.
        let owner = services.instanceID
        guard let row = try await services.database.transaction({ db in
            try await db.raw("""
                UPDATE subscriptions SET renewal_owner = \(bind: owner), renewal_started_at = \(bind: now.milliseconds) WHERE id = \(bind: id) AND
                """ + isDue(at: now) + " RETURNING *").first()
        }) else { return false }
        let caller = Caller(projectID: try row.string("project_id"), livemode: try row.bool("livemode"))
        let period = try row.int("periods_billed"), attempt = try row.int("failed_attempts")
        let status = try row.string("status"), customerID = try row.string("customer_id")

        // 2. What is charged: the pending downgrade takes effect first; to the card the attempt uses.
        let periodEnd = try row.timestamp("current_period_end")
        let pendingDue = try row.optionalTimestamp("pending_effective_at").map { $0 <= periodEnd } ?? false
        let pending = pendingDue ? try row.optionalString("pending_price") : nil
        let priceID = try pending ?? row.optionalString("price_id") ?? ""
        let (plan, productName, card, createDocument) = try await services.database.read { db in
            guard let price = try await Catalog.priceRow(priceID, caller: caller, on: db), let plan = try Catalog.plan(price) else {
                throw ServiceError.notFound("price", priceID)
            }
            let product = try await Catalog.productRow(try price.string("product_id"), caller: caller, on: db)
            let customer = try await Customers.row(customerID, caller: caller, on: db)
            let sale = try await db.raw("SELECT create_document FROM checkout_sessions WHERE id = \(bind: try row.optionalString("checkout_session_id") ?? "")").first()
            // The first try uses the subscription's card; retries the customer's current default (a card replaced meanwhile).
            let preferred = try status == "past_due"
                ? [customer?.optionalString("default_payment_method"), row.optionalString("default_payment_method")]
                : [row.optionalString("default_payment_method"), customer?.optionalString("default_payment_method")]
            var card: (id: String, card: Charges.ChargeableCard)?
            for candidate in preferred.compactMap({ $0 }) where card == nil {
                card = try? await (candidate, Charges.chargeableCard(candidate, customerID: customerID, caller: caller, on: db))
            }
            return (plan, try product?.string("name") ?? "Subscription", card, try sale?.bool("create_document") ?? true)
        }
        let amount = try Subscriptions.periodAmount(plan)
        let key = "renewal:\(id):\(period):\(attempt)"
        let result: ProviderResult? = if amount == 0 { nil } else if let card {
            await services.provider(for: caller).charge(token: card.card.token, amount: amount, installments: 1, capture: true, idempotencyKey: key)
        } else {
            .declined(Decline(code: "payment_method_missing", message: "The customer has no card to charge."))
        }

        // 3. The outcome, recorded only while this renewal still holds the subscription.
        let schedule = BillingSchedule(anchor: try row.timestamp("billing_cycle_anchor"), interval: plan.interval, intervalCount: plan.intervalCount)
        return try await services.database.transaction { db in
            let fence: SQLQueryString = " WHERE id = \(bind: id) AND renewal_owner = \(bind: owner) AND renewal_started_at = \(bind: now.milliseconds) AND periods_billed = \(bind: period)"
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
            let before = try Subscriptions.json(row)
            if case .declined = result {
                let failures = attempt + 1
                let firstFailed = try row.optionalTimestamp("first_failed_at") ?? now
                let retryAt = failures <= retryDays.count ? firstFailed.adding(days: retryDays[Int(failures) - 1]) : nil
                let moved = try await db.raw("""
                    UPDATE subscriptions SET status = \(bind: retryAt == nil ? "canceled" : "past_due"), failed_attempts = \(bind: failures),
                      first_failed_at = \(bind: firstFailed.milliseconds), next_retry_at = \(bind: retryAt?.milliseconds),
                      canceled_at = \(bind: retryAt == nil ? now.milliseconds : nil), latest_charge = \(bind: try charge?.id ?? row.optionalString("latest_charge")),
                      renewal_owner = NULL, renewal_started_at = NULL
                    """ + fence + " RETURNING id").first()
                guard moved != nil else { return false }
                if let charge, let result { _ = try await Charges.record(charge, result: result, caller: caller, on: db, services: services) }
                let after = try await Subscriptions.load(id, caller: caller, on: db)!
                if retryAt == nil {
                    try await Events.record("subscription.canceled", data: after, caller: caller, on: db, services: services)
                } else {
                    if status != "past_due" { try await Events.record("subscription.past_due", data: after, caller: caller, on: db, services: services) }
                    try await Events.record("subscription.updated", data: after, previousAttributes: JSONValue.changedAttributes(from: before, to: after),
                                            caller: caller, on: db, services: services)
                }
                try await Outbox.queuePaymentFailedNotice(customerID: customerID, productName: productName, amount: amount, nextTry: retryAt,
                                                          caller: caller, on: db, services: services)
                return true
            }
            let moved = try await db.raw("""
                UPDATE subscriptions SET status = 'active', price_id = \(bind: priceID), pending_price = NULL, pending_effective_at = NULL,
                  periods_billed = \(bind: period + 1), current_period_start = \(bind: schedule.periodStart(period).milliseconds),
                  current_period_end = \(bind: schedule.periodStart(period + 1).milliseconds), failed_attempts = 0, first_failed_at = NULL,
                  next_retry_at = NULL, latest_charge = \(bind: try charge?.id ?? row.optionalString("latest_charge")),
                  renewal_owner = NULL, renewal_started_at = NULL
                """ + fence + " RETURNING id").first()
            guard moved != nil else { return false }
            if let charge, let result { _ = try await Charges.record(charge, result: result, caller: caller, on: db, services: services) }
            let after = try await Subscriptions.load(id, caller: caller, on: db)!
            try await Events.record("subscription.updated", data: after, previousAttributes: JSONValue.changedAttributes(from: before, to: after),
                                    caller: caller, on: db, services: services)
            return true
        }
    }

    /// `subscription.trial_will_end`, once per subscription, `trialNoticeDays` before the trial ends.
    package static func noticeTrialEnd(_ id: String, now: Timestamp, services: AppServices) async throws -> Bool {
        try await services.database.transaction { db in
            guard let row = try await db.raw("""
                UPDATE subscriptions SET trial_will_end_sent = 1
                WHERE id = \(bind: id) AND status = 'trialing' AND trial_will_end_sent = 0
                  AND trial_end <= \(bind: now.adding(days: trialNoticeDays).milliseconds)
                RETURNING project_id, livemode
                """).first() else { return false }
            let caller = Caller(projectID: try row.string("project_id"), livemode: try row.bool("livemode"))
            try await Events.record("subscription.trial_will_end", data: try await Subscriptions.load(id, caller: caller, on: db)!,
                                    caller: caller, on: db, services: services)
            return true
        }
    }

    /// Trials ending within `trialNoticeDays` whose notice is not sent yet.
    package static func trialsEnding(at now: Timestamp, scope: SQLQueryString, on db: any SQLDatabase) async throws -> [String] {
        try await db.raw("""
            SELECT id FROM subscriptions WHERE status = 'trialing' AND trial_will_end_sent = 0
              AND trial_end <= \(bind: now.adding(days: trialNoticeDays).milliseconds)
            """ + scope + " ORDER BY seq LIMIT 500").all().map { try $0.string("id") }
    }
}
