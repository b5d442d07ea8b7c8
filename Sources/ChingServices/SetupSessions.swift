import ChingDomain
import ChingStore
import SQLKit

/// A setup session as stored: a hosted page that saves a card to a customer without charging it.
package struct SetupSession: HostedSession {
    package let id: String
    package let caller: Caller
    package let customerID: String
    package let storedStatus: HostedSessionStatus
    package let successURL: String
    package let cancelURL: String
    package let csrfToken: String
    package let lockedUntil: Timestamp?
    package let paymentMethodID: String?
    package let metadata: JSONValue
    package let expiresAt: Timestamp
    package let created: Timestamp

    package init(_ row: any SQLRow) throws {
        id = try row.string("id")
        caller = Caller(projectID: try row.string("project_id"), livemode: try row.bool("livemode"))
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
    }

    package static let idPlaceholder = "{SETUP_SESSION_ID}"

    package static func load(_ id: String, on db: any SQLDatabase) async throws -> SetupSession? {
        try await db.raw("SELECT * FROM setup_sessions WHERE id = \(bind: id)").first().map(SetupSession.init)
    }
}

/// Setup sessions as the API returns them.
package enum SetupSessions {
    package static let lifetimeSeconds: Int64 = 24 * 3600

    package static func load(_ id: String, caller: Caller, on db: any SQLDatabase, services: AppServices) async throws -> JSONValue? {
        try await db.scopedRow("setup_sessions", id: id, caller: caller).map { try json(try SetupSession($0), services: services) }
    }

    package static func json(_ session: SetupSession, services: AppServices) throws -> JSONValue {
        .object([
            "id": .string(session.id),
            "object": "setup_session",
            "customer": .string(session.customerID),
            "status": .string(session.status(at: services.clock.now()).rawValue),
            "url": .string("\(services.publicURL)/setup/\(session.id)"),
            "success_url": .string(session.successURL),
            "cancel_url": .string(session.cancelURL),
            "payment_method": .optional(session.paymentMethodID),
            "metadata": session.metadata,
            "livemode": .bool(session.caller.livemode),
            "expires_at": .string(session.expiresAt.iso8601),
            "created": .string(session.created.iso8601),
        ])
    }

    /// Opens a hosted page that saves a card to the customer.
    package static func create(customerID: String, successURL: String, cancelURL: String, metadata: [String: String], caller: Caller,
                               services: AppServices) async throws -> JSONValue {
        let now = services.clock.now()
        let id = services.ids.make(.setupSession)
        return try await services.database.transaction { db in
            _ = try await Customers.requireActive(customerID, caller: caller, on: db)
            try await db.raw("""
                INSERT INTO setup_sessions (id, project_id, livemode, customer_id, status, success_url, cancel_url, csrf_token, metadata, expires_at, created)
                VALUES (\(bind: id), \(bind: caller.projectID), \(bind: caller.mode), \(bind: customerID), 'pending', \(bind: successURL),
                  \(bind: cancelURL), \(bind: services.ids.hex(byteCount: 24)), \(bind: metadata.storedJSON),
                  \(bind: now.adding(seconds: lifetimeSeconds).milliseconds), \(bind: now.milliseconds))
                """).run()
            return try await load(id, caller: caller, on: db, services: services)!
        }
    }

    /// Withdraws a pending setup session; `SESSION_NOT_PENDING` otherwise.
    package static func cancel(_ id: String, caller: Caller, services: AppServices) async throws -> JSONValue {
        let now = services.clock.now()
        try await services.database.transaction { db in
            guard let session = try await db.scopedRow("setup_sessions", id: id, caller: caller).map(SetupSession.init) else {
                throw ServiceError.notFound("setup_session", id)
            }
            guard try await HostedSessionRows(.setup).apply(.cancel, to: id, at: now, on: db) else {
                throw ServiceError.rule("SESSION_NOT_PENDING", "Only a pending setup session can be canceled; this one is \(session.status(at: now).rawValue).", kind: .conflict)
            }
        }
        return .object(["id": .string(id), "status": "canceled"])
    }
}
