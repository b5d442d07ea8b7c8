import ChingDomain
import SQLKit

/// An event as stored: what changed (`data`, the object exactly as `GET` returns it, kept as its
/// serialized bytes so that every webhook retry sends the same body) and, for `*.updated`, the
/// changed fields' old values.
public struct StoredEvent: Sendable {
    public let id: String
    public let caller: Caller
    public let type: String
    /// The object's JSON, as serialized when the event was written.
    public let data: String
    public let previousAttributes: String?
    public let created: Timestamp

    public init(id: String, caller: Caller, type: String, data: String, previousAttributes: String?, created: Timestamp) {
        self.id = id; self.caller = caller; self.type = type; self.data = data
        self.previousAttributes = previousAttributes; self.created = created
    }

    init(_ row: any SQLRow) throws {
        self.init(id: try row.string("id"), caller: Caller(projectID: try row.string("project_id"), livemode: try row.bool("livemode")),
                  type: try row.string("type"), data: try row.string("data"), previousAttributes: try row.optionalString("previous_attributes"),
                  created: try row.timestamp("created"))
    }
}

/// The event log: events are appended in the transaction of the change that caused them, with one
/// delivery row per webhook endpoint that listens for their type.
public struct EventLog: Sendable {
    let db: any SQLDatabase

    public func append(_ event: StoredEvent) async throws {
        try await db.raw("""
            INSERT INTO events (id, project_id, livemode, type, data, previous_attributes, created)
            VALUES (\(bind: event.id), \(bind: event.caller.projectID), \(bind: event.caller.mode), \(bind: event.type), \(bind: event.data),
              \(bind: event.previousAttributes), \(bind: event.created.milliseconds))
            """).run()
    }

    /// An event in the caller's project and mode.
    public func find(_ id: String, caller: Caller) async throws -> StoredEvent? {
        try await db.scopedRow("events", id: id, caller: caller).map(StoredEvent.init)
    }

    /// An event by id alone (the delivery worker, which serves every project).
    public func find(_ id: String) async throws -> StoredEvent? {
        try await db.raw("SELECT * FROM events WHERE id = \(bind: id)").first().map(StoredEvent.init)
    }

    /// A page of the caller's events (of one type when given), newest first.
    public func list(caller: Caller, _ request: PageRequest, type: String?) async throws -> Page<StoredEvent> {
        try await db.page("events", caller: caller, request, filter: type.map { " AND type = \(bind: $0)" } ?? "", as: StoredEvent.init)
    }

    /// Queues one delivery of `eventID` to each of the caller's endpoints listening for `type`
    /// (or `*`), due at `dueAt` (real time).
    public func queueDeliveries(eventID: String, type: String, caller: Caller, dueAt: Timestamp) async throws {
        let endpoints = try await db.raw("""
            SELECT id, events FROM webhook_endpoints WHERE project_id = \(bind: caller.projectID) AND livemode = \(bind: caller.mode) AND deleted = 0
            """).all()
        for endpoint in endpoints {
            let types = (try endpoint.json("events").arrayValue ?? []).compactMap(\.stringValue)
            guard types.contains("*") || types.contains(type) else { continue }
            try await db.raw("""
                INSERT INTO webhook_deliveries (event_id, endpoint_id, project_id, livemode, status, attempt_count, next_attempt_at, created)
                VALUES (\(bind: eventID), \(bind: try endpoint.int("id")), \(bind: caller.projectID), \(bind: caller.mode), 'pending', 0,
                  \(bind: dueAt.milliseconds), \(bind: dueAt.milliseconds))
                """).run()
        }
    }
}

extension SQLDatabase {
    public var events: EventLog { EventLog(db: self) }
    public var emailOutbox: EmailOutbox { EmailOutbox(db: self) }
    public var webhookDeliveries: WebhookDeliveries { WebhookDeliveries(db: self) }
}
