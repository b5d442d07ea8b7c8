/// When a plan bills: period `n` starts at the anchor plus `n` intervals, computed from the anchor
/// every time rather than from the previous period, so a plan anchored on the 31st bills on the
/// 31st whenever the month has one (31 Jan → 28 Feb → 31 Mar), never drifting to the 28th.
public struct BillingSchedule: Sendable, Equatable {
    public let anchor: Timestamp
    public let interval: BillingInterval
    public let intervalCount: Int64

    public init(anchor: Timestamp, interval: BillingInterval, intervalCount: Int64) {
        self.anchor = anchor
        self.interval = interval
        self.intervalCount = intervalCount
    }

    /// The start of period `n` (period 0 starts at the anchor).
    public func periodStart(_ n: Int64) -> Timestamp {
        BillingCalendar.add(interval, count: intervalCount * n, to: anchor)
    }

    /// When a plan bought at `now` is first billed after today: the trial's end, or one interval
    /// from now (the first period is paid at checkout).
    public static func firstBilling(of plan: Plan, at now: Timestamp) -> Timestamp {
        plan.hasTrial ? now.adding(days: plan.trialDays) : BillingSchedule(anchor: now, interval: plan.interval, intervalCount: plan.intervalCount).periodStart(1)
    }
}

/// Paying in installments (תשלומים).
public enum Installments {
    /// The most installments any charge may be split into.
    public static let limit: Int64 = 12

    /// A project's maximum: its brand's `max_installments` when the brand sets one, otherwise the
    /// project's own setting, within 1…12. The hosted page and `POST /charges` both use this.
    public static func maximum(brandSetting: Int64?, projectSetting: Int64) -> Int64 {
        max(1, min(brandSetting ?? projectSetting, limit))
    }

    /// `total` in `count` payments: every payment is `each`, except the first, which also carries
    /// the agorot that do not divide evenly (as Israeli card companies split them).
    public static func split(_ total: Int64, count: Int64) -> (first: Int64, each: Int64) {
        precondition(count >= 1, "at least one payment")
        let each = total / count
        return (total - each * (count - 1), each)
    }
}

/// How a project takes payments on its pages and through the API: its brand's settings where
/// `brand.json` gives them, otherwise the project's own. Resolved here once for every caller.
public struct PaymentSettings: Sendable, Equatable {
    /// Within 1…12 (`Installments.maximum`).
    public let maxInstallments: Int64
    public let requireIsraeliID: Bool

    public init(brandMaxInstallments: Int64?, brandRequiresIsraeliID: Bool?, projectMaxInstallments: Int64, projectRequiresIsraeliID: Bool) {
        maxInstallments = Installments.maximum(brandSetting: brandMaxInstallments, projectSetting: projectMaxInstallments)
        requireIsraeliID = brandRequiresIsraeliID ?? projectRequiresIsraeliID
    }
}


/// Changing a subscription's price within its billing interval: which way it goes, and what the
/// rest of the current period costs in addition. The anchor never moves.
public enum PlanChange: String, Sendable, Equatable {
    case upgrade, downgrade, same

    /// A change between two period amounts (VAT included) of the same interval: a higher amount is
    /// a higher price per day.
    public static func kind(from old: Int64, to new: Int64) -> PlanChange {
        new > old ? .upgrade : (new < old ? .downgrade : .same)
    }

    /// The prorated difference for the rest of the period: (new − old) × remaining / period,
    /// in agorot, rounded half up; 0 unless it is an upgrade. Exact for any amounts and lengths
    /// (the product is taken in 128 bits).
    public static func prorated(from old: Int64, to new: Int64, periodStart: Timestamp, periodEnd: Timestamp, now: Timestamp) -> Int64 {
        let total = periodEnd.milliseconds - periodStart.milliseconds
        let remaining = min(max(periodEnd.milliseconds - now.milliseconds, 0), total)
        guard new > old, total > 0, remaining > 0 else { return 0 }
        let difference = new - old
        let product = difference.multipliedFullWidth(by: remaining)
        // (difference × remaining + total / 2) / total, in 128 bits; the quotient fits (remaining ≤ total).
        let half = UInt64(total / 2)
        let (low, carry) = product.low.addingReportingOverflow(half)
        let high = product.high + (carry ? 1 : 0)
        return total.dividingFullWidth((high: high, low: low)).quotient
    }
}

/// A subscription's status (API.md). A subscription is *live* (billed, blocks deleting its
/// customer) until it is `canceled` or `incomplete_expired`.
public enum SubscriptionStatus: String, CaseIterable, Sendable {
    case trialing, active, pastDue = "past_due", canceled, incomplete, incompleteExpired = "incomplete_expired"

    /// The statuses that can still be canceled, now or at the period end.
    public static let cancelable: [SubscriptionStatus] = [.trialing, .active, .pastDue, .incomplete]
    /// The statuses with a period running (a change of plan or a cancel at its end applies to it).
    public static let runningPeriod: [SubscriptionStatus] = [.trialing, .active, .pastDue]
    /// The statuses whose plan a checkout for another plan changes.
    public static let paidUp: [SubscriptionStatus] = [.trialing, .active]
}
