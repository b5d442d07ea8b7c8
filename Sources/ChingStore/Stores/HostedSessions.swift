import ChingDomain
import SQLKit

/// A checkout session as stored.
public struct CheckoutSession: Sendable {
    public enum Kind: String, Sendable { case oneTime = "one_time", subscription, cart, mixed }

    public let id: String
    public let caller: Caller
    public let customerID: String
    public let kind: Kind
    public let priceID: String?
    public let lines: [CartLine]
    public let successURL: String
    public let cancelURL: String
    public let createDocument: Bool
    public let manualCapture: Bool
    public let locale: Language?
    public let storedStatus: HostedSessionStatus
    public let csrfToken: String
    public let failedAttempts: Int64
    public let lockedUntil: Timestamp?
    public let attemptStartedAt: Timestamp?
    public let chargeID: String?
    public let subscriptionID: String?
    public let paymentMethodID: String?
    public let metadata: JSONValue
    public let expiresAt: Timestamp
    public let completedAt: Timestamp?
    public let created: Timestamp

    init(_ row: any SQLRow) throws {
        id = try row.string("id")
        caller = try row.caller()
        customerID = try row.string("customer_id")
        kind = Kind(rawValue: try row.string("kind")) ?? .cart
        priceID = try row.optionalString("price_id")
        lines = CartLine.lines(try row.optionalJSON("line_items") ?? .null)
        successURL = try row.string("success_url")
        cancelURL = try row.string("cancel_url")
        createDocument = try row.bool("create_document")
        manualCapture = try row.string("capture_method") == "manual"
        locale = try row.optionalString("locale").flatMap(Language.init(rawValue:))
        storedStatus = HostedSessionStatus(rawValue: try row.string("status")) ?? .pending
        csrfToken = try row.string("csrf_token")
        failedAttempts = try row.int("failed_attempts")
        lockedUntil = try row.optionalTimestamp("locked_until")
        attemptStartedAt = try row.optionalTimestamp("attempt_started_at")
        chargeID = try row.optionalString("charge_id")
        subscriptionID = try row.optionalString("subscription_id")
        paymentMethodID = try row.optionalString("payment_method_id")
        metadata = try row.metadata()
        expiresAt = try row.timestamp("expires_at")
        completedAt = try row.optionalTimestamp("completed_at")
        created = try row.timestamp("created")
    }

    /// A new session's first state (pending, no attempt yet).
    public struct New: Sendable {
        public let id: String, caller: Caller, customerID: String, kind: Kind, priceID: String?, lines: [CartLine]?
        public let successURL: String, cancelURL: String, createDocument: Bool, manualCapture: Bool, locale: Language?
        public let csrfToken: String, metadata: JSONValue, expiresAt: Timestamp, created: Timestamp

        public init(id: String, caller: Caller, customerID: String, kind: Kind, priceID: String?, lines: [CartLine]?, successURL: String,
                    cancelURL: String, createDocument: Bool, manualCapture: Bool, locale: Language?, csrfToken: String, metadata: JSONValue,
                    expiresAt: Timestamp, created: Timestamp) {
            self.id = id; self.caller = caller; self.customerID = customerID; self.kind = kind; self.priceID = priceID; self.lines = lines
            self.successURL = successURL; self.cancelURL = cancelURL; self.createDocument = createDocument; self.manualCapture = manualCapture
            self.locale = locale; self.csrfToken = csrfToken; self.metadata = metadata; self.expiresAt = expiresAt; self.created = created
        }
    }
}

/// A setup session as stored: a hosted page that saves a card to a customer without charging it.
public struct SetupSession: Sendable {
    public let id: String
    public let caller: Caller
    public let customerID: String
    public let storedStatus: HostedSessionStatus
    public let successURL: String
    public let cancelURL: String
    public let csrfToken: String
    public let lockedUntil: Timestamp?
    public let paymentMethodID: String?
    public let metadata: JSONValue
    public let expiresAt: Timestamp
    public let created: Timestamp
    /// The billing portal session that opened it, and what the portal does when the customer comes back.
    public let portalSessionID: String?
    public let portalIntent: String?

