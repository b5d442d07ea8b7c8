import ChingDomain
import ChingStore
import SQLKit

/// Subscriptions: starting one from a plan's checkout; the object as the API returns it.
package enum Subscriptions {
    /// Starts a subscription inside the checkout's transaction (`subscription.created`): trialing
    /// until the trial ends, otherwise active with its first period paid by `chargeID`.
    package static func create(id: String, customerID: String, priceID: String, plan: Plan, paymentMethodID: String?, chargeID: String?, sessionID: String,
                       metadata: JSONValue, caller: Caller, on db: any SQLDatabase, services: AppServices) async throws {
        let now = services.clock.now()
        let periodEnd = BillingSchedule.firstBilling(of: plan, at: now)
        try await db.raw("""
            INSERT INTO subscriptions (id, project_id, livemode, customer_id, status, metadata, created, price_id, item_id, default_payment_method,
              billing_cycle_anchor, current_period_start, current_period_end, trial_end, latest_charge, checkout_session_id)
            VALUES (\(bind: id), \(bind: caller.projectID), \(bind: caller.mode), \(bind: customerID), \(bind: plan.hasTrial ? "trialing" : "active"),
              \(bind: metadata.serialized()), \(bind: now.milliseconds), \(bind: priceID), \(bind: services.ids.make(.subscriptionItem)),
              \(bind: paymentMethodID), \(bind: periodEnd.milliseconds), \(bind: now.milliseconds), \(bind: periodEnd.milliseconds),
              \(bind: plan.hasTrial ? periodEnd.milliseconds : nil), \(bind: chargeID), \(bind: sessionID))
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
            "metadata": try row.metadata(),
            "livemode": .bool(try row.bool("livemode")),
            "created": .string(try row.timestamp("created").iso8601),
        ])
    }
}
