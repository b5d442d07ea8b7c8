import ChingDomain
import ChingStore
import Logging
import ServiceLifecycle

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
        /// Live payments and token charges whose outcome was learned from Grow.
        package var reconciled = LivePayments.Reconciled()
    }

    package func sweep() async throws -> Report {
        var report = Report()
        let now = services.clock.now()
        if testClockID == nil {
            // First what Grow may have been paid for, so that a paid session is not expired below.
            try await reconcileLivePayments(now: now, into: &report)
            try await sweepSessions(now: now, into: &report)
        }
        try await sweepSubscriptions(now: now, scope: SweepScope(projectID: projectID, testClockID: testClockID), into: &report)
        return report
    }

    /// Expired checkout and setup sessions, and authorizations past their capture window.
    private func sweepSessions(now: Timestamp, into report: inout Report) async throws {
        let sessions = try await services.database.read { db in try await db.hostedSessions(.checkout).expired(at: now, projectID: projectID) }
        report.expiredSessions += await each(sessions, "checkout session") { try await expireSession($0, now: now) }

        let setups = try await services.database.read { db in try await db.hostedSessions(.setup).expired(at: now, projectID: projectID) }
        report.expiredSetupSessions += await each(setups, "setup session") { try await expireSetupSession($0, now: now) }

        let expired = try await services.database.read { db in try await db.charges.authorizationsExpired(at: now, projectID: projectID) }
        report.canceledAuthorizations += await each(expired, "charge", id: \.id) { charge in
            try await Charges.void(charge.id, reference: charge.providerReference ?? "", reason: "expired", caller: charge.caller, services: services) != nil
        }
    }

    /// Subscriptions that end at their period end, incomplete ones past their 23 hours, trial
    /// notices, then renewals and retries.
    private func sweepSubscriptions(now: Timestamp, scope: SweepScope, into report: inout Report) async throws {
        let ending = try await services.database.read { db in try await db.subscriptions.endingAtPeriodEnd(at: now, scope: scope) }
        report.endedSubscriptions += await each(ending, "subscription") { try await Subscriptions.endAtPeriodEnd($0, now: now, services: services) }

        let unpaid = try await services.database.read { db in
            try await db.subscriptions.incomplete(createdBefore: now.adding(seconds: -Subscriptions.incompleteLifetimeSeconds), scope: scope)
        }
        report.expiredSubscriptions += await each(unpaid, "subscription") { try await Subscriptions.expireIncomplete($0, now: now, services: services) }

        let trials = try await services.database.read { db in
            try await db.subscriptions.trialsEnding(by: now.adding(days: Renewals.trialNoticeDays), scope: scope)
        }
        report.trialNotices += await each(trials, "subscription") { try await Renewals.noticeTrialEnd($0, now: now, services: services) }
        // After the subscriptions that end at their period end, so that none of them is renewed.
        let due = try await services.database.read { db in
            try await db.subscriptions.renewalsDue(at: now, staleRenewal: Subscriptions.staleRenewal(now), scope: scope)
        }
        // A renewal that fails is tried again once its lease runs out.
        report.renewals += await each(due, "subscription") { try await Renewals.renew($0, now: now, services: services) }
    }

    private func expireSetupSession(_ id: String, now: Timestamp) async throws -> Bool {
        try await services.database.transaction { db in
            guard try await db.hostedSessions(.setup).apply(.expire, to: id, at: now), let session = try await db.setupSessions.find(id) else { return false }
            try await Events.record("setup_session.expired", data: try SetupSessions.json(session, services: services),
                                    caller: session.caller, on: db, services: services)
            return true
        }
    }

    private func expireSession(_ id: String, now: Timestamp) async throws -> Bool {
        try await services.database.transaction { db in
            guard try await db.hostedSessions(.checkout).apply(.expire, to: id, at: now), let session = try await db.checkoutSessions.find(id) else { return false }
            let offer = try await CheckoutOffer.load(for: session, now: try await services.customerTime(session.customerID, on: db), on: db)
            try await Events.record("checkout_session.expired", data: try CheckoutSessions.json(session, offer: offer, services: services),
                                    caller: session.caller, on: db, services: services)
            return true
        }
    }

    /// What Grow has not told us yet (see `LivePayments`): open pages, token charges and refunds whose answer was lost.
    private func reconcileLivePayments(now: Timestamp, into report: inout Report) async throws {
        let live = LivePayments(services: services), before = now.adding(seconds: -60)
        let (processes, charges, refunds) = try await services.database.transaction { db in
            (try await db.providerState.dueForCheck(before: before, now: now, limit: 50, projectID: projectID),
             try await db.providerState.pendingCharges(before: before, limit: 50, projectID: projectID),
             try await db.refunds.pendingEmptyingTheirCharge(before: before, limit: 50, projectID: projectID))
        }
        report.reconciled.processes = await each(processes, "process", id: \.id) { try await live.reconcile($0, now: now) }
        report.reconciled.charges = await each(charges, "charge", id: \.charge.id) { try await live.resolvePending($0.charge, key: $0.key, now: now) }
        report.reconciled.refunds = await each(refunds, "refund", id: \.id) { try await live.resolvePendingRefund($0, now: now) }
    }

    /// Runs `step` on each id and counts those it did something to. One that fails (its data
    /// broken) is logged and never holds up the others, or the next round.
    private func each<Item>(_ items: [Item], _ kind: String, id: (Item) -> String, _ step: (Item) async throws -> Bool) async -> Int {
        var done = 0
        for item in items {
            do {
                if try await step(item) { done += 1 }
            } catch {
                services.logger.error("A sweep step failed", metadata: ["\(kind)": "\(id(item))", "error": "\(String(reflecting: type(of: error)))"])
            }
        }
        return done
    }

    private func each(_ ids: [String], _ kind: String, _ step: (String) async throws -> Bool) async -> Int {
        await each(ids, kind, id: { $0 }, step)
    }
}
