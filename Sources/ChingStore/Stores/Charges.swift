import ChingDomain
import SQLKit

/// A charge as stored.
public struct Charge: Sendable {
    public let id: String
    public let caller: Caller
    public let customerID: String
    public let paymentMethodID: String?
    public let amount: Int64
    public let currency: String
    /// `succeeded`, `requires_capture`, `failed` or `canceled`.
    public let status: String
    public let description: String?
    public let installments: Int64
    public let captured: Bool
    public let amountCaptured: Int64
    public let refundedAmount: Int64
    public let failureCode: String?
    public let failureMessage: String?
    public let documentID: String?
    public let checkoutSessionID: String?
    public let lineItems: JSONValue?
    public let subscriptionID: String?
    /// The provider's id for the payment (refunds, capture and void name it).
    public let providerReference: String?
    public let capturableUntil: Timestamp?
    public let cancellationReason: String?
    public let cardBrand: String
    /// Empty when unknown.
    public let cardLast4: String
    /// `automatic` or `manual`.
    public let captureMethod: String
    public let authorizedAt: Timestamp?
    public let capturedAt: Timestamp?
    public let metadata: JSONValue
    public let created: Timestamp
    /// The customer's name (read for lists only).
    public let customerName: String?

    public init(id: String, caller: Caller, customerID: String, paymentMethodID: String?, amount: Int64, status: String, description: String?,
                installments: Int64, amountCaptured: Int64, failureCode: String?, failureMessage: String?, checkoutSessionID: String?,
                lineItems: JSONValue?, subscriptionID: String?, providerReference: String?, capturableUntil: Timestamp?, cardBrand: String,
                cardLast4: String, captureMethod: String, authorizedAt: Timestamp?, capturedAt: Timestamp?, metadata: JSONValue, created: Timestamp) {
        self.id = id; self.caller = caller; self.customerID = customerID; self.paymentMethodID = paymentMethodID; self.amount = amount
        self.currency = "ils"; self.status = status; self.description = description; self.installments = installments
        self.captured = status == "succeeded"; self.amountCaptured = amountCaptured; self.refundedAmount = 0; self.failureCode = failureCode
        self.failureMessage = failureMessage; self.documentID = nil; self.checkoutSessionID = checkoutSessionID; self.lineItems = lineItems
        self.subscriptionID = subscriptionID; self.providerReference = providerReference; self.capturableUntil = capturableUntil
        self.cancellationReason = nil; self.cardBrand = cardBrand; self.cardLast4 = cardLast4; self.captureMethod = captureMethod
        self.authorizedAt = authorizedAt; self.capturedAt = capturedAt; self.metadata = metadata; self.created = created; self.customerName = nil
    }

    init(_ row: any SQLRow) throws {
        id = try row.string("id")
        caller = try row.caller()
        customerID = try row.string("customer_id")
        paymentMethodID = try row.optionalString("payment_method_id")
        amount = try row.int("amount")
        currency = try row.string("currency")
        status = try row.string("status")
        description = try row.optionalString("description")
        installments = try row.int("installments")
        captured = try row.bool("captured")
        amountCaptured = try row.int("amount_captured")
        refundedAmount = try row.int("refunded_amount")
        failureCode = try row.optionalString("failure_code")
        failureMessage = try row.optionalString("failure_message")
        documentID = try row.optionalString("document_id")
        checkoutSessionID = try row.optionalString("checkout_session_id")
        lineItems = try row.optionalJSON("line_items")
        subscriptionID = try row.optionalString("subscription_id")
        providerReference = try row.optionalString("provider_reference")
        capturableUntil = try row.optionalTimestamp("capturable_until")
        cancellationReason = try row.optionalString("cancellation_reason")
        cardBrand = try row.string("card_brand")
        cardLast4 = try row.string("card_last4")
        captureMethod = try row.string("capture_method")
        authorizedAt = try row.optionalTimestamp("authorized_at")
        capturedAt = try row.optionalTimestamp("captured_at")
        metadata = try row.metadata()
        created = try row.timestamp("created")
        customerName = try row.listedCustomerName()
    }
}

