/// The life of a hosted session, checkout or setup: `pending` until the customer pays (or saves a
/// card), unless time runs out first (`expired`) or the merchant withdraws it (`canceled`). The
/// three ends are final.
public enum HostedSessionStatus: String, Sendable, CaseIterable {
    case pending, succeeded, expired, canceled

    /// What can happen to a session.
    public enum Change: String, Sendable, CaseIterable {
        /// The customer's attempt succeeded (an attempt is only started before the session expires).
        case complete
        /// Time ran out: the sweeper, or a read after `expires_at`.
        case expire
        /// The merchant withdrew the session (`POST …/expire` on checkout, `…/cancel` on setup).
        case cancel

        /// The status the change leads to.
        public var outcome: HostedSessionStatus {
            switch self {
            case .complete: .succeeded
            case .expire: .expired
            case .cancel: .canceled
            }
        }
    }

    /// The status a session shows at `now`: a pending one past `expiresAt` is expired whether or
    /// not the sweeper has written it yet.
    public static func at(_ now: Timestamp, stored: HostedSessionStatus, expiresAt: Timestamp) -> HostedSessionStatus {
        stored == .pending && now >= expiresAt ? .expired : stored
    }

    /// The status after `change`, or nil when this session may not make it. (The store's update
    /// states the same condition, so two racing changes cannot both happen.)
    public func after(_ change: Change, at now: Timestamp, expiresAt: Timestamp) -> HostedSessionStatus? {
        guard self == .pending else { return nil }
        switch change {
        case .complete: return change.outcome
        case .expire: return now >= expiresAt ? change.outcome : nil
        case .cancel: return now < expiresAt ? change.outcome : nil
        }
    }
}
