import ChingDomain
import SQLKit

/// A subscription as stored.
public struct Subscription: Sendable {
    public let id: String
    public let caller: Caller
    public let customerID: String
    public let status: SubscriptionStatus
    public let priceID: String?
    public let itemID: String?
    public let defaultPaymentMethod: String?
    public let billingCycleAnchor: Timestamp?
    /// Periods charged so far (period n is billed at the anchor plus n intervals).
    public let periodsBilled: Int64
    public let currentPeriodStart: Timestamp?
    public let currentPeriodEnd: Timestamp?
    public let trialEnd: Timestamp?
    public let cancelAtPeriodEnd: Bool
    public let canceledAt: Timestamp?
    public let latestCharge: String?
    public let pendingPrice: String?
    public let pendingEffectiveAt: Timestamp?
    public let checkoutSessionID: String?
    /// The renewal that holds the subscription while it charges.
    public let renewalOwner: String?
    public let renewalStartedAt: Timestamp?
    /// Failed renewals of the current period (dunning).
    public let failedAttempts: Int64
    public let firstFailedAt: Timestamp?
    public let nextRetryAt: Timestamp?
    public let trialWillEndSent: Bool
    public let metadata: JSONValue
    public let created: Timestamp
    /// The customer's name (read for lists only).
    public let customerName: String?

    init(_ row: any SQLRow) throws {
        id = try row.string("id")
        caller = try row.caller()
        customerID = try row.string("customer_id")
        status = SubscriptionStatus(rawValue: try row.string("status")) ?? .canceled
        priceID = try row.optionalString("price_id")
        itemID = try row.optionalString("item_id")
        defaultPaymentMethod = try row.optionalString("default_payment_method")
        billingCycleAnchor = try row.optionalTimestamp("billing_cycle_anchor")
        periodsBilled = try row.int("periods_billed")
        currentPeriodStart = try row.optionalTimestamp("current_period_start")
        currentPeriodEnd = try row.optionalTimestamp("current_period_end")
        trialEnd = try row.optionalTimestamp("trial_end")
        cancelAtPeriodEnd = try row.bool("cancel_at_period_end")
        canceledAt = try row.optionalTimestamp("canceled_at")
        latestCharge = try row.optionalString("latest_charge")
        pendingPrice = try row.optionalString("pending_price")
        pendingEffectiveAt = try row.optionalTimestamp("pending_effective_at")
        checkoutSessionID = try row.optionalString("checkout_session_id")
        renewalOwner = try row.optionalString("renewal_owner")
        renewalStartedAt = try row.optionalTimestamp("renewal_started_at")
        failedAttempts = try row.int("failed_attempts")
        firstFailedAt = try row.optionalTimestamp("first_failed_at")
        nextRetryAt = try row.optionalTimestamp("next_retry_at")
        trialWillEndSent = try row.bool("trial_will_end_sent")
        metadata = try row.metadata()
        created = try row.timestamp("created")
        customerName = try row.listedCustomerName()
    }
}

/// Which rows a background sweep looks at: one project's (tests on a shared database), and either
/// the customers on one test clock or every customer on the server's time.
public struct SweepScope: Sendable {
    public let projectID: String?
    public let testClockID: String?

    public init(projectID: String?, testClockID: String?) { self.projectID = projectID; self.testClockID = testClockID }

    /// The project, and whose clock the rows' customers live on.
    var customers: SQLQueryString {
        projectScope(projectID) + (testClockID.map { " AND customer_id IN (SELECT id FROM customers WHERE test_clock = \(bind: $0))" }
            ?? " AND customer_id NOT IN (SELECT id FROM customers WHERE test_clock IS NOT NULL)")
    }
}

/// The `subscriptions` table. Every change is conditional on the state it was decided on, so two
/// racing changes cannot both land; a change returns false when its condition no longer held.
/// A renewal holds the subscription while it charges (`renewal_owner`, `renewal_started_at`):
/// other changes wait for it unless it started before `staleRenewal` (its server died).
public struct SubscriptionStore: Sendable {
    let db: any SQLDatabase

    static func sqlList(_ statuses: [SubscriptionStatus]) -> SQLQueryString {
        SQLQueryString("(" + statuses.map { "'\($0.rawValue)'" }.joined(separator: ", ") + ")")
    }

