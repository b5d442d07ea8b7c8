import ChingDomain
import ChingProviders
import ChingStore
import Logging

/// Subscriptions: starting one from a plan's checkout, changing, canceling and resuming it, ending
/// it at its period end; the object as the API returns it.
package enum Subscriptions {
    package typealias Status = SubscriptionStatus

    /// Writes a new subscription inside the caller's transaction (`subscription.created`): `status`
    /// is trialing until the trial ends, active with its first period paid by `chargeID` (or free),
    /// or incomplete when that charge was declined. `sessionID`: the checkout that sold it.
    package static func create(id: String, status: Status, customerID: String, priceID: String, plan: Plan, paymentMethodID: String?, chargeID: String?,
                               sessionID: String?, metadata: JSONValue, caller: Caller, on db: Store, services: AppServices) async throws {
        let now = services.clock.now()
        // Periods are counted from the anchor: the trial's end, or the purchase itself, whose first
        // period (0) is paid now. A plan bought on 31 January then renews on 28 February, 31 March...
        let periodEnd = BillingSchedule.firstBilling(of: plan, at: now)
        let anchor = plan.hasTrial ? periodEnd : now
        try await db.subscriptions.insert(.init(
            id: id, caller: caller, customerID: customerID, status: status, priceID: priceID, itemID: services.ids.make(.subscriptionItem),
            defaultPaymentMethod: paymentMethodID, billingCycleAnchor: anchor, periodsBilled: plan.hasTrial ? 0 : 1, currentPeriodStart: now,
            currentPeriodEnd: periodEnd, trialEnd: plan.hasTrial ? periodEnd : nil, latestCharge: chargeID, checkoutSessionID: sessionID,
            metadata: metadata, created: now))
        let subscription = try await load(id, caller: caller, on: db)!
        try await Events.record("subscription.created", data: subscription, caller: caller, on: db, services: services)
    }

    package static func load(_ id: String, caller: Caller, on db: Store) async throws -> JSONValue? {
        try await db.subscriptions.find(id, caller: caller).map(json)
    }

    package static func json(_ subscription: Subscription) -> JSONValue {
        func time(_ time: Timestamp?) -> JSONValue { .optional(time?.iso8601) }
        return .object([
            "id": .string(subscription.id),
            "object": "subscription",
            "customer": .string(subscription.customerID),
            "default_payment_method": .optional(subscription.defaultPaymentMethod),
            "status": .string(subscription.status.rawValue),
            "currency": "ils",
            "items": .array([.object(["id": .optional(subscription.itemID), "price": .optional(subscription.priceID), "quantity": 1])]),
            "billing_cycle_anchor": time(subscription.billingCycleAnchor),
            "current_period_start": time(subscription.currentPeriodStart),
            "current_period_end": time(subscription.currentPeriodEnd),
            "trial_end": time(subscription.trialEnd),
            "cancel_at_period_end": .bool(subscription.cancelAtPeriodEnd),
            "canceled_at": time(subscription.canceledAt),
            "latest_charge": .optional(subscription.latestCharge),
            "pending_price": .optional(subscription.pendingPrice),
            "pending_effective_at": time(subscription.pendingEffectiveAt),
            "metadata": subscription.metadata,
            "livemode": .bool(subscription.caller.livemode),
            "created": .string(subscription.created.iso8601),
        ])
    }

    /// What `POST /subscriptions/:id` may change (nil: not sent).
    package struct Changes: Sendable {
        package var metadata: [String: String]?
        package var defaultPaymentMethod: String?
        package init(metadata: [String: String]?, defaultPaymentMethod: String?) {
            self.metadata = metadata; self.defaultPaymentMethod = defaultPaymentMethod
        }
    }

    /// Changes the metadata or the default card (an active card of the subscription's customer);
    /// `subscription.updated` with the old values when anything changed.
    package static func update(_ id: String, _ changes: Changes, caller: Caller, services: AppServices) async throws -> JSONValue {
        let services = try await services.forSubscription(id)
        return try await services.database.transaction { db in
            let before = try await existing(id, caller: caller, on: db)
            if let card = changes.defaultPaymentMethod {
                _ = try await Charges.chargeableCard(card, customerID: before.customerID, caller: caller, on: db)
            }
            try await db.subscriptions.update(id, metadata: changes.metadata.map(JSONValue.strings), defaultPaymentMethod: changes.defaultPaymentMethod)
            return try await recordUpdate(id, before: json(before), caller: caller, on: db, services: services)
        }
    }

    /// Cancels now (`canceled`, `canceled_at`, `subscription.canceled`; nothing is refunded), or at
    /// the end of the current period (`cancel_at_period_end`, `subscription.updated`; the sweeper
    /// ends it then, without a charge).
    package static func cancel(_ id: String, atPeriodEnd: Bool, caller: Caller, services: AppServices) async throws -> JSONValue {
        let services = try await services.forSubscription(id)
        let now = services.clock.now()
        return try await services.database.transaction { db in
            let before = try await existing(id, caller: caller, on: db)
            let moved = atPeriodEnd
                ? try await db.subscriptions.setCancelAtPeriodEnd(id, true, staleRenewal: staleRenewal(now))
                : try await db.subscriptions.cancel(id, at: now, from: Status.cancelable, staleRenewal: staleRenewal(now))
            guard moved else {
                throw refusal(before, at: now, otherwise: ServiceError.rule("subscription_not_cancelable", before.status == .incomplete
                    ? "An incomplete subscription has no period to finish; cancel it now (cancel_at_period_end: false)."
                    : "This subscription has already ended (\(before.status.rawValue)).", kind: .conflict))
            }
            if atPeriodEnd { return try await recordUpdate(id, before: json(before), caller: caller, on: db, services: services) }
            let canceled = try await db.subscriptions.find(id, caller: caller)!
            try await Events.record("subscription.canceled", data: json(canceled), caller: caller, on: db, services: services)
            try await Outbox.queueCancellationNotice(canceled, on: db, services: services)
            return json(canceled)
        }
    }

    /// Undoes a pending cancel at the period end (`subscription.updated`).
    package static func resume(_ id: String, caller: Caller, services: AppServices) async throws -> JSONValue {
        let services = try await services.forSubscription(id)
        return try await services.database.transaction { db in
            let before = try await existing(id, caller: caller, on: db)
            let now = services.clock.now()
            guard try await db.subscriptions.setCancelAtPeriodEnd(id, false, staleRenewal: staleRenewal(now)) else {
                throw refusal(before, at: now, otherwise: ServiceError.rule(
                    "subscription_not_canceling", "Only a subscription set to cancel at its period end can be resumed.", kind: .conflict))
            }
            return try await recordUpdate(id, before: json(before), caller: caller, on: db, services: services)
        }
    }

    /// Ends a subscription whose period ran out while it was set to cancel then (the sweeper's
    /// step): `canceled` at the period's end, `subscription.canceled`. False when it no longer applies.
    package static func endAtPeriodEnd(_ id: String, now: Timestamp, services: AppServices) async throws -> Bool {
        try await services.database.transaction { db in
            guard try await db.subscriptions.endAtPeriodEnd(id, now: now), let ended = try await db.subscriptions.find(id) else { return false }
            try await Events.record("subscription.canceled", data: json(ended), caller: ended.caller, on: db, services: services)
            try await Outbox.queueCancellationNotice(ended, on: db, services: services)
            return true
        }
    }

    private static func existing(_ id: String, caller: Caller, on db: Store) async throws -> Subscription {
        guard let subscription = try await db.subscriptions.find(id, caller: caller) else { throw ServiceError.notFound("subscription", id) }
        return subscription
    }

    /// `subscription.updated` with the fields that changed since `before` (nothing is recorded when none did); returns the subscription.
    private static func recordUpdate(_ id: String, before: JSONValue, caller: Caller, on db: Store, services: AppServices) async throws -> JSONValue {
        let after = try await load(id, caller: caller, on: db)!
        let previous = JSONValue.changedAttributes(from: before, to: after)
        if !previous.isEmpty {
            try await Events.record("subscription.updated", data: after, previousAttributes: previous, caller: caller, on: db, services: services)
        }
        return after
    }

    /// How long a subscription whose first charge was declined may wait to be paid.
    package static let incompleteLifetimeSeconds: Int64 = 23 * 3600

    /// `POST /subscriptions`: the trial comes from the price; otherwise the first period is charged
    /// now to `paymentMethodID` (needed unless the price is free). A declined first charge still
    /// starts the subscription, `incomplete`, with that charge as `latest_charge`.
    /// `subscription.created` comes before the charge's events.
    package static func start(customerID: String, priceID: String, paymentMethodID: String?, metadata: [String: String], caller: Caller,
                              services: AppServices) async throws -> JSONValue {
        let services = try await services.database.read { db in try await services.forCustomer(customerID, on: db) }
        let now = services.clock.now()
        let (plan, productName, card) = try await services.database.read { db in
            _ = try await Customers.requireActive(customerID, caller: caller, on: db)
            let (plan, productName) = try await sellablePlan(priceID, caller: caller, on: db)
            var card: Charges.ChargeableCard?
            if let paymentMethodID { card = try await Charges.chargeableCard(paymentMethodID, customerID: customerID, caller: caller, on: db) }
            return (plan, productName, card)
        }
        guard plan.unitAmount == 0 || card != nil else {
            throw ServiceError.invalid("payment_method", "Required: the price is not free, so its periods are charged to a card.")
        }
        let due: Int64
        do {
            due = try CheckoutTotals.compute(lines: [], plan: plan, now: now).dueToday
        } catch {
            throw ServiceError.rule("amount_too_large", "A period of this price, VAT added, is more than one charge can carry.")
        }
        let id = services.ids.make(.subscription)
        var charge: Charges.NewCharge?
        if due > 0, let card {
            var new = Charges.NewCharge(customerID: customerID, paymentMethodID: paymentMethodID, amount: due, description: productName,
                                        installments: 1, metadata: [:], card: card)
            new.id = services.ids.make(.charge)
            new.subscriptionID = id
            new.documentLines = [DocumentLine(description: productName, quantity: 1, unitAmount: due)]
            charge = new
        }
        var result: ProviderResult?
        // Without a request key there is no earlier request to find: the provider is always asked.
        if let new = charge, case .asked(let said, let written) = try await Charges.chargeSavedWritingFirst(new, caller: caller, services: services) {
            (result, charge) = (said, written)
        }
        let status: Status = switch result {
        case nil: plan.hasTrial ? .trialing : .active
        case .approved: .active
        // An unknown outcome stays `incomplete` with a pending charge until the reconciler learns it.
        case .declined, .unknown: .incomplete
        }
        do {
            return try await record(id: id, status: status, customerID: customerID, priceID: priceID, plan: plan, paymentMethodID: paymentMethodID,
                                    charge: charge, result: result, metadata: metadata, caller: caller, services: services)
        } catch {
            // Nothing was recorded: the first period's money goes back.
            _ = await Charges.undo(result, amount: due, caller: caller, services: services)
            throw error
        }
    }

    private static func record(id: String, status: Status, customerID: String, priceID: String, plan: Plan, paymentMethodID: String?,
                               charge: Charges.NewCharge?, result: ProviderResult?, metadata: [String: String],
                               caller: Caller, services: AppServices) async throws -> JSONValue {
        try await services.database.transaction { db in
            try await create(id: id, status: status, customerID: customerID, priceID: priceID, plan: plan, paymentMethodID: paymentMethodID,
                             chargeID: charge?.id, sessionID: nil, metadata: JSONValue.strings(metadata), caller: caller, on: db, services: services)
            if let result, let charge { _ = try await Charges.record(charge, result: result, caller: caller, on: db, services: services) }
            return try await load(id, caller: caller, on: db)!
        }
    }

    /// An `incomplete` subscription not paid within 23 hours becomes `incomplete_expired`
    /// (`subscription.updated`); the sweeper's step. False when it no longer applies.
    package static func expireIncomplete(_ id: String, now: Timestamp, services: AppServices) async throws -> Bool {
        try await services.database.transaction { db in
            guard let before = try await db.subscriptions.find(id), before.status == .incomplete,
                  before.created <= now.adding(seconds: -incompleteLifetimeSeconds),
                  try await db.subscriptions.expireIncomplete(id) else { return false }
            _ = try await recordUpdate(id, before: json(before), caller: before.caller, on: db, services: services)
            return true
        }
    }

    /// When `change_price` applies a change (default: an upgrade now, a downgrade at the period end).
    package enum ChangeTiming: String, CaseIterable, Sendable {
        case immediately, atPeriodEnd = "at_period_end"
    }

    /// `POST /subscriptions/:id/change_price`: an upgrade (a higher amount per period) applies now
    /// and charges the prorated difference for the rest of the period to the default card (nothing
    /// during a trial); a downgrade is scheduled for the period end (`pending_price`). The anchor
    /// stays, so the new price must have the same interval.
    package static func changePrice(_ id: String, to priceID: String, timing: ChangeTiming?, caller: Caller,
                                    services: AppServices) async throws -> JSONValue {
        let services = try await services.forSubscription(id)
        let now = services.clock.now()
        let (before, oldPlan, newPlan, productName) = try await services.database.read { db in
            let subscription = try await existing(id, caller: caller, on: db)
            let (newPlan, productName) = try await sellablePlan(priceID, caller: caller, on: db)
            let oldPriceID = subscription.priceID ?? ""
            guard let oldPlan = try await db.catalog.price(oldPriceID, caller: caller)?.plan else { throw ServiceError.notFound("price", oldPriceID) }
            return (subscription, oldPlan, newPlan, productName)
        }
        let status = before.status
        guard Status.runningPeriod.contains(status) else {
            throw ServiceError.rule("subscription_not_changeable", "Only a trialing, active or past-due subscription can change its price; this one is \(status.rawValue).",
                                    kind: .conflict)
        }
        guard newPlan.interval == oldPlan.interval, newPlan.intervalCount == oldPlan.intervalCount else {
            throw ServiceError.rule("price_interval_mismatch", "The new price must bill every \(oldPlan.intervalCount) \(oldPlan.interval.rawValue)(s), as the current one does: the billing dates stay.")
        }
        let (oldAmount, newAmount) = (try periodAmount(oldPlan), try periodAmount(newPlan))
        let oldPriceID = before.priceID ?? ""
        let kind = oldPriceID == priceID ? PlanChange.same : PlanChange.kind(from: oldAmount, to: newAmount)
        if kind == .downgrade, timing == .immediately {
            throw ServiceError.rule("DOWNGRADE_IMMEDIATE_NOT_SUPPORTED", "A downgrade takes effect at the end of the paid period; send change_timing: at_period_end.")
        }
        guard let periodStart = before.currentPeriodStart, let periodEnd = before.currentPeriodEnd else { throw changedMeanwhile() }
        func answer(applied: Bool, scheduledFor: Timestamp?, charged: Int64, subscription: JSONValue) -> JSONValue {
            .object(["kind": .string(kind.rawValue), "applied": .bool(applied), "scheduled_for": .optional(scheduledFor?.iso8601),
                     "charge_amount": .int(charged), "charge_currency": "ils", "subscription": subscription])
        }
        if oldPriceID == priceID { return answer(applied: false, scheduledFor: nil, charged: 0, subscription: json(before)) }

        if (timing ?? (kind == .downgrade ? .atPeriodEnd : .immediately)) == .atPeriodEnd {
            let subscription = try await services.database.transaction { db in
                let change = SubscriptionStore.PriceChange(to: priceID, from: oldPriceID, periodEnd: periodEnd, applyNow: false, latestCharge: nil,
                                                           defaultPaymentMethod: nil, statuses: Status.runningPeriod)
                guard try await db.subscriptions.changePrice(id, change, staleRenewal: staleRenewal(now)) else {
                    throw refusal(before, at: now, otherwise: changedMeanwhile())
                }
                return try await recordUpdate(id, before: json(before), caller: caller, on: db, services: services)
            }
            return answer(applied: false, scheduledFor: periodEnd, charged: 0, subscription: subscription)
        }

        let due = status == .trialing ? 0 : PlanChange.prorated(from: oldAmount, to: newAmount, periodStart: periodStart, periodEnd: periodEnd, now: now)
        var card: Charges.ChargeableCard?
        if due > 0 {
            guard let cardID = before.defaultPaymentMethod else {
                throw ServiceError.rule("payment_method_required", "The subscription has no default card to charge the prorated difference to.")
            }
            card = try await services.database.read { db in
                try await Charges.chargeableCard(cardID, customerID: before.customerID, caller: caller, on: db)
            }
        }
        var charge: Charges.NewCharge?
        if let card {
            let description = "\(productName): the rest of the current period"
            var new = Charges.NewCharge(customerID: before.customerID, paymentMethodID: before.defaultPaymentMethod,
                                        amount: due, description: description, installments: 1, metadata: [:], card: card)
            new.id = services.ids.make(.charge)
            new.subscriptionID = id
            new.documentLines = [DocumentLine(description: description, quantity: 1, unitAmount: due)]
            charge = new
        }
        var outcome: ProviderResult?
        // Without a request key there is no earlier request to find: the provider is always asked.
        if let new = charge, case .asked(let said, let written) = try await Charges.chargeSavedWritingFirst(new, caller: caller, services: services) {
            (outcome, charge) = (said, written)
        }
        let result = outcome
        if result == .unknown {
            // Grow may or may not have charged the difference: the change is not made. The charge stays
            // pending for the reconciler; if it turns out paid, it is a charge for a change that was not made.
            services.logger.critical("A plan change's charge has an unknown outcome; the change was not made",
                                     metadata: ["subscription": "\(id)", "charge": "\(charge?.id ?? "")"])
            var error = ServiceError.rule("provider_error", "Grow did not answer, so the plan was not changed. The charge \(charge?.id ?? "") is pending: "
                                          + "if it turns out paid, refund it before trying again.", kind: .upstream)
            error.extra["charge"] = .optional(charge?.id)
            throw error
        }
        let newCharge = charge, latestCharge = charge?.id ?? before.latestCharge
        if let result, let newCharge, case .declined(let decline) = result {
            let charge = try await services.database.transaction { db in
                try await Charges.record(newCharge, result: result, caller: caller, on: db, services: services)
            }
            var error = ServiceError(.paymentFailed, "CHARGE_FAILED", decline.message)
            error.extra["charge"] = charge
            throw error
        }
        do {
            let subscription = try await services.database.transaction { db in
                let change = SubscriptionStore.PriceChange(to: priceID, from: oldPriceID, periodEnd: periodEnd, applyNow: true, latestCharge: latestCharge,
                                                           defaultPaymentMethod: nil, statuses: Status.runningPeriod)
                guard try await db.subscriptions.changePrice(id, change, staleRenewal: staleRenewal(now)) else {
                    throw refusal(before, at: now, otherwise: changedMeanwhile())
                }
                if let result, let newCharge { _ = try await Charges.record(newCharge, result: result, caller: caller, on: db, services: services) }
                return try await recordUpdate(id, before: json(before), caller: caller, on: db, services: services)
            }
            return answer(applied: true, scheduledFor: nil, charged: due, subscription: subscription)
        } catch {
            // Another change won the race (or recording failed): the money just taken goes back, and nothing is recorded.
            _ = await Charges.undo(result, amount: due, caller: caller, services: services)
            throw error
        }
    }

    /// A plan's amount per period, VAT included.
    package static func periodAmount(_ plan: Plan) throws -> Int64 {
        do {
            return try plan.periodAmount()
        } catch {
            throw ServiceError.rule("amount_too_large", "A period of this price, VAT added, is more than one charge can carry.")
        }
    }

    private static func changedMeanwhile() -> ServiceError {
        ServiceError.rule("subscription_changed_meanwhile", "The subscription changed while this request ran; read it again and retry.", kind: .conflict)
    }

    /// The plan change a checkout for `priceID` would be for this customer (nil when they have no
    /// live subscription): what is due now and the new period amount.
    /// `refuseOtherInterval`: a plan of another interval is `price_interval_mismatch` (when the
    /// session is made) rather than no switch (a page shown after the plan changed).
    package static func planSwitch(customerID: String, to priceID: String, plan: Plan, caller: Caller, now: Timestamp, refuseOtherInterval: Bool,
                                   on db: Store) async throws -> (switch: CheckoutOffer.PlanSwitch, due: Int64, period: Int64)? {
        guard let subscription = try await db.subscriptions.newest(ofCustomer: customerID, statuses: Status.paidUp, caller: caller),
              let current = try await db.catalog.price(subscription.priceID ?? "", caller: caller),
              let currentPlan = current.plan,
              let periodStart = subscription.currentPeriodStart, let periodEnd = subscription.currentPeriodEnd
        else { return nil }
        guard currentPlan.interval == plan.interval, currentPlan.intervalCount == plan.intervalCount else {
            guard refuseOtherInterval else { return nil }
            throw ServiceError.rule("price_interval_mismatch", "The customer's plan bills every \(currentPlan.intervalCount) \(currentPlan.interval.rawValue)(s); a plan change keeps the billing dates, so the new price must too.")
        }
        let (old, new) = (try periodAmount(currentPlan), try periodAmount(plan))
        let kind = current.id == priceID ? PlanChange.same : PlanChange.kind(from: old, to: new)
        let due = subscription.status == .trialing ? 0 : PlanChange.prorated(from: old, to: new, periodStart: periodStart, periodEnd: periodEnd, now: now)
        let product = try await db.catalog.product(current.productID, caller: caller)
        let change = CheckoutOffer.PlanSwitch(subscriptionID: subscription.id, fromPriceID: current.id,
                                              fromProductName: product?.name ?? "", kind: kind, periodEnd: periodEnd)
        return (change, due, new)
    }

    /// Carries out a paid (or free) plan change inside the caller's transaction: an upgrade switches
    /// the price now, a downgrade is scheduled for the period end; `subscription.updated`. False
    /// when the subscription changed meanwhile (the caller then undoes what it charged).
    package static func applySwitch(_ change: CheckoutOffer.PlanSwitch, to priceID: String, chargeID: String?, paymentMethodID: String?,
                                    caller: Caller, on db: Store, services: AppServices) async throws -> Bool {
        guard let before = try await db.subscriptions.find(change.subscriptionID, caller: caller) else { return false }
        let priceChange = SubscriptionStore.PriceChange(to: priceID, from: change.fromPriceID, periodEnd: change.periodEnd, applyNow: change.kind != .downgrade,
                                                        latestCharge: chargeID ?? before.latestCharge, defaultPaymentMethod: paymentMethodID,
                                                        statuses: Status.paidUp)
        guard try await db.subscriptions.changePrice(change.subscriptionID, priceChange, staleRenewal: staleRenewal(services.clock.now())) else {
            return false
        }
        _ = try await recordUpdate(change.subscriptionID, before: json(before), caller: caller, on: db, services: services)
        return true
    }

    /// A renewal started at or before this has lapsed (its server died): changes no longer wait for it.
    static func staleRenewal(_ now: Timestamp) -> Timestamp { now.adding(seconds: -Renewals.leaseSeconds) }

    /// A recurring price that may be sold, and its product's name.
    private static func sellablePlan(_ priceID: String, caller: Caller, on db: Store) async throws -> (Plan, productName: String) {
        guard let price = try await db.catalog.price(priceID, caller: caller) else { throw ServiceError.notFound("price", priceID) }
        guard price.active else { throw ServiceError.rule("price_archived", "The price \(priceID) is archived and cannot be sold.") }
        guard let plan = price.plan else {
            throw ServiceError.rule("price_not_recurring", "A subscription needs a recurring price; \(priceID) is one-time.")
        }
        return (plan, try await db.catalog.product(price.productID, caller: caller)?.name ?? "Subscription")
    }

    /// Why a conditional change of `subscription` matched nothing: a renewal in flight, or `otherwise`.
    static func refusal(_ subscription: Subscription, at now: Timestamp, otherwise: ServiceError) -> ServiceError {
        if let started = subscription.renewalStartedAt, started > staleRenewal(now) {
            return ServiceError.rule("subscription_renewing", "The subscription is being renewed right now; try again in a moment.", kind: .conflict)
        }
        return otherwise
    }
}
