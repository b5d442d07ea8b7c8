import AsyncHTTPClient
import ChingAPI
import ChingDomain
import ChingHTTP
import ChingServices
import ChingStore
import ChingWeb
import Foundation
import HTTPTypes
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// Delivers queued webhook events: at least once, the same event id on every retry.
///
/// A worker leases due delivery rows (`lease_until`) in a short transaction, sends them outside
/// any transaction, and records each attempt. On PostgreSQL the lease is taken with
/// `FOR UPDATE SKIP LOCKED`, so two servers never claim the same row at once; on SQLite the single
/// writer does the same. A worker that dies between claim and send leaves a lease that runs out
/// after a minute, and the row is claimed again: nothing is lost.
struct WebhookWorker: Service {
    let services: AppServices
    let client: HTTPClient
    var projectID: String? = nil
    var pollSeconds: Int64 = 1

    static let leaseSeconds: Int64 = 60
    static let timeout: TimeAmount = .seconds(10)
    static let giveUpAfterSeconds: Int64 = 3 * 86_400
    /// 5 s, 1 min, 5 min, 30 min, 2 h, 5 h, 10 h, then every 12 h.
    static let backoffSeconds: [Int64] = [5, 60, 300, 1800, 7200, 18_000, 36_000, 43_200]

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    if try await deliverDue() > 0 { continue }
                } catch {
                    services.logger.warning("Webhook delivery round failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
                }
                try? await Task.sleep(for: .seconds(pollSeconds))
            }
        }
    }

    typealias Claimed = WebhookDeliveries.Claimed

    /// `stopAfterClaim` is the test hook for a worker that dies between claim and send.
    @discardableResult
    func deliverDue(limit: Int = 50, stopAfterClaim: Bool = false) async throws -> Int {
        let claimed = try await claim(limit: limit)
        if stopAfterClaim { return 0 }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for delivery in claimed { group.addTask { try await send(delivery) } }
            try await group.waitForAll()
        }
        return claimed.count
    }

    func claim(limit: Int) async throws -> [Claimed] {
        let now = services.clock.now()
        return try await services.database.transaction { db in
            try await db.webhookDeliveries.claim(now: now, leaseUntil: now.adding(seconds: Self.leaseSeconds), limit: limit, projectID: projectID,
                                                  skipLocked: services.database.kind == .postgres)
        }
    }

    func send(_ delivery: Claimed) async throws {
        guard !delivery.endpointDeleted else {
            try await finish(delivery, statusCode: nil, duration: 0, error: "The endpoint was deleted.", delivered: false, giveUp: true)
            return
        }
        guard let event = try await services.database.read({ db in try await db.events.find(delivery.eventID) }) else { return }
        let body = Array(try Webhooks.body(event).utf8)
        if delivery.livemode && WebAddress.isLoopback(delivery.url) {
            try await finish(delivery, statusCode: nil, duration: 0, error: "Refused: live endpoints may not call this machine.", delivered: false, giveUp: true)
            return
        }
        var request = HTTPClientRequest(url: delivery.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Ching-Signature", value: Webhooks.signature(body: body, secret: delivery.secret))
        request.headers.add(name: "User-Agent", value: "ChingCheckout-Webhooks/1")
        request.body = .bytes(ByteBuffer(bytes: body))
        let started = ContinuousClock.now
        var statusCode: Int?, failure: String?
        do {
            let response = try await client.execute(request, timeout: Self.timeout)
            statusCode = Int(response.status.code)
            _ = try? await response.body.collect(upTo: 64 * 1024)
        } catch {
            failure = Self.describe(error)
        }
        let elapsed = ContinuousClock.now - started
        let milliseconds = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        let delivered = statusCode.map { (200..<300).contains($0) } ?? false
        try await finish(delivery, statusCode: statusCode, duration: milliseconds, error: delivered ? nil : failure ?? "HTTP \(statusCode ?? 0)",
                         delivered: delivered, giveUp: false)
    }

    /// Records the attempt and moves the delivery on: delivered, retried later, or failed after 3 days.
    private func finish(_ delivery: Claimed, statusCode: Int?, duration: Int64, error: String?, delivered: Bool, giveUp: Bool) async throws {
        let now = services.clock.now()
        let attempts = delivery.attemptCount + 1
        let expired = now.milliseconds - delivery.created.milliseconds >= Self.giveUpAfterSeconds * 1000
        let status = delivered ? "delivered" : (giveUp || expired ? "failed" : "pending")
        let wait = Self.backoffSeconds[min(Int(attempts) - 1, Self.backoffSeconds.count - 1)]
        let jitter = Int64.random(in: 0...max(1, wait * 1000 / 10))
        let attempt = WebhookDeliveries.Attempt(attemptedAt: now, statusCode: statusCode.map(Int64.init), durationMilliseconds: duration, error: error)
        try await services.database.transaction { db in
            try await db.webhookDeliveries.finish(delivery.seq, attempt: attempt, status: status, attemptCount: attempts,
                                                   nextAttemptAt: Timestamp(milliseconds: now.milliseconds + wait * 1000 + jitter))
        }
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .connectTimeout: return "Timed out after 10 s."
            default: return "Request failed: \(String(describing: error))"
            }
        }
        return "Connection failed: \(String(describing: type(of: error)))"
    }

    /// The HTTP client webhooks use: no redirects followed.
    static func makeClient() -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(10))
        // A refused connection is an attempt like any other: our backoff retries it, not the pool.
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }
}

/// Shuts the webhook HTTP client down with the application.
struct HTTPClientCloser: Service {
    let client: HTTPClient
    func run() async throws {
        try? await gracefulShutdown()
        try? await client.shutdown()
    }
}