    init(_ row: any SQLRow) throws {
        id = try row.string("id")
        caller = try row.caller()
        customerID = try row.string("customer_id")
        storedStatus = HostedSessionStatus(rawValue: try row.string("status")) ?? .pending
        successURL = try row.string("success_url")
        cancelURL = try row.string("cancel_url")
        csrfToken = try row.string("csrf_token")
        lockedUntil = try row.optionalTimestamp("locked_until")
        paymentMethodID = try row.optionalString("payment_method_id")
        metadata = try row.metadata()
        expiresAt = try row.timestamp("expires_at")
        created = try row.timestamp("created")
        portalSessionID = try row.optionalString("portal_session_id")
        portalIntent = try row.optionalString("portal_intent")
    }
}

/// A card parked while its customer answers the 3-D Secure challenge.
public struct AuthenticationAttempt: Sendable {
    public let id: String
    public let sessionID: String
    /// The provider's token for the card, and what may be shown of it.
    public let token: String
    public let brand: String
    public let last4: String
    public let expMonth: Int64
    public let expYear: Int64
    public let issuerCountry: String
    public let supportsInstallments: Bool
    public let installments: Int64
    public let created: Timestamp

    public init(id: String, sessionID: String, token: String, brand: String, last4: String, expMonth: Int64, expYear: Int64,
                issuerCountry: String, supportsInstallments: Bool, installments: Int64, created: Timestamp) {
        self.id = id; self.sessionID = sessionID; self.token = token; self.brand = brand; self.last4 = last4; self.expMonth = expMonth
        self.expYear = expYear; self.issuerCountry = issuerCountry; self.supportsInstallments = supportsInstallments
        self.installments = installments; self.created = created
    }

    init(_ row: any SQLRow) throws {
        self.init(id: try row.string("id"), sessionID: try row.string("session_id"), token: try row.string("token"), brand: try row.string("brand"),
                  last4: try row.string("last4"), expMonth: try row.int("exp_month"), expYear: try row.int("exp_year"),
                  issuerCountry: try row.string("issuer_country"), supportsInstallments: try row.bool("supports_installments"),
                  installments: try row.int("installments"), created: try row.timestamp("created"))
    }
}

/// The `checkout_sessions` table's records.
public struct CheckoutSessionStore: Sendable {
    let db: any SQLDatabase

    /// A session by id alone (the hosted page's id is its address).
    public func find(_ id: String) async throws -> CheckoutSession? {
        try await db.raw("SELECT * FROM checkout_sessions WHERE id = \(bind: id)").first().map(CheckoutSession.init)
    }

    public func find(_ id: String, caller: Caller) async throws -> CheckoutSession? {
        try await db.scopedRow("checkout_sessions", id: id, caller: caller).map(CheckoutSession.init)
    }

    /// The session that sold a charge.
    public func find(chargeID: String) async throws -> CheckoutSession? {
        try await db.raw("SELECT * FROM checkout_sessions WHERE charge_id = \(bind: chargeID)").first().map(CheckoutSession.init)
    }

    public func insert(_ new: CheckoutSession.New) async throws {
        try await db.raw("""
            INSERT INTO checkout_sessions (id, project_id, livemode, customer_id, kind, price_id, line_items, success_url, cancel_url,
              create_document, capture_method, locale, status, csrf_token, metadata, expires_at, created)
            VALUES (\(bind: new.id), \(bind: new.caller.projectID), \(bind: new.caller.mode), \(bind: new.customerID), \(bind: new.kind.rawValue),
              \(bind: new.priceID), \(bind: new.lines.map { JSONValue.array($0.map(\.json)).serialized() }), \(bind: new.successURL),
              \(bind: new.cancelURL), \(bind: new.createDocument.stored), \(bind: new.manualCapture ? "manual" : "automatic"),
              \(bind: new.locale?.rawValue), 'pending', \(bind: new.csrfToken), \(bind: new.metadata.serialized()),
              \(bind: new.expiresAt.milliseconds), \(bind: new.created.milliseconds))
            """).run()
    }

