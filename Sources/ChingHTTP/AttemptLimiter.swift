import ChingDomain
import HTTPTypes
import Hummingbird
import Synchronization

/// Limits payment attempts per client address (card-testing defence), in memory: at most
/// `limit` attempts in any `windowSeconds`. Each server process counts its own; behind several
/// processes the effective limit is that many times higher, which is acceptable for a defence
/// whose per-session lock (5 failures) is enforced in the database.
package final class AttemptLimiter: Sendable {
    package let limit: Int
    package let windowSeconds: Int64
    package let trustedProxies: Set<String>
    private let attempts = Mutex<[String: [Int64]]>([:])

    package init(limit: Int = 30, windowSeconds: Int64 = 600, trustedProxies: [String] = []) {
        self.limit = limit
        self.windowSeconds = windowSeconds
        self.trustedProxies = Set(trustedProxies)
    }

    /// The customer's address: the connection's peer, unless that peer is a trusted proxy, in
    /// which case the last `X-Forwarded-For` hop that is not a trusted proxy (a client can prepend
    /// anything to that header, so only the hops our proxies appended are believed).
    package func clientAddress(_ request: Request, _ context: AppRequestContext) -> String {
        clientAddress(peer: context.clientAddress, forwardedFor: request.headers[HTTPField.Name("X-Forwarded-For")!])
    }

    package func clientAddress(peer: String, forwardedFor: String?) -> String {
        guard trustedProxies.contains(peer), let forwardedFor else { return peer }
        let hops = forwardedFor.split(separator: ",").map { String($0).trimmingWhitespace() }.filter { !$0.isEmpty }
        return hops.last { !trustedProxies.contains($0) } ?? peer
    }

    /// Records an attempt; nil when allowed, else the seconds until the oldest counted attempt leaves the window.
    package func attempt(from address: String, at now: Timestamp) -> Int? {
        guard limit > 0 else { return nil }
        return attempts.withLock { all in
            let cutoff = now.milliseconds - windowSeconds * 1000
            var times = (all[address] ?? []).filter { $0 > cutoff }
            defer {
                all[address] = times
                if all.count > 100_000 { all = all.filter { !$0.value.isEmpty && $0.value.last! > cutoff } }
            }
            guard times.count < limit else { return Int((times[0] - cutoff + 999) / 1000) }
            times.append(now.milliseconds)
            return nil
        }
    }
}