/// A refund as stored.
public struct Refund: Sendable {
    public let id: String
    public let caller: Caller
    public let chargeID: String
    public let amount: Int64
    public let currency: String
    public let reason: String?
    /// `pending` while the provider is asked, then `succeeded` or `failed`.
    public let status: String
    public let documentID: String?
    public let providerReference: String?
    public let metadata: JSONValue
    public let created: Timestamp
    /// The charge's customer's name (read for lists only).
    public let customerName: String?

    init(_ row: any SQLRow) throws {
        id = try row.string("id")
        caller = try row.caller()
        chargeID = try row.string("charge_id")
        amount = try row.int("amount")
        currency = try row.string("currency")
        reason = try row.optionalString("reason")
        status = try row.string("status")
        documentID = try row.optionalString("document_id")
        providerReference = try row.optionalString("provider_reference")
        metadata = try row.metadata()
        created = try row.timestamp("created")
        customerName = try row.listedCustomerName()
    }
}

/// The `charges` table. Status changes are conditional on the status they leave, so a capture
/// and a void (or two captures) cannot both happen.
public struct ChargeStore: Sendable {
    let db: any SQLDatabase

    public func find(_ id: String, caller: Caller) async throws -> Charge? {
        try await db.scopedRow("charges", id: id, caller: caller).map(Charge.init)
    }

    public func insert(_ charge: Charge) async throws {
        try await db.raw("""
            INSERT INTO charges (id, project_id, livemode, customer_id, payment_method_id, amount, currency, status, description,
              installments, captured, amount_captured, refunded_amount, failure_code, failure_message, checkout_session_id,
              line_items, subscription_id, provider_reference, capturable_until, card_brand, card_last4, capture_method,
              authorized_at, captured_at, metadata, created)
            VALUES (\(bind: charge.id), \(bind: charge.caller.projectID), \(bind: charge.caller.mode), \(bind: charge.customerID),
              \(bind: charge.paymentMethodID), \(bind: charge.amount), \(bind: charge.currency), \(bind: charge.status), \(bind: charge.description),
              \(bind: charge.installments), \(bind: charge.captured.stored), \(bind: charge.amountCaptured), \(bind: charge.refundedAmount),
              \(bind: charge.failureCode), \(bind: charge.failureMessage), \(bind: charge.checkoutSessionID), \(bind: charge.lineItems?.serialized()),
              \(bind: charge.subscriptionID), \(bind: charge.providerReference), \(bind: charge.capturableUntil?.milliseconds),
              \(bind: charge.cardBrand), \(bind: charge.cardLast4), \(bind: charge.captureMethod), \(bind: charge.authorizedAt?.milliseconds),
              \(bind: charge.capturedAt?.milliseconds), \(bind: charge.metadata.serialized()), \(bind: charge.created.milliseconds))
            """).run()
    }

    public func setDocument(_ documentID: String, of chargeID: String) async throws {
        try await db.raw("UPDATE charges SET document_id = \(bind: documentID) WHERE id = \(bind: chargeID)").run()
    }

    /// An authorization → `succeeded` with `amount` captured; false when it is no longer authorized.
    public func capture(_ id: String, amount: Int64, at now: Timestamp) async throws -> Bool {
        try await db.raw("""
            UPDATE charges SET status = 'succeeded', captured = 1, amount_captured = \(bind: amount), captured_at = \(bind: now.milliseconds)
            WHERE id = \(bind: id) AND status = 'requires_capture' RETURNING id
            """).first() != nil
    }

    /// An authorization → `canceled` for `reason`; false when it is no longer authorized.
    public func cancelAuthorization(_ id: String, reason: String) async throws -> Bool {
        try await db.raw("""
            UPDATE charges SET status = 'canceled', cancellation_reason = \(bind: reason)
            WHERE id = \(bind: id) AND status = 'requires_capture' RETURNING id
            """).first() != nil
    }

    /// Sets `amount` aside for a refund while at least that much of a succeeded charge is not refunded yet; false otherwise.
    public func reserveRefund(_ id: String, amount: Int64) async throws -> Bool {
        try await db.raw("""
            UPDATE charges SET refunded_amount = refunded_amount + \(bind: amount)
            WHERE id = \(bind: id) AND status = 'succeeded' AND amount_captured - refunded_amount >= \(bind: amount) RETURNING id
            """).first() != nil
    }

