import ChingDomain
import ChingStore

extension SetupSession: HostedSession {
    package static let idPlaceholder = "{SETUP_SESSION_ID}"
}

/// Setup sessions as the API returns them.
package enum SetupSessions {
    package static let lifetimeSeconds: Int64 = 24 * 3600

    package static func load(_ id: String, caller: Caller, on db: Store, services: AppServices) async throws -> JSONValue? {
        try await db.setupSessions.find(id, caller: caller).map { try json($0, services: services) }
    }

    package static func json(_ session: SetupSession, services: AppServices) throws -> JSONValue {
        .object([
            "id": .string(session.id),
            "object": "setup_session",
            "customer": .string(session.customerID),
            "status": .string(Self.publicStatus(session, at: services.clock.now())),
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

    /// In live mode the card is taken on the provider's page: a session waiting for it reads `requires_action` (API.md).
    package static func publicStatus(_ session: SetupSession, at now: Timestamp) -> String {
        let status = session.status(at: now)
        return status == .pending && session.caller.livemode ? "requires_action" : status.rawValue
    }

    /// Opens a hosted page that saves a card to the customer. `portal`: the billing portal session
    /// that opens it, and what it does when the customer comes back.
    package static func create(customerID: String, successURL: String, cancelURL: String, metadata: [String: String], caller: Caller,
                               services: AppServices, portal: (sessionID: String, intent: String)? = nil) async throws -> JSONValue {
        let now = services.clock.now()
        let id = services.ids.make(.setupSession)
        return try await services.database.transaction { db in
            _ = try await Customers.requireActive(customerID, caller: caller, on: db)
            try await db.setupSessions.insert(id: id, caller: caller, customerID: customerID, successURL: successURL, cancelURL: cancelURL,
                                              csrfToken: services.ids.hex(byteCount: 24), metadata: .strings(metadata),
                                              expiresAt: now.adding(seconds: lifetimeSeconds), created: now, portal: portal)
            return try await load(id, caller: caller, on: db, services: services)!
        }
    }

    /// Withdraws a pending setup session; `SESSION_NOT_PENDING` otherwise.
    package static func cancel(_ id: String, caller: Caller, services: AppServices) async throws -> JSONValue {
        let now = services.clock.now()
        try await services.database.transaction { db in
            guard let session = try await db.setupSessions.find(id, caller: caller) else {
                throw ServiceError.notFound("setup_session", id)
            }
            guard try await db.hostedSessions(.setup).apply(.cancel, to: id, at: now) else {
                throw ServiceError.rule("SESSION_NOT_PENDING", "Only a pending setup session can be canceled; this one is \(session.status(at: now).rawValue).", kind: .conflict)
            }
        }
        return .object(["id": .string(id), "status": "canceled"])
    }
}
