import ChingDomain
import ChingProviders
import ChingStore
import SQLKit

/// Subscriptions: starting one from a plan's checkout, changing, canceling and resuming it, ending
/// it at its period end; the object as the API returns it.
package enum Subscriptions {
    /// API.md's statuses. A subscription is *live* (billed, blocks deleting its customer) until it
    /// is `canceled` or `incomplete_expired`.
    package enum Status: String, CaseIterable, Sendable {
        case trialing, active, pastDue = "past_due", canceled, incomplete, incompleteExpired = "incomplete_expired"

        /// The statuses that can still be canceled, now or at the period end.
        static let cancelable: [Status] = [.trialing, .active, .pastDue, .incomplete]
        static let runningPeriod: [Status] = [.trialing, .active, .pastDue]

        static func sqlList(_ statuses: [Status]) -> SQLQueryString {
            SQLQueryString(statuses.map { "'\($0.rawValue)'" }.joined(separator: ", "))
        }
    }

    /// Writes a new subscription inside the caller's transaction (`subscription.created`): `status`
    /// is trialing until the trial ends, active with its first period paid by `chargeID` (or free),
    /// or incomplete when that charge was declined. `sessionID`: the checkout that sold it.
    package static func create(id: String, status: Status, customerID: String, priceID: String, plan: Plan, paymentMethodID: String?, chargeID: String?,
                               sessionID: String?, metadata: JSONValue, caller: Caller, on db: any SQLDatabase, services: AppServices) async throws {
        let now = services.clock.now()
        // Periods are counted from the anchor: the trial's end, or the purchase itself, whose first
        // period (0) is paid now. A plan bought on 31 January then renews on 28 February, 31 March...
        let periodEnd = BillingSchedule.firstBilling(of: plan, at: now)
        let anchor = plan.hasTrial ? periodEnd : now
        try await db.raw("""
            INSERT INTO subscriptions (id, project_id, livemode, customer_id, status, metadata, created, price_id, item_id, default_payment_method,
              billing_cycle_anchor, periods_billed, current_period_start, current_period_end, trial_end, latest_charge, checkout_session_id)
            VALUES (\(bind: id), \(bind: caller.projectID), \(bind: caller.mode), \(bind: customerID), \(bind: status.rawValue),
              \(bind: metadata.serialized()), \(bind: now.milliseconds), \(bind: priceID), \(bind: services.ids.make(.subscriptionItem)),
              \(bind: paymentMethodID), \(bind: anchor.milliseconds), \(bind: plan.hasTrial ? Int64(0) : 1), \(bind: now.milliseconds),
              \(bind: periodEnd.milliseconds), \(bind: plan.hasTrial ? periodEnd.milliseconds : nil), \(bind: chargeID), \(bind: sessionID))
            """).run()
        let subscription = try await load(id, caller: caller, on: db)!
        try await Events.record("subscription.created", data: subscription, caller: caller, on: db, services: services)
    }

    package static func load(_ id: String, caller: Caller, on db: any SQLDatabase) async throws -> JSONValue? {
        try await db.scopedRow("subscriptions", id: id, caller: caller).map(json)
    }

    package static func json(_ row: any SQLRow) throws -> JSONValue {
        func time(_ column: String) throws -> JSONValue { .optional(try row.optionalTimestamp(column)?.iso8601) }
        return .object([
            "id": .string(try row.string("id")),
            "object": "subscription",
            "customer": .string(try row.string("customer_id")),
            "default_payment_method": .optional(try row.optionalString("default_payment_method")),
            "status": .string(try row.string("status")),
            "currency": "ils",
            "items": .array([.object(["id": .optional(try row.optionalString("item_id")), "price": .optional(try row.optionalString("price_id")), "quantity": 1])]),
            "billing_cycle_anchor": try time("billing_cycle_anchor"),
            "current_period_start": try time("current_period_start"),
            "current_period_end": try time("current_period_end"),
            "trial_end": try time("trial_end"),
            "cancel_at_period_end": .bool(try row.bool("cancel_at_period_end")),
            "canceled_at": try time("canceled_at"),
            "latest_charge": .optional(try row.optionalString("latest_charge")),
            "pending_price": .optional(try row.optionalString("pending_price")),
            "pending_effective_at": try time("pending_effective_at"),
            "metadata": try row.metadata(),
            "livemode": .bool(try row.bool("livemode")),
            "created": .string(try row.timestamp("created").iso8601),
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
            let row = try await existing(id, caller: caller, on: db)
            if let card = changes.defaultPaymentMethod {
                _ = try await Charges.chargeableCard(card, customerID: try row.string("customer_id"), caller: caller, on: db)
            }
            // Only the fields sent are written, so two concurrent updates of different fields both stay.
            var set: [SQLQueryString] = []
            if let metadata = changes.metadata { set.append("metadata = \(bind: metadata.storedJSON)") }
            if let card = changes.defaultPaymentMethod { set.append("default_payment_method = \(bind: card)") }
            if let first = set.first {
                try await db.raw("UPDATE subscriptions SET " + set.dropFirst().reduce(first) { $0 + ", " + $1 } + " WHERE id = \(bind: id)").run()
            }
            return try await recordUpdate(id, before: try json(row), caller: caller, on: db, services: services)
        }
    }

    /// Cancels now (`canceled`, `canceled_at`, `subscription.canceled`; nothing is refunded), or at
    /// the end of the current period (`cancel_at_period_end`, `subscription.updated`; the sweeper
    /// ends it then, without a charge).
    package static func cancel(_ id: String, atPeriodEnd: Bool, caller: Caller, services: AppServices) async throws -> JSONValue {
        let services = try await services.forSubscription(id)
        let now = services.clock.now()
        return try await services.database.transaction { db in
            let row = try await existing(id, caller: caller, on: db)
            let allowed = atPeriodEnd ? Status.runningPeriod : Status.cancelable
            let moved = try await db.raw((atPeriodEnd
                ? "UPDATE subscriptions SET cancel_at_period_end = 1 WHERE id = \(bind: id) AND status IN (" + Status.sqlList(allowed) + ")"
                : "UPDATE subscriptions SET status = 'canceled', canceled_at = \(bind: now.milliseconds), cancel_at_period_end = 0 WHERE id = \(bind: id) AND status IN ("
                    + Status.sqlList(allowed) + ")") + notRenewing(at: now) + " RETURNING id").first()
            guard moved != nil else {
                let status = try row.string("status")
                throw try refusal(row, at: now, otherwise: ServiceError.rule("subscription_not_cancelable", status == "incomplete"
                    ? "An incomplete subscription has no period to finish; cancel it now (cancel_at_period_end: false)."
                    : "This subscription has already ended (\(status)).", kind: .conflict))
            }
            if atPeriodEnd { return try await recordUpdate(id, before: try json(row), caller: caller, on: db, services: services) }
            let canceled = try await load(id, caller: caller, on: db)!
            try await Events.record("subscription.canceled", data: canceled, caller: caller, on: db, services: services)
            return canceled
        }
    }

    /// Undoes a pending cancel at the period end (`subscription.updated`).
    package static func resume(_ id: String, caller: Caller, services: AppServices) async throws -> JSONValue {
        let services = try await services.forSubscription(id)
        return try await services.database.transaction { db in
            let row = try await existing(id, caller: caller, on: db)
            let moved = try await db.raw("""
                UPDATE subscriptions SET cancel_at_period_end = 0
                WHERE id = \(bind: id) AND cancel_at_period_end = 1 AND status IN (
                """ + Status.sqlList(Status.runningPeriod) + ")" + notRenewing(at: services.clock.now()) + " RETURNING id").first()
            guard moved != nil else {
                throw try refusal(row, at: services.clock.now(), otherwise: ServiceError.rule(
                    "subscription_not_canceling", "Only a subscription set to cancel at its period end can be resumed.", kind: .conflict))
            }
            return try await recordUpdate(id, before: try json(row), caller: caller, on: db, services: services)
        }
    }

    /// Ends a subscription whose period ran out while it was set to cancel then (the sweeper's
    /// step): `canceled` at the period's end, `subscription.canceled`. False when it no longer applies.
    package static func endAtPeriodEnd(_ id: String, now: Timestamp, services: AppServices) async throws -> Bool {
        try await services.database.transaction { db in
            guard let row = try await db.raw("""
                UPDATE subscriptions SET status = 'canceled', cancel_at_period_end = 0,
                  canceled_at = CASE WHEN current_period_end > \(bind: now.milliseconds) THEN current_period_end ELSE \(bind: now.milliseconds) END
                WHERE id = \(bind: id) AND cancel_at_period_end = 1 AND current_period_end <= \(bind: now.milliseconds) AND status IN (
                """ + Status.sqlList(Status.runningPeriod) + ") RETURNING project_id, livemode").first()
            else { return false }
            let caller = Caller(projectID: try row.string("project_id"), livemode: try row.bool("livemode"))
            try await Events.record("subscription.canceled", data: try await load(id, caller: caller, on: db)!, caller: caller, on: db, services: services)
            return true
        }
    }

    private static func existing(_ id: String, caller: Caller, on db: any SQLDatabase) async throws -> any SQLRow {
        guard let row = try await db.scopedRow("subscriptions", id: id, caller: caller) else { throw ServiceError.notFound("subscription", id) }
        return row
    }

    /// `subscription.updated` with the fields that changed since `before` (nothing is recorded when none did); returns the subscription.
    private static func recordUpdate(_ id: String, before: JSONValue, caller: Caller, on db: any SQLDatabase, services: AppServices) async throws -> JSONValue {
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
            guard let price = try await Catalog.priceRow(priceID, caller: caller, on: db) else { throw ServiceError.notFound("price", priceID) }
            guard try price.bool("active") else { throw ServiceError.rule("price_archived", "The price \(priceID) is archived and cannot be sold.") }
            guard let plan = try Catalog.plan(price) else {
                throw ServiceError.rule("price_not_recurring", "A subscription needs a recurring price; \(priceID) is one-time.")
            }
            let product = try await Catalog.productRow(try price.string("product_id"), caller: caller, on: db)
            var card: Charges.ChargeableCard?
            if let paymentMethodID { card = try await Charges.chargeableCard(paymentMethodID, customerID: customerID, caller: caller, on: db) }
            return (plan, try product?.string("name") ?? "Subscription", card)
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
        let result = due > 0 ? await services.provider(for: caller).charge(token: card!.token, amount: due, installments: 1, capture: true, idempotencyKey: nil) : nil
        let status: Status = switch result {
        case nil: plan.hasTrial ? .trialing : .active
        case .approved: .active
        case .declined: .incomplete
        }
        let id = services.ids.make(.subscription), chargeID = result.map { _ in services.ids.make(.charge) }
        do {
            return try await record(id: id, status: status, customerID: customerID, priceID: priceID, plan: plan, paymentMethodID: paymentMethodID,
                                    chargeID: chargeID, result: result, card: card, due: due, productName: productName, metadata: metadata,
                                    caller: caller, services: services)
        } catch {
            // Nothing was recorded: the first period's money goes back.
            _ = await Charges.undo(result, amount: due, caller: caller, services: services)
            throw error
        }
    }

    private static func record(id: String, status: Status, customerID: String, priceID: String, plan: Plan, paymentMethodID: String?, chargeID: String?,
                               result: ProviderResult?, card: Charges.ChargeableCard?, due: Int64, productName: String, metadata: [String: String],
                               caller: Caller, services: AppServices) async throws -> JSONValue {
        try await services.database.transaction { db in
            try await create(id: id, status: status, customerID: customerID, priceID: priceID, plan: plan, paymentMethodID: paymentMethodID,
                             chargeID: chargeID, sessionID: nil, metadata: JSONValue.strings(metadata), caller: caller, on: db, services: services)
            if let result, let card {
                var new = Charges.NewCharge(customerID: customerID, paymentMethodID: paymentMethodID, amount: due, description: productName,
                                            installments: 1, metadata: [:], card: card)
                new.id = chargeID
                new.subscriptionID = id
                new.documentLines = [DocumentLine(description: productName, quantity: 1, unitAmount: due)]
                _ = try await Charges.record(new, result: result, caller: caller, on: db, services: services)
            }
            return try await load(id, caller: caller, on: db)!
        }
    }

    /// An `incomplete` subscription not paid within 23 hours becomes `incomplete_expired`
    /// (`subscription.updated`); the sweeper's step. False when it no longer applies.
    package static func expireIncomplete(_ id: String, now: Timestamp, services: AppServices) async throws -> Bool {
        try await services.database.transaction { db in
            guard let row = try await db.raw("""
                SELECT * FROM subscriptions WHERE id = \(bind: id) AND status = 'incomplete'
                  AND created <= \(bind: now.adding(seconds: -incompleteLifetimeSeconds).milliseconds)
                """).first() else { return false }
            let caller = Caller(projectID: try row.string("project_id"), livemode: try row.bool("livemode"))
            let moved = try await db.raw("UPDATE subscriptions SET status = 'incomplete_expired' WHERE id = \(bind: id) AND status = 'incomplete' RETURNING id").first()
            guard moved != nil else { return false }
            _ = try await recordUpdate(id, before: try json(row), caller: caller, on: db, services: services)
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
        let (row, oldPlan, newPlan, productName) = try await services.database.read { db in
            let row = try await existing(id, caller: caller, on: db)
            guard let price = try await Catalog.priceRow(priceID, caller: caller, on: db) else { throw ServiceError.notFound("price", priceID) }
            guard try price.bool("active") else { throw ServiceError.rule("price_archived", "The price \(priceID) is archived and cannot be sold.") }
            guard let newPlan = try Catalog.plan(price) else {
                throw ServiceError.rule("price_not_recurring", "A subscription needs a recurring price; \(priceID) is one-time.")
            }
            let current = try await Catalog.priceRow(try row.optionalString("price_id") ?? "", caller: caller, on: db)
            guard let current, let oldPlan = try Catalog.plan(current) else { throw ServiceError.notFound("price", try row.optionalString("price_id") ?? "") }
            let product = try await Catalog.productRow(try price.string("product_id"), caller: caller, on: db)
            return (row, oldPlan, newPlan, try product?.string("name") ?? "Subscription")
        }
        let status = Status(rawValue: try row.string("status")) ?? .canceled
        guard Status.runningPeriod.contains(status) else {
            throw ServiceError.rule("subscription_not_changeable", "Only a trialing, active or past-due subscription can change its price; this one is \(status.rawValue).",
                                    kind: .conflict)
        }
        guard newPlan.interval == oldPlan.interval, newPlan.intervalCount == oldPlan.intervalCount else {
            throw ServiceError.rule("price_interval_mismatch", "The new price must bill every \(oldPlan.intervalCount) \(oldPlan.interval.rawValue)(s), as the current one does: the billing dates stay.")
        }
        let (oldAmount, newAmount) = (try periodAmount(oldPlan), try periodAmount(newPlan))
        let oldPriceID = try row.optionalString("price_id") ?? ""
        let kind = oldPriceID == priceID ? PlanChange.same : PlanChange.kind(from: oldAmount, to: newAmount)
        if kind == .downgrade, timing == .immediately {
            throw ServiceError.rule("DOWNGRADE_IMMEDIATE_NOT_SUPPORTED", "A downgrade takes effect at the end of the paid period; send change_timing: at_period_end.")
        }
        let periodStart = try row.timestamp("current_period_start"), periodEnd = try row.timestamp("current_period_end")
        func answer(applied: Bool, scheduledFor: Timestamp?, charged: Int64, subscription: JSONValue) -> JSONValue {
            .object(["kind": .string(kind.rawValue), "applied": .bool(applied), "scheduled_for": .optional(scheduledFor?.iso8601),
                     "charge_amount": .int(charged), "charge_currency": "ils", "subscription": subscription])
        }
        if oldPriceID == priceID { return answer(applied: false, scheduledFor: nil, charged: 0, subscription: try json(row)) }

        if (timing ?? (kind == .downgrade ? .atPeriodEnd : .immediately)) == .atPeriodEnd {
            let subscription = try await services.database.transaction { db in
                let moved = try await db.raw("""
                    UPDATE subscriptions SET pending_price = \(bind: priceID), pending_effective_at = current_period_end
                    WHERE id = \(bind: id) AND price_id = \(bind: oldPriceID) AND current_period_end = \(bind: periodEnd.milliseconds) AND status IN (
                    """ + Status.sqlList(Status.runningPeriod) + ")" + notRenewing(at: now) + " RETURNING id").first()
                guard moved != nil else { throw try refusal(row, at: now, otherwise: changedMeanwhile()) }
                return try await recordUpdate(id, before: try json(row), caller: caller, on: db, services: services)
            }
            return answer(applied: false, scheduledFor: periodEnd, charged: 0, subscription: subscription)
        }

        let due = status == .trialing ? 0 : PlanChange.prorated(from: oldAmount, to: newAmount, periodStart: periodStart, periodEnd: periodEnd, now: now)
        var card: Charges.ChargeableCard?
        if due > 0 {
            guard let cardID = try row.optionalString("default_payment_method") else {
                throw ServiceError.rule("payment_method_required", "The subscription has no default card to charge the prorated difference to.")
            }
            card = try await services.database.read { db in
                try await Charges.chargeableCard(cardID, customerID: try row.string("customer_id"), caller: caller, on: db)
            }
        }
        let result = due > 0 ? await services.provider(for: caller).charge(token: card!.token, amount: due, installments: 1, capture: true, idempotencyKey: nil) : nil
        var charge: Charges.NewCharge?
        if let card {
            let description = "\(productName): the rest of the current period"
            var new = Charges.NewCharge(customerID: try row.string("customer_id"), paymentMethodID: try row.optionalString("default_payment_method"),
                                        amount: due, description: description, installments: 1, metadata: [:], card: card)
            new.id = services.ids.make(.charge)
            new.subscriptionID = id
            new.documentLines = [DocumentLine(description: description, quantity: 1, unitAmount: due)]
            charge = new
        }
        let newCharge = charge, latestCharge = try charge?.id ?? row.optionalString("latest_charge")
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
                let moved = try await db.raw("""
                    UPDATE subscriptions SET price_id = \(bind: priceID), pending_price = NULL, pending_effective_at = NULL,
                      latest_charge = \(bind: latestCharge)
                    WHERE id = \(bind: id) AND price_id = \(bind: oldPriceID) AND current_period_end = \(bind: periodEnd.milliseconds) AND status IN (
                    """ + Status.sqlList(Status.runningPeriod) + ")" + notRenewing(at: now) + " RETURNING id").first()
                guard moved != nil else { throw try refusal(row, at: now, otherwise: changedMeanwhile()) }
                if let result, let newCharge { _ = try await Charges.record(newCharge, result: result, caller: caller, on: db, services: services) }
                return try await recordUpdate(id, before: try json(row), caller: caller, on: db, services: services)
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
                                   on db: any SQLDatabase) async throws -> (switch: CheckoutOffer.PlanSwitch, due: Int64, period: Int64)? {
        guard let row = try await db.raw("""
            SELECT * FROM subscriptions WHERE customer_id = \(bind: customerID) AND project_id = \(bind: caller.projectID)
              AND livemode = \(bind: caller.mode) AND status IN ('active', 'trialing') ORDER BY seq DESC LIMIT 1
            """).first(),
              let current = try await Catalog.priceRow(try row.optionalString("price_id") ?? "", caller: caller, on: db),
              let currentPlan = try Catalog.plan(current)
        else { return nil }
        guard currentPlan.interval == plan.interval, currentPlan.intervalCount == plan.intervalCount else {
            guard refuseOtherInterval else { return nil }
            throw ServiceError.rule("price_interval_mismatch", "The customer's plan bills every \(currentPlan.intervalCount) \(currentPlan.interval.rawValue)(s); a plan change keeps the billing dates, so the new price must too.")
        }
        let (old, new) = (try periodAmount(currentPlan), try periodAmount(plan))
        let fromPriceID = try current.string("id")
        let kind = fromPriceID == priceID ? PlanChange.same : PlanChange.kind(from: old, to: new)
        let periodEnd = try row.timestamp("current_period_end")
        let due = try row.string("status") == "trialing" ? 0
            : PlanChange.prorated(from: old, to: new, periodStart: try row.timestamp("current_period_start"), periodEnd: periodEnd, now: now)
        let product = try await Catalog.productRow(try current.string("product_id"), caller: caller, on: db)
        let change = CheckoutOffer.PlanSwitch(subscriptionID: try row.string("id"), fromPriceID: fromPriceID,
                                              fromProductName: try product?.string("name") ?? "", kind: kind, periodEnd: periodEnd)
        return (change, due, new)
    }

    /// Carries out a paid (or free) plan change inside the caller's transaction: an upgrade switches
    /// the price now, a downgrade is scheduled for the period end; `subscription.updated`. False
    /// when the subscription changed meanwhile (the caller then undoes what it charged).
    package static func applySwitch(_ change: CheckoutOffer.PlanSwitch, to priceID: String, chargeID: String?, paymentMethodID: String?,
                                    caller: Caller, on db: any SQLDatabase, services: AppServices) async throws -> Bool {
        guard let before = try await db.scopedRow("subscriptions", id: change.subscriptionID, caller: caller) else { return false }
        let set: SQLQueryString = change.kind == .downgrade
            ? "pending_price = \(bind: priceID), pending_effective_at = current_period_end"
            : "price_id = \(bind: priceID), pending_price = NULL, pending_effective_at = NULL, latest_charge = \(bind: try chargeID ?? before.optionalString("latest_charge"))"
        let card: SQLQueryString = paymentMethodID.map { ", default_payment_method = \(bind: $0)" } ?? ""
        let moved = try await db.raw("UPDATE subscriptions SET " + set + card + """
             WHERE id = \(bind: change.subscriptionID) AND price_id = \(bind: change.fromPriceID) AND current_period_end = \(bind: change.periodEnd.milliseconds)
              AND status IN ('active', 'trialing')
            """ + notRenewing(at: services.clock.now()) + " RETURNING id").first()
        guard moved != nil else { return false }
        _ = try await recordUpdate(change.subscriptionID, before: try json(before), caller: caller, on: db, services: services)
        return true
    }

    /// True while no renewal holds the subscription: a change made while a renewal charges would be
    /// overwritten by it, so changes wait for it (`subscription_renewing`).
    static func notRenewing(at now: Timestamp) -> SQLQueryString {
        " AND (renewal_started_at IS NULL OR renewal_started_at <= \(bind: now.adding(seconds: -Renewals.leaseSeconds).milliseconds))"
    }

    /// Why a conditional change of `row` matched nothing: a renewal in flight, or `otherwise`.
    static func refusal(_ row: any SQLRow, at now: Timestamp, otherwise: ServiceError) throws -> ServiceError {
        if let started = try row.optionalTimestamp("renewal_started_at"), started > now.adding(seconds: -Renewals.leaseSeconds) {
            return ServiceError.rule("subscription_renewing", "The subscription is being renewed right now; try again in a moment.", kind: .conflict)
        }
        return otherwise
    }
}