    /// Gives back an amount set aside by `reserveRefund` (the provider refused the refund).
    public func releaseRefund(_ id: String, amount: Int64) async throws {
        try await db.raw("UPDATE charges SET refunded_amount = refunded_amount - \(bind: amount) WHERE id = \(bind: id)").run()
    }

    /// Authorizations whose capture window ended by `now`.
    public func authorizationsExpired(at now: Timestamp, projectID: String?) async throws -> [Charge] {
        let scope = projectScope(projectID)
        return try await db.raw("SELECT * FROM charges WHERE status = 'requires_capture' AND capturable_until <= \(bind: now.milliseconds)"
                                + scope + " ORDER BY seq LIMIT 500").all().map(Charge.init)
    }

    /// A page of charges (of one customer when given), with their customers' names, newest first.
    public func list(caller: Caller, _ request: PageRequest, customerID: String?) async throws -> Page<Charge> {
        try await db.page("charges", caller: caller, request, columns: "*, (SELECT name FROM customers c WHERE c.id = charges.customer_id) AS customer_name",
                          filter: customerID.map { " AND customer_id = \(bind: $0)" } ?? "", as: Charge.init)
    }
}

/// The `refunds` table.
public struct RefundStore: Sendable {
    let db: any SQLDatabase

    public func find(_ id: String, caller: Caller) async throws -> Refund? {
        try await db.scopedRow("refunds", id: id, caller: caller).map(Refund.init)
    }

    /// A refund being asked of the provider.
    public func insertPending(id: String, caller: Caller, chargeID: String, amount: Int64, reason: String?, metadata: JSONValue, created: Timestamp) async throws {
        try await db.raw("""
            INSERT INTO refunds (id, project_id, livemode, charge_id, amount, currency, reason, status, metadata, created)
            VALUES (\(bind: id), \(bind: caller.projectID), \(bind: caller.mode), \(bind: chargeID), \(bind: amount), 'ils',
              \(bind: reason), 'pending', \(bind: metadata.serialized()), \(bind: created.milliseconds))
            """).run()
    }

    /// Pending → failed; false when it was no longer pending.
    public func markFailed(_ id: String) async throws -> Bool {
        try await db.raw("UPDATE refunds SET status = 'failed' WHERE id = \(bind: id) AND status = 'pending' RETURNING id").first() != nil
    }

    /// Pending → succeeded; false when it was no longer pending.
    public func markSucceeded(_ id: String, providerReference: String, documentID: String) async throws -> Bool {
        try await db.raw("""
            UPDATE refunds SET status = 'succeeded', provider_reference = \(bind: providerReference), document_id = \(bind: documentID)
            WHERE id = \(bind: id) AND status = 'pending' RETURNING id
            """).first() != nil
    }

    /// Live refunds still `pending` created before `before` whose charge they empty (with the other
    /// pending refunds of it): the only ones Grow's record can tell about (only `projectID`'s when given).
    public func pendingEmptyingTheirCharge(before: Timestamp, limit: Int, projectID: String?) async throws -> [Refund] {
        try await db.raw("""
            SELECT r.* FROM refunds r JOIN charges c ON c.id = r.charge_id
            WHERE r.status = 'pending' AND r.livemode = 1 AND c.refunded_amount = c.amount_captured AND r.created < \(bind: before.milliseconds)
            """ + (projectID.map { " AND r.project_id = \(bind: $0)" } ?? "") + " ORDER BY r.seq LIMIT \(bind: limit)").all().map(Refund.init)
    }

    /// How many refunds of the charge are still `pending`.
    public func pendingCount(ofCharge chargeID: String) async throws -> Int64 {
        try await db.raw("SELECT COUNT(*) AS n FROM refunds WHERE charge_id = \(bind: chargeID) AND status = 'pending'").first()?.int("n") ?? 0
    }

    /// A page of refunds, with their charges' customers' names, newest first.
    public func list(caller: Caller, _ request: PageRequest) async throws -> Page<Refund> {
        try await db.page("refunds", caller: caller, request,
                          columns: "*, (SELECT c.name FROM charges ch JOIN customers c ON c.id = ch.customer_id WHERE ch.id = refunds.charge_id) AS customer_name",
                          as: Refund.init)
    }
}

extension SQLDatabase {
    public var charges: ChargeStore { ChargeStore(db: self) }
    public var refunds: RefundStore { RefundStore(db: self) }
}