    public func list(caller: Caller, _ request: PageRequest) async throws -> Page<CheckoutSession> {
        try await db.page("checkout_sessions", caller: caller, request, as: CheckoutSession.init)
    }
}

/// The `setup_sessions` table's records.
public struct SetupSessionStore: Sendable {
    let db: any SQLDatabase

    public func find(_ id: String) async throws -> SetupSession? {
        try await db.raw("SELECT * FROM setup_sessions WHERE id = \(bind: id)").first().map(SetupSession.init)
    }

    public func find(_ id: String, caller: Caller) async throws -> SetupSession? {
        try await db.scopedRow("setup_sessions", id: id, caller: caller).map(SetupSession.init)
    }

    /// `portal`: the billing portal session that opens it and what it does on the customer's return.
    public func insert(id: String, caller: Caller, customerID: String, successURL: String, cancelURL: String, csrfToken: String,
                       metadata: JSONValue, expiresAt: Timestamp, created: Timestamp, portal: (sessionID: String, intent: String)? = nil) async throws {
        try await db.raw("""
            INSERT INTO setup_sessions (id, project_id, livemode, customer_id, status, success_url, cancel_url, csrf_token, metadata, expires_at,
              created, portal_session_id, portal_intent)
            VALUES (\(bind: id), \(bind: caller.projectID), \(bind: caller.mode), \(bind: customerID), 'pending', \(bind: successURL),
              \(bind: cancelURL), \(bind: csrfToken), \(bind: metadata.serialized()), \(bind: expiresAt.milliseconds), \(bind: created.milliseconds),
              \(bind: portal?.sessionID), \(bind: portal?.intent))
            """).run()
    }

    /// Uses up the customer's way back from an ended setup session to the portal that opened it; false when it was used already.
    public func takePortalReturn(_ id: String) async throws -> Bool {
        try await db.raw("""
            UPDATE setup_sessions SET portal_returned = 1
            WHERE id = \(bind: id) AND portal_session_id IS NOT NULL AND portal_returned = 0 AND status <> 'pending' RETURNING id
            """).first() != nil
    }

    public func list(caller: Caller, _ request: PageRequest) async throws -> Page<SetupSession> {
        try await db.page("setup_sessions", caller: caller, request, as: SetupSession.init)
    }
}

extension SQLDatabase {
    public var checkoutSessions: CheckoutSessionStore { CheckoutSessionStore(db: self) }
    public var setupSessions: SetupSessionStore { SetupSessionStore(db: self) }
    /// The status and attempt changes of one kind of hosted session.
    public func hostedSessions(_ table: HostedSessionRows.Table) -> HostedSessionRows { HostedSessionRows(db: self, table: table) }
    public var serverInstances: ServerInstances { ServerInstances(db: self) }
}

/// The servers running, each writing a heartbeat: an attempt whose server stopped beating is abandoned.
public struct ServerInstances: Sendable {
    let db: any SQLDatabase

    /// Writes `server`'s heartbeat (and its row, if it was cleared away).
    public func beat(_ server: String, at now: Timestamp) async throws {
        try await db.raw("""
            INSERT INTO server_instances (id, started, heartbeat_at) VALUES (\(bind: server), \(bind: now.milliseconds), \(bind: now.milliseconds))
            ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at
            """).run()
    }

    /// Clears away the rows of servers silent since before `silentSince`.
    public func removeSilent(since silentSince: Timestamp) async throws {
        try await db.raw("DELETE FROM server_instances WHERE heartbeat_at < \(bind: silentSince.milliseconds)").run()
    }

    /// A server that stops says so.
    public func remove(_ server: String) async throws {
        try await db.raw("DELETE FROM server_instances WHERE id = \(bind: server)").run()
    }
}

/// The rows of hosted sessions (`checkout_sessions`, `setup_sessions`): every change of their
/// status, and of the attempt lease that keeps two payments off one session, is written here,
/// with the conditions of `HostedSessionStatus.after(_:at:expiresAt:)` spelled in SQL so that two
/// racing changes cannot both happen.
public struct HostedSessionRows: Sendable {
    public enum Table: String, Sendable { case checkout = "checkout_sessions", setup = "setup_sessions" }