    private static func notRenewing(staleRenewal: Timestamp) -> SQLQueryString {
        " AND (renewal_started_at IS NULL OR renewal_started_at <= \(bind: staleRenewal.milliseconds))"
    }

    /// A renewal or a retry is due at `now`, and no renewal is in flight.
    private static func renewalDue(at now: Timestamp, staleRenewal: Timestamp) -> SQLQueryString {
        """
        ((status IN ('active', 'trialing') AND cancel_at_period_end = 0 AND current_period_end <= \(bind: now.milliseconds))
          OR (status = 'past_due' AND next_retry_at <= \(bind: now.milliseconds)))
        """ + notRenewing(staleRenewal: staleRenewal)
    }

    private func ids(_ query: SQLQueryString) async throws -> [String] {
        try await db.raw(query).all().map { try $0.string("id") }
    }

    private func changed(_ query: SQLQueryString) async throws -> Bool {
        try await db.raw(query + " RETURNING id").first() != nil
    }

    // MARK: Reading

    public func find(_ id: String, caller: Caller) async throws -> Subscription? {
        try await db.scopedRow("subscriptions", id: id, caller: caller).map(Subscription.init)
    }

    /// A subscription by id alone (the sweeper's steps, which serve every project).
    public func find(_ id: String) async throws -> Subscription? {
        try await db.raw("SELECT * FROM subscriptions WHERE id = \(bind: id)").first().map(Subscription.init)
    }

    /// The customer's newest subscription with one of `statuses`.
    public func newest(ofCustomer customerID: String, statuses: [SubscriptionStatus], caller: Caller) async throws -> Subscription? {
        try await db.raw("""
            SELECT * FROM subscriptions WHERE customer_id = \(bind: customerID) AND project_id = \(bind: caller.projectID)
              AND livemode = \(bind: caller.mode) AND status IN
            """ + Self.sqlList(statuses) + " ORDER BY seq DESC LIMIT 1").first().map(Subscription.init)
    }

    /// The customer's subscriptions with one of `statuses`, oldest first.
    public func ofCustomer(_ customerID: String, statuses: [SubscriptionStatus]) async throws -> [Subscription] {
        try await db.raw("SELECT * FROM subscriptions WHERE customer_id = \(bind: customerID) AND status IN " + Self.sqlList(statuses) + " ORDER BY seq")
            .all().map(Subscription.init)
    }

    /// The subscriptions with one of `statuses` of the customers living on the test clock, oldest first.
    public func onClock(_ clockID: String, statuses: [SubscriptionStatus]) async throws -> [Subscription] {
        try await db.raw("""
            SELECT s.* FROM subscriptions s JOIN customers c ON c.id = s.customer_id WHERE c.test_clock = \(bind: clockID) AND s.status IN
            """ + Self.sqlList(statuses) + " ORDER BY s.seq").all().map(Subscription.init)
    }

    /// A page of the caller's subscriptions (with their customers' names), newest first.
    public func list(caller: Caller, _ request: PageRequest, customerID: String?, status: SubscriptionStatus?, priceID: String?) async throws -> Page<Subscription> {
        var filter: SQLQueryString = customerID.map { " AND customer_id = \(bind: $0)" } ?? ""
        if let status { filter = filter + " AND status = \(bind: status.rawValue)" }
        if let priceID { filter = filter + " AND price_id = \(bind: priceID)" }
        return try await db.page("subscriptions", caller: caller, request,
                                 columns: "*, (SELECT name FROM customers c WHERE c.id = subscriptions.customer_id) AS customer_name",
                                 filter: filter, as: Subscription.init)
    }

    // MARK: Sweeps

    /// Subscriptions set to end at a period end that has come.
    public func endingAtPeriodEnd(at now: Timestamp, scope: SweepScope) async throws -> [String] {
        try await ids("SELECT id FROM subscriptions WHERE status IN " + Self.sqlList(SubscriptionStatus.runningPeriod)
                      + " AND cancel_at_period_end = 1 AND current_period_end <= \(bind: now.milliseconds)" + scope.customers + " ORDER BY seq LIMIT 500")
    }

    /// `incomplete` subscriptions created at or before `createdBefore`.
    public func incomplete(createdBefore: Timestamp, scope: SweepScope) async throws -> [String] {
        try await ids("SELECT id FROM subscriptions WHERE status = 'incomplete' AND created <= \(bind: createdBefore.milliseconds)"
                      + scope.customers + " ORDER BY seq LIMIT 500")
    }

