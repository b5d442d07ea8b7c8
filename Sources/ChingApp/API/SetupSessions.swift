import ChingDomain
import ChingStore
import Foundation
import HTTPTypes
import Hummingbird
import SQLKit

/// A setup session as stored: a hosted page that saves a card to a customer without charging it.
struct SetupSession: HostedSession {
    let id: String
    let caller: Caller
    let customerID: String
    let storedStatus: HostedSessionStatus
    let successURL: String
    let cancelURL: String
    let csrfToken: String
    let lockedUntil: Timestamp?
    let paymentMethodID: String?
    let metadata: JSONValue
    let expiresAt: Timestamp
    let created: Timestamp

    init(_ row: any SQLRow) throws {
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

    static let idPlaceholder = "{SETUP_SESSION_ID}"

    static func load(_ id: String, on db: any SQLDatabase) async throws -> SetupSession? {
        try await db.raw("SELECT * FROM setup_sessions WHERE id = \(bind: id)").first().map(SetupSession.init)
    }
}

/// `/setup_sessions`: save a card for later, on a hosted page.
struct SetupSessionsAPI: Sendable {
    let services: AppServices
    static let lifetimeSeconds: Int64 = 24 * 3600

    func addRoutes(to group: RouterGroup<AppRequestContext>, endpoint: EndpointWrapper) {
        group.post("setup_sessions", use: endpoint(create))
        group.get("setup_sessions", use: endpoint(list))
        group.get("setup_sessions/:id", use: endpoint(retrieve))
        group.post("setup_sessions/:id/cancel", use: endpoint(cancel))
        group.get("setup_sessions/:id/public", use: endpoint.unauthenticated { _, context in
            let id = context.parameters.get("id") ?? ""
            let view = try await services.database.read { db -> JSONValue? in
                guard let session = try await SetupSession.load(id, on: db) else { return nil }
                let customer = try await db.raw("SELECT name, email FROM customers WHERE id = \(bind: session.customerID)").first()
                let project = try await db.raw("SELECT name FROM projects WHERE id = \(bind: session.caller.projectID)").first()
                return .object([
                    "id": .string(session.id), "object": "setup_session_public", "status": .string(session.status(at: services.clock.now()).rawValue),
                    "merchant": .object(["name": .string(try project?.string("name") ?? "")]),
                    "customer": .object(["name": .string(try customer?.string("name") ?? ""), "email": .optional(try customer?.optionalString("email"))]),
                    "cancel_url": .string(session.cancelURL), "expires_at": .string(session.expiresAt.iso8601),
                ])
            }
            guard let view else { throw APIError.notFound("setup_session", id) }
            return APIResponse(view)
        })
    }

    /// POST /setup_sessions
    @Sendable func create(_ call: APICall) async throws -> APIResponse {
        var reader = call.reader(allowing: ["customer", "success_url", "cancel_url", "metadata"])
        let customerID = reader.id("customer", required: true, prefix: .customer)
        let successURL = reader.url("success_url", required: true, allowHTTP: !call.caller.livemode)
        let cancelURL = reader.url("cancel_url", required: true, allowHTTP: !call.caller.livemode)
        let metadata = reader.metadata() ?? [:]
        try reader.throwIfInvalid()
        let now = services.clock.now()
        let id = services.ids.make(.setupSession)
        let caller = call.caller
        let session = try await services.database.transaction { db in
            _ = try await CustomersAPI.requireActive(customerID!, caller: caller, on: db)
            try await db.raw("""
                INSERT INTO setup_sessions (id, project_id, livemode, customer_id, status, success_url, cancel_url, csrf_token, metadata, expires_at, created)
                VALUES (\(bind: id), \(bind: caller.projectID), \(bind: caller.mode), \(bind: customerID!), 'pending', \(bind: successURL!),
                  \(bind: cancelURL!), \(bind: services.ids.hex(byteCount: 24)), \(bind: metadata.storedJSON),
                  \(bind: now.adding(seconds: Self.lifetimeSeconds).milliseconds), \(bind: now.milliseconds))
                """).run()
            return try await Self.load(id, caller: caller, on: db, services: services)!
        }
        return APIResponse(session)
    }

    /// GET /setup_sessions/:id
    @Sendable func retrieve(_ call: APICall) async throws -> APIResponse {
        let session = try await services.database.read { db in try await Self.load(call.id, caller: call.caller, on: db, services: services) }
        guard let session else { throw APIError.notFound("setup_session", call.id) }
        return APIResponse(session)
    }

    /// GET /setup_sessions
    @Sendable func list(_ call: APICall) async throws -> APIResponse {
        try await services.database.read { db in
            let page = try await ListPage.read(call, table: "setup_sessions", on: db)
            let rows = try await page.rows(on: db)
            return page.response(try rows.map { try Self.json(try SetupSession($0), services: services) })
        }
    }

    /// POST /setup_sessions/:id/cancel (pending only): answers `{id, status: "canceled"}`.
    @Sendable func cancel(_ call: APICall) async throws -> APIResponse {
        try call.reader(allowing: []).throwIfInvalid()
        let now = services.clock.now()
        try await services.database.transaction { db in
            guard let session = try await db.scopedRow("setup_sessions", id: call.id, caller: call.caller).map(SetupSession.init) else {
                throw APIError.notFound("setup_session", call.id)
            }
            guard try await HostedSessionRows(.setup).apply(.cancel, to: call.id, at: now, on: db) else {
                throw APIError.rule("SESSION_NOT_PENDING", "Only a pending setup session can be canceled; this one is \(session.status(at: now).rawValue).", status: .conflict)
            }
        }
        return APIResponse(.object(["id": .string(call.id), "status": "canceled"]))
    }

    static func load(_ id: String, caller: Caller, on db: any SQLDatabase, services: AppServices) async throws -> JSONValue? {
        try await db.scopedRow("setup_sessions", id: id, caller: caller).map { try json(try SetupSession($0), services: services) }
    }

    static func json(_ session: SetupSession, services: AppServices) throws -> JSONValue {
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
}
