import ChingDomain
import ChingStore
import Logging
import ServiceLifecycle
import SQLKit

/// The background clean-up: expires checkout sessions past `expires_at`
/// (`checkout_session.expired`) and cancels authorizations past `capturable_until` (reason
/// `expired`). Each item is its own transaction, so one bad row never blocks the rest, and a
/// session with a payment attempt in flight is left until the attempt ends.
package struct Sweeper: Service {
    package let services: AppServices
    package var intervalSeconds: Int64 = 30
    /// Only this project's rows when set (a test sharing a database with others sweeps its own).
    package var projectID: String? = nil

    /// Only this test clock's customers' subscriptions, at the clock's time (its advance); when
    /// nil, everything else: a test clock's customers never move with the server's clock.
    package var testClockID: String? = nil

    package init(services: AppServices, projectID: String? = nil, testClockID: String? = nil) {
        self.services = services
        self.projectID = projectID
        self.testClockID = testClockID
    }

    package func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    _ = try await sweep()
                } catch {
                    services.logger.warning("Sweep failed; retrying next round", metadata: ["error": "\(String(reflecting: type(of: error)))"])
                }
                try? await Task.sleep(for: .seconds(intervalSeconds))
            }
        }
    }

    package struct Report: Sendable, Equatable {
        package var expiredSessions = 0
        package var canceledAuthorizations = 0
        package var expiredSetupSessions = 0
        package var endedSubscriptions = 0
        package var expiredSubscriptions = 0
        /// Renewals and retries whose outcome (paid or declined) was recorded.
        package var renewals = 0
        package var trialNotices = 0
    }

    package func sweep() async throws -> Report {
        var report = Report()
        let now = services.clock.now()
        let scope: SQLQueryString = projectID.map { " AND project_id = \(bind: $0)" } ?? ""
        if testClockID == nil { try await sweepSessions(now: now, scope: scope, into: &report) }
        let clockScope: SQLQueryString = testClockID.map { " AND customer_id IN (SELECT id FROM customers WHERE test_clock = \(bind: $0))" }
            ?? " AND customer_id NOT IN (SELECT id FROM customers WHERE test_clock IS NOT NULL)"
        try await sweepSubscriptions(now: now, scope: scope + clockScope, into: &report)
        return report
    }

    /// Expired checkout and setup sessions, and authorizations past their capture window.
    private func sweepSessions(now: Timestamp, scope: SQLQueryString, into report: inout Report) async throws {
        let sessions = try await services.database.read { db in
            try await db.raw("""
                SELECT id FROM checkout_sessions WHERE status = 'pending' AND expires_at <= \(bind: now.milliseconds)
                  AND \(HostedSessionRows.noLiveAttempt(now: now))
                """ + scope + " ORDER BY seq LIMIT 500").all().map { try $0.string("id") }
        }
        for id in sessions where try await expireSession(id, now: now) { report.expiredSessions += 1 }

        let setups = try await services.database.read { db in
            try await db.raw("""
                SELECT id FROM setup_sessions WHERE status = 'pending' AND expires_at <= \(bind: now.milliseconds)
                  AND \(HostedSessionRows.noLiveAttempt(now: now))
                """ + scope + " ORDER BY seq LIMIT 500").all().map { try $0.string("id") }
        }
        for id in setups where try await expireSetupSession(id, now: now) { report.expiredSetupSessions += 1 }

        let charges = try await services.database.read { db in
            try await db.raw("""
                SELECT id, project_id, livemode, provider_reference FROM charges
                WHERE status = 'requires_capture' AND capturable_until <= \(bind: now.milliseconds)
                """ + scope + " ORDER BY seq LIMIT 500").all()
        }
        for row in charges {
            let caller = Caller(projectID: try row.string("project_id"), livemode: try row.bool("livemode"))
            if try await Charges.void(try row.string("id"), reference: try row.optionalString("provider_reference") ?? "", reason: "expired",
                                         caller: caller, services: services) != nil {
                report.canceledAuthorizations += 1
            }
        }
    }

    /// Subscriptions that end at their period end, incomplete ones past their 23 hours, trial
    /// notices, then renewals and retries.
    private func sweepSubscriptions(now: Timestamp, scope: SQLQueryString, into report: inout Report) async throws {
        let ending = try await services.database.read { db in
            try await db.raw("""
                SELECT id FROM subscriptions WHERE status IN ('trialing', 'active', 'past_due') AND cancel_at_period_end = 1
                  AND current_period_end <= \(bind: now.milliseconds)
                """ + scope + " ORDER BY seq LIMIT 500").all().map { try $0.string("id") }
        }
        for id in ending where try await Subscriptions.endAtPeriodEnd(id, now: now, services: services) { report.endedSubscriptions += 1 }

        let unpaid = try await services.database.read { db in
            try await db.raw("""
                SELECT id FROM subscriptions WHERE status = 'incomplete'
                  AND created <= \(bind: now.adding(seconds: -Subscriptions.incompleteLifetimeSeconds).milliseconds)
                """ + scope + " ORDER BY seq LIMIT 500").all().map { try $0.string("id") }
        }
        for id in unpaid where try await Subscriptions.expireIncomplete(id, now: now, services: services) { report.expiredSubscriptions += 1 }

        let trials = try await services.database.read { db in try await Renewals.trialsEnding(at: now, scope: scope, on: db) }
        for id in trials where try await Renewals.noticeTrialEnd(id, now: now, services: services) { report.trialNotices += 1 }
        // After the subscriptions that end at their period end, so that none of them is renewed.
        let due = try await services.database.read { db in try await Renewals.due(at: now, scope: scope, on: db) }
        for id in due {
            // One subscription that cannot be renewed (its data broken) must not hold up the others.
            do {
                if try await Renewals.renew(id, now: now, services: services) { report.renewals += 1 }
            } catch {
                services.logger.error("A renewal failed; it is tried again once its lease runs out",
                                      metadata: ["subscription": "\(id)", "error": "\(String(reflecting: type(of: error)))"])
            }
        }
    }

    private func expireSetupSession(_ id: String, now: Timestamp) async throws -> Bool {
        try await services.database.transaction { db in
            guard try await HostedSessionRows(.setup).apply(.expire, to: id, at: now, on: db), let session = try await SetupSession.load(id, on: db) else { return false }
            try await Events.record("setup_session.expired", data: try SetupSessions.json(session, services: services),
                                    caller: session.caller, on: db, services: services)
            return true
        }
    }

    private func expireSession(_ id: String, now: Timestamp) async throws -> Bool {
        try await services.database.transaction { db in
            guard try await HostedSessionRows(.checkout).apply(.expire, to: id, at: now, on: db), let session = try await CheckoutSession.load(id, on: db) else { return false }
            let offer = try await CheckoutOffer.load(for: session, now: now, on: db)
            try await Events.record("checkout_session.expired", data: try CheckoutSessions.json(session, offer: offer, services: services),
                                    caller: session.caller, on: db, services: services)
            return true
        }
    }
}