    /// Trials ending at or before `endingBy` whose notice is not sent yet.
    public func trialsEnding(by endingBy: Timestamp, scope: SweepScope) async throws -> [String] {
        try await ids("SELECT id FROM subscriptions WHERE status = 'trialing' AND trial_will_end_sent = 0 AND trial_end <= \(bind: endingBy.milliseconds)"
                      + scope.customers + " ORDER BY seq LIMIT 500")
    }

    /// Subscriptions with a renewal or a retry due at `now`, and no renewal in flight.
    public func renewalsDue(at now: Timestamp, staleRenewal: Timestamp, scope: SweepScope) async throws -> [String] {
        try await ids("SELECT id FROM subscriptions WHERE " + Self.renewalDue(at: now, staleRenewal: staleRenewal) + scope.customers
                      + " ORDER BY current_period_end, seq LIMIT 500")
    }

    /// Whether the customer has a subscription with a period running.
    public func hasPeriodRunning(customerID: String) async throws -> Bool {
        try await db.raw("SELECT id FROM subscriptions WHERE customer_id = \(bind: customerID) AND status IN " + Self.sqlList(SubscriptionStatus.runningPeriod))
            .first() != nil
    }

    // MARK: Writing

    /// A new subscription's first state.
    public struct New: Sendable {
        public let id: String, caller: Caller, customerID: String, status: SubscriptionStatus, priceID: String, itemID: String
        public let defaultPaymentMethod: String?, billingCycleAnchor: Timestamp, periodsBilled: Int64
        public let currentPeriodStart: Timestamp, currentPeriodEnd: Timestamp, trialEnd: Timestamp?
        public let latestCharge: String?, checkoutSessionID: String?, metadata: JSONValue, created: Timestamp

        public init(id: String, caller: Caller, customerID: String, status: SubscriptionStatus, priceID: String, itemID: String,
                    defaultPaymentMethod: String?, billingCycleAnchor: Timestamp, periodsBilled: Int64, currentPeriodStart: Timestamp,
                    currentPeriodEnd: Timestamp, trialEnd: Timestamp?, latestCharge: String?, checkoutSessionID: String?, metadata: JSONValue,
                    created: Timestamp) {
            self.id = id; self.caller = caller; self.customerID = customerID; self.status = status; self.priceID = priceID; self.itemID = itemID
            self.defaultPaymentMethod = defaultPaymentMethod; self.billingCycleAnchor = billingCycleAnchor; self.periodsBilled = periodsBilled
            self.currentPeriodStart = currentPeriodStart; self.currentPeriodEnd = currentPeriodEnd; self.trialEnd = trialEnd
            self.latestCharge = latestCharge; self.checkoutSessionID = checkoutSessionID; self.metadata = metadata; self.created = created
        }
    }

    public func insert(_ new: New) async throws {
        try await db.raw("""
            INSERT INTO subscriptions (id, project_id, livemode, customer_id, status, metadata, created, price_id, item_id, default_payment_method,
              billing_cycle_anchor, periods_billed, current_period_start, current_period_end, trial_end, latest_charge, checkout_session_id)
            VALUES (\(bind: new.id), \(bind: new.caller.projectID), \(bind: new.caller.mode), \(bind: new.customerID), \(bind: new.status.rawValue),
              \(bind: new.metadata.serialized()), \(bind: new.created.milliseconds), \(bind: new.priceID), \(bind: new.itemID),
              \(bind: new.defaultPaymentMethod), \(bind: new.billingCycleAnchor.milliseconds), \(bind: new.periodsBilled),
              \(bind: new.currentPeriodStart.milliseconds), \(bind: new.currentPeriodEnd.milliseconds), \(bind: new.trialEnd?.milliseconds),
              \(bind: new.latestCharge), \(bind: new.checkoutSessionID))
            """).run()
    }

    /// Writes only the fields given, so two concurrent updates of different fields both stay.
    public func update(_ id: String, metadata: JSONValue?, defaultPaymentMethod: String?) async throws {
        var set: [SQLQueryString] = []
        if let metadata { set.append("metadata = \(bind: metadata.serialized())") }
        if let defaultPaymentMethod { set.append("default_payment_method = \(bind: defaultPaymentMethod)") }
        guard let first = set.first else { return }
        try await db.raw("UPDATE subscriptions SET " + set.dropFirst().reduce(first) { $0 + ", " + $1 } + " WHERE id = \(bind: id)").run()
    }

