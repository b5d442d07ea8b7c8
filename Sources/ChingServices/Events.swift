import ChingDomain
import ChingStore
import SQLKit

/// Events: every state change writes one in the same transaction, with `data` exactly as `GET` returns the object.
package enum Events {
    package static func record(_ type: String, data: JSONValue, caller: Caller, on db: any SQLDatabase, services: AppServices) async throws {
        let id = services.ids.make(.event)
        try await db.raw("""
            INSERT INTO events (id, project_id, livemode, type, data, created)
            VALUES (\(bind: id), \(bind: caller.projectID), \(bind: caller.mode), \(bind: type), \(bind: data.serialized()), \(bind: services.clock.now().milliseconds))
            """).run()
        try await Webhooks.queue(eventID: id, type: type, caller: caller, on: db, services: services)
    }
}
