import ChingAPI
import ChingDomain
import ChingHTTP
import ChingServices
import ChingStore
import ChingWeb
import Logging
import ServiceLifecycle

/// This process, as the other processes on the same database see it: a row in `server_instances`
/// whose `heartbeat_at` it moves every few seconds. A payment attempt's lease names the instance
/// that took it, so when that instance stops beating (a `kill -9`, a crash, a lost machine) any
/// process can tell the attempt was abandoned within `HostedSessionRows.silentServerSeconds`, instead of waiting for
/// the lease to run out.
struct ServerInstance: Service, CustomStringConvertible {
    let services: AppServices
    /// A third of `HostedSessionRows.silentServerSeconds`: three missed beats are a dead server,
    /// long enough for a busy writer, short enough for a customer waiting to retry.
    static let heartbeatSeconds: Int64 = 5
    var description: String { "ServerInstance(\(services.instanceID))" }

    /// Registers the instance (before the server accepts requests) and clears rows of instances gone for a day.
    func register() async throws {
        let now = services.clock.now()
        try await services.database.transaction { db in
            try await db.serverInstances.removeSilent(since: now.adding(seconds: -86_400))
            try await db.serverInstances.beat(services.instanceID, at: now)
        }
    }

    func beat() async throws {
        let now = services.clock.now()
        try await services.database.transaction { db in try await db.serverInstances.beat(services.instanceID, at: now) }
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(Self.heartbeatSeconds))
                do {
                    try await beat()
                } catch {
                    services.logger.warning("Heartbeat failed; retrying", metadata: ["error": "\(String(reflecting: type(of: error)))"])
                }
            }
        }
        // A clean stop: this instance's attempts are over, so they need not wait out the heartbeat.
        try? await services.database.transaction { db in try await db.serverInstances.remove(services.instanceID) }
    }
}