    /// Cancels now, from one of `statuses`.
    public func cancel(_ id: String, at now: Timestamp, from statuses: [SubscriptionStatus], staleRenewal: Timestamp) async throws -> Bool {
        try await changed("UPDATE subscriptions SET status = 'canceled', canceled_at = \(bind: now.milliseconds), cancel_at_period_end = 0 WHERE id = \(bind: id) AND status IN "
                          + Self.sqlList(statuses) + Self.notRenewing(staleRenewal: staleRenewal))
    }

    /// Sets the cancel at the period end (again, if set), or clears a pending one, while a period runs.
    public func setCancelAtPeriodEnd(_ id: String, _ cancel: Bool, staleRenewal: Timestamp) async throws -> Bool {
        let pending: SQLQueryString = cancel ? "" : " AND cancel_at_period_end = 1"
        return try await changed("UPDATE subscriptions SET cancel_at_period_end = \(bind: cancel.stored) WHERE id = \(bind: id)" + pending
                                 + " AND status IN " + Self.sqlList(SubscriptionStatus.runningPeriod) + Self.notRenewing(staleRenewal: staleRenewal))
    }

    /// Ends a subscription set to cancel at a period end that has come (`canceled_at` is the period's end).
    public func endAtPeriodEnd(_ id: String, now: Timestamp) async throws -> Bool {
        try await changed("""
            UPDATE subscriptions SET status = 'canceled', cancel_at_period_end = 0,
              canceled_at = CASE WHEN current_period_end > \(bind: now.milliseconds) THEN current_period_end ELSE \(bind: now.milliseconds) END
            WHERE id = \(bind: id) AND cancel_at_period_end = 1 AND current_period_end <= \(bind: now.milliseconds) AND status IN
            """ + Self.sqlList(SubscriptionStatus.runningPeriod))
    }

    /// `incomplete` → `active`: its first charge, pending when it was created, turned out paid.
    public func activateIncomplete(_ id: String) async throws -> Bool {
        try await changed("UPDATE subscriptions SET status = 'active' WHERE id = \(bind: id) AND status = 'incomplete'")
    }

    /// `incomplete` → `incomplete_expired`.
    public func expireIncomplete(_ id: String) async throws -> Bool {
        try await changed("UPDATE subscriptions SET status = 'incomplete_expired' WHERE id = \(bind: id) AND status = 'incomplete'")
    }

    /// A change of price, made only while the subscription is still on `fromPriceID` in the period
    /// ending `periodEnd` with one of `statuses`: applied now (the price switches, `latestCharge`
    /// recorded) or scheduled for the period end (`pending_price`). `defaultPaymentMethod` also
    /// becomes the subscription's card when given.
    public struct PriceChange: Sendable {
        public let toPriceID: String, fromPriceID: String, periodEnd: Timestamp, applyNow: Bool
        public let latestCharge: String?, defaultPaymentMethod: String?, statuses: [SubscriptionStatus]

        public init(to toPriceID: String, from fromPriceID: String, periodEnd: Timestamp, applyNow: Bool, latestCharge: String?,
                    defaultPaymentMethod: String?, statuses: [SubscriptionStatus]) {
            self.toPriceID = toPriceID; self.fromPriceID = fromPriceID; self.periodEnd = periodEnd; self.applyNow = applyNow
            self.latestCharge = latestCharge; self.defaultPaymentMethod = defaultPaymentMethod; self.statuses = statuses
        }
    }

    public func changePrice(_ id: String, _ change: PriceChange, staleRenewal: Timestamp) async throws -> Bool {
        let set: SQLQueryString = change.applyNow
            ? "price_id = \(bind: change.toPriceID), pending_price = NULL, pending_effective_at = NULL, latest_charge = \(bind: change.latestCharge)"
            : "pending_price = \(bind: change.toPriceID), pending_effective_at = current_period_end"
        let card: SQLQueryString = change.defaultPaymentMethod.map { ", default_payment_method = \(bind: $0)" } ?? ""
        return try await changed("UPDATE subscriptions SET " + set + card + """
             WHERE id = \(bind: id) AND price_id = \(bind: change.fromPriceID) AND current_period_end = \(bind: change.periodEnd.milliseconds) AND status IN
            """ + Self.sqlList(change.statuses) + Self.notRenewing(staleRenewal: staleRenewal))
    }