    let db: any SQLDatabase
    public let table: Table

    /// The longest an attempt may run while its server is alive (a provider call hung past its own timeouts).
    public static let leaseSeconds: Int64 = 120
    /// A server that has not written its heartbeat for this long is taken to have died (three missed beats).
    public static let silentServerSeconds: Int64 = 15

    /// One attempt's hold on a session: who took it and when. Every write that ends the attempt
    /// names it, so an attempt whose lease was taken over (its server was judged dead) can no
    /// longer complete, release or fail the session under the new holder.
    public struct Lease: Sendable, Equatable {
        public let owner: String
        public let startedAt: Timestamp
    }

    /// The condition that no attempt is running on the row: none was started, or its lease has
    /// run out, or the server that took it has stopped beating (it died mid-attempt). A lease taken
    /// before servers were named (no owner) only runs out.
    static func noLiveAttempt(now: Timestamp) -> SQLQueryString {
        """
        (attempt_started_at IS NULL OR attempt_started_at < \(bind: now.adding(seconds: -leaseSeconds).milliseconds)
          OR (attempt_owner IS NOT NULL AND attempt_owner NOT IN (SELECT id FROM server_instances
            WHERE heartbeat_at >= \(bind: now.adding(seconds: -silentServerSeconds).milliseconds))))
        """
    }

    private static func held(by lease: Lease) -> SQLQueryString {
        " AND attempt_owner = \(bind: lease.owner) AND attempt_started_at = \(bind: lease.startedAt.milliseconds)"
    }

    /// What a completed session made: its charge, subscription and card (a setup session has only a card).
    public struct Results: Sendable {
        public let chargeID: String?, subscriptionID: String?, paymentMethodID: String?
        public init(chargeID: String? = nil, subscriptionID: String? = nil, paymentMethodID: String?) {
            self.chargeID = chargeID; self.subscriptionID = subscriptionID; self.paymentMethodID = paymentMethodID
        }

        var columns: SQLQueryString {
            var set: SQLQueryString = ""
            if let chargeID { set = set + ", charge_id = \(bind: chargeID)" }
            if let subscriptionID { set = set + ", subscription_id = \(bind: subscriptionID)" }
            if let paymentMethodID { set = set + ", payment_method_id = \(bind: paymentMethodID)" }
            return set
        }
    }

    /// Makes `change` if the session may make it now; false when it may not (no longer pending,
    /// the wrong side of its expiry, an attempt still running, or, for a completion, the lease
    /// `by` no longer held). A completion writes its `results` and ends the attempt that made it.
    public func apply(_ change: HostedSessionStatus.Change, to id: String, at now: Timestamp, by lease: Lease? = nil,
                      results: Results? = nil) async throws -> Bool {
        let set = results?.columns ?? ""
        let condition: SQLQueryString = switch change {
        case .complete: lease.map(Self.held(by:)) ?? ""
        case .expire: " AND expires_at <= \(bind: now.milliseconds) AND \(Self.noLiveAttempt(now: now))"
        case .cancel: " AND expires_at > \(bind: now.milliseconds) AND \(Self.noLiveAttempt(now: now))"
        }
        let ending: SQLQueryString = change == .complete ? ", attempt_started_at = NULL, completed_at = \(bind: now.milliseconds)" : ""
        return try await db.raw("UPDATE \(unsafeRaw: table.rawValue) SET status = \(bind: change.outcome.rawValue)" + ending + set
                                + " WHERE id = \(bind: id) AND status = 'pending'" + condition + " RETURNING id").first() != nil
    }