    /// Marks the trial notice sent, once, when the trial ends by `endingBy`; the subscription's caller when it was not sent before.
    public func markTrialNoticeSent(_ id: String, endingBy: Timestamp) async throws -> Caller? {
        try await db.raw("""
            UPDATE subscriptions SET trial_will_end_sent = 1
            WHERE id = \(bind: id) AND status = 'trialing' AND trial_will_end_sent = 0 AND trial_end <= \(bind: endingBy.milliseconds)
            RETURNING project_id, livemode
            """).first()?.caller()
    }

    // MARK: Renewals

    /// One renewal's hold on a subscription.
    public struct RenewalLease: Sendable {
        public let owner: String, startedAt: Timestamp, period: Int64
        public init(owner: String, startedAt: Timestamp, period: Int64) { self.owner = owner; self.startedAt = startedAt; self.period = period }
    }

    /// Takes the subscription for a renewal by `owner` at `now`, if one is due (or, for the
    /// customer's own retry, if it is past due) and none is in flight; the subscription as taken.
    public func takeForRenewal(_ id: String, owner: String, now: Timestamp, staleRenewal: Timestamp, customerRetry: Bool = false) async throws -> Subscription? {
        let due: SQLQueryString = customerRetry ? "status = 'past_due'" + Self.notRenewing(staleRenewal: staleRenewal) : Self.renewalDue(at: now, staleRenewal: staleRenewal)
        return try await db.raw("UPDATE subscriptions SET renewal_owner = \(bind: owner), renewal_started_at = \(bind: now.milliseconds) WHERE id = \(bind: id) AND "
                                + due + " RETURNING *").first().map(Subscription.init)
    }

    /// Ends a renewal that changes nothing but the latest charge (the customer's own retry was declined: dunning goes on as it was).
    public func releaseRenewal(_ id: String, lease: RenewalLease, latestCharge: String?) async throws -> Bool {
        try await changed("UPDATE subscriptions SET latest_charge = \(bind: latestCharge), renewal_owner = NULL, renewal_started_at = NULL"
                          + Self.held(id, by: lease))
    }

    private static func held(_ id: String, by lease: RenewalLease) -> SQLQueryString {
        " WHERE id = \(bind: id) AND renewal_owner = \(bind: lease.owner) AND renewal_started_at = \(bind: lease.startedAt.milliseconds) AND periods_billed = \(bind: lease.period)"
    }

    /// A renewal was paid (or free): the next period starts, on `priceID`; the lease ends. False when the lease no longer holds.
    public func renewed(_ id: String, lease: RenewalLease, priceID: String, periodStart: Timestamp, periodEnd: Timestamp, latestCharge: String?) async throws -> Bool {
        try await changed("""
            UPDATE subscriptions SET status = 'active', price_id = \(bind: priceID), pending_price = NULL, pending_effective_at = NULL,
              periods_billed = \(bind: lease.period + 1), current_period_start = \(bind: periodStart.milliseconds),
              current_period_end = \(bind: periodEnd.milliseconds), failed_attempts = 0, first_failed_at = NULL,
              next_retry_at = NULL, latest_charge = \(bind: latestCharge), renewal_owner = NULL, renewal_started_at = NULL
            """ + Self.held(id, by: lease))
    }

    /// A renewal was declined: `past_due` until `retryAt`, or `canceled` at `now` when there is no retry left. False when the lease no longer holds.
    public func renewalDeclined(_ id: String, lease: RenewalLease, failures: Int64, firstFailedAt: Timestamp, retryAt: Timestamp?, now: Timestamp,
                                latestCharge: String?) async throws -> Bool {
        try await changed("""
            UPDATE subscriptions SET status = \(bind: retryAt == nil ? "canceled" : "past_due"), failed_attempts = \(bind: failures),
              first_failed_at = \(bind: firstFailedAt.milliseconds), next_retry_at = \(bind: retryAt?.milliseconds),
              canceled_at = \(bind: retryAt == nil ? now.milliseconds : nil), latest_charge = \(bind: latestCharge),
              renewal_owner = NULL, renewal_started_at = NULL
            """ + Self.held(id, by: lease))
    }
}

extension SQLDatabase {
    public var subscriptions: SubscriptionStore { SubscriptionStore(db: self) }
}