    /// Takes the session's attempt lease for `owner` (this server, whose heartbeat is written in
    /// the same transaction: a server that takes a lease is alive); nil when another attempt holds
    /// it, or the session is locked or no longer payable.
    public func claimAttempt(_ id: String, owner: String, at now: Timestamp) async throws -> Lease? {
        try await db.serverInstances.beat(owner, at: now)
        let claimed = try await db.raw("""
            UPDATE \(unsafeRaw: table.rawValue) SET attempt_started_at = \(bind: now.milliseconds), attempt_owner = \(bind: owner)
            WHERE id = \(bind: id) AND status = 'pending' AND expires_at > \(bind: now.milliseconds)
              AND (locked_until IS NULL OR locked_until <= \(bind: now.milliseconds)) AND \(Self.noLiveAttempt(now: now))
            RETURNING id
            """).first() != nil
        return claimed ? Lease(owner: owner, startedAt: now) : nil
    }

    /// Ends the attempt without a result (it was handed to 3-D Secure, or failed on our side), if `lease` still holds it.
    public func releaseAttempt(_ id: String, lease: Lease) async throws {
        try await db.raw("UPDATE \(unsafeRaw: table.rawValue) SET attempt_started_at = NULL WHERE id = \(bind: id)" + Self.held(by: lease)).run()
    }

    /// Counts a failed attempt: every `failuresBeforeLock`-th failure locks the session until
    /// `lockedUntil`. With the attempt's `lease`, it also ends that attempt (if it still holds the
    /// session); without one (a 3-D Secure challenge failed, no attempt running), it only counts.
    public func recordFailedAttempt(_ id: String, lease: Lease?, failuresBeforeLock: Int64, lockedUntil: Timestamp) async throws {
        let ending: SQLQueryString = lease.map { lease in
            "attempt_started_at = CASE WHEN attempt_owner = \(bind: lease.owner) AND attempt_started_at = \(bind: lease.startedAt.milliseconds) THEN NULL ELSE attempt_started_at END, "
        } ?? ""
        try await db.raw("UPDATE \(unsafeRaw: table.rawValue) SET " + ending + """
            failed_attempts = failed_attempts + 1,
              locked_until = CASE WHEN (failed_attempts + 1) % \(bind: failuresBeforeLock) = 0 THEN \(bind: lockedUntil.milliseconds) ELSE locked_until END
            WHERE id = \(bind: id)
            """).run()
    }

    /// Pending sessions past their expiry with no attempt running.
    public func expired(at now: Timestamp, projectID: String?) async throws -> [String] {
        let scope = projectScope(projectID)
        return try await db.raw("""
            SELECT id FROM \(unsafeRaw: table.rawValue) WHERE status = 'pending' AND expires_at <= \(bind: now.milliseconds)
              AND \(Self.noLiveAttempt(now: now))
            """ + scope + " ORDER BY seq LIMIT 500").all().map { try $0.string("id") }
    }

    /// Parks a card for its 3-D Secure challenge and ends the attempt that asked for it.
    public func startAuthentication(_ attempt: AuthenticationAttempt, lease: Lease) async throws {
        try await db.raw("""
            INSERT INTO authentication_attempts (id, session_id, token, brand, last4, exp_month, exp_year, issuer_country,
              supports_installments, installments, status, created)
            VALUES (\(bind: attempt.id), \(bind: attempt.sessionID), \(bind: attempt.token), \(bind: attempt.brand), \(bind: attempt.last4),
              \(bind: attempt.expMonth), \(bind: attempt.expYear), \(bind: attempt.issuerCountry), \(bind: attempt.supportsInstallments.stored),
              \(bind: attempt.installments), 'pending', \(bind: attempt.created.milliseconds))
            """).run()
        try await releaseAttempt(attempt.sessionID, lease: lease)
    }

    /// Uses up a pending challenge (once), `passed` or not; nil when there is no such pending challenge.
    public func answerAuthentication(_ attemptID: String, sessionID: String, passed: Bool) async throws -> AuthenticationAttempt? {
        try await db.raw("""
            UPDATE authentication_attempts SET status = \(bind: passed ? "passed" : "failed")
            WHERE id = \(bind: attemptID) AND session_id = \(bind: sessionID) AND status = 'pending' RETURNING *
            """).first().map(AuthenticationAttempt.init)
    }
}
