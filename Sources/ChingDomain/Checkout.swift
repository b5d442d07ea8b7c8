/// One cart line as the merchant sent it. A negative `unitAmount` is a discount line.
public struct CartLine: Sendable, Equatable {
    public let name: String
    public let description: String?
    public let imageURL: String?
    public let unitAmount: Int64
    public let quantity: Int64

    public init(name: String, description: String? = nil, imageURL: String? = nil, unitAmount: Int64, quantity: Int64) {
        self.name = name; self.description = description; self.imageURL = imageURL; self.unitAmount = unitAmount; self.quantity = quantity
    }

    public var isDiscount: Bool { unitAmount < 0 }

    /// The line as the API shows it and a session stores it.
    public var json: JSONValue {
        .object(["name": .string(name), "amount_agorot": .int(unitAmount), "quantity": .int(quantity),
                 "description": .optional(description), "image_url": .optional(imageURL)])
    }

    /// The lines of `json` (written by `json`).
    public static func lines(_ json: JSONValue) -> [CartLine] {
        (json.arrayValue ?? []).map {
            CartLine(name: $0["name"]?.stringValue ?? "", description: $0["description"]?.stringValue, imageURL: $0["image_url"]?.stringValue,
                     unitAmount: $0["amount_agorot"]?.intValue ?? 0, quantity: $0["quantity"]?.intValue ?? 1)
        }
    }

    /// The line's amount: unit amount × quantity, checked.
    public func total() throws(Money.Overflow) -> Int64 { try Money.multiply(unitAmount, quantity) }
}

public enum BillingInterval: String, Sendable, CaseIterable { case day, week, month, year }

/// A recurring price as a checkout sells it.
public struct Plan: Sendable, Equatable {
    public let unitAmount: Int64
    public let interval: BillingInterval
    public let intervalCount: Int64
    public let trialDays: Int64
    /// VAT added on top (exclusive price) rather than included.
    public let vatExclusive: Bool

    public init(unitAmount: Int64, interval: BillingInterval, intervalCount: Int64, trialDays: Int64, vatExclusive: Bool) {
        self.unitAmount = unitAmount; self.interval = interval; self.intervalCount = intervalCount
        self.trialDays = trialDays; self.vatExclusive = vatExclusive
    }

    public var hasTrial: Bool { trialDays > 0 }

    /// The amount of one period, VAT included (added on top for an exclusive price), checked.
    public func periodAmount() throws(Money.Overflow) -> Int64 {
        vatExclusive ? try VAT.gross(ofExclusive: unitAmount) : unitAmount
    }
}

/// What a checkout session sells, and what it costs now and later. Pure arithmetic, all of it
/// overflow-checked: a cart whose sums do not fit is refused, never wrapped.
public struct CheckoutTotals: Sendable, Equatable {
    /// What is due now before discounts: the non-discount lines, a one-time price, a plan's first
    /// period when there is no trial (all VAT included).
    public let subtotal: Int64
    /// The sum of the discount lines, as a negative number (0 when there are none).
    public let discounts: Int64
    /// The cart alone: subtotal of lines plus discounts.
    public let cartTotal: Int64
    /// What is charged today.
    public let dueToday: Int64
    /// The VAT inside `dueToday`: round(dueToday × 18 / 118), as the tax document computes it.
    public let vat: Int64
    /// False when an exclusive price's VAT was added on top of its amount.
    public let vatIncluded: Bool
    /// The plan's amount per period, VAT included; nil when there is no plan.
    public let recurringAmount: Int64?
    /// When the plan's first (trial) or next (no trial) period is billed.
    public let firstBillingAt: Timestamp?

    /// A checkout that changes a customer's plan: `due` now (the prorated difference of an
    /// upgrade, 0 for a downgrade or during a trial), then `period` from `nextBilling`.
    public static func planChange(due: Int64, period: Int64, nextBilling: Timestamp) -> CheckoutTotals {
        CheckoutTotals(subtotal: due, discounts: 0, cartTotal: 0, dueToday: due, vat: VAT.includedIn(due), vatIncluded: true,
                       recurringAmount: period, firstBillingAt: nextBilling)
    }

    public enum Problem: Error, Equatable, Sendable {
        /// The cart sums to less than zero.
        case negativeTotal
        /// The sums do not fit in 64 bits or exceed the largest charge.
        case tooLarge
    }

    /// - Parameters:
    ///   - oneTimePrice: a one-time price's unit amount and whether its VAT is exclusive.
    public static func compute(lines: [CartLine], oneTimePrice: (amount: Int64, vatExclusive: Bool)? = nil, plan: Plan? = nil,
                               now: Timestamp) throws(Problem) -> CheckoutTotals {
        do {
            var positive: Int64 = 0, negative: Int64 = 0
            for line in lines {
                let total = try line.total()
                if total < 0 { negative = try Money.add(negative, total) } else { positive = try Money.add(positive, total) }
            }
            let cartTotal = try Money.add(positive, negative)
            if cartTotal < 0 { throw Problem.negativeTotal }
            var dueToday = cartTotal, subtotal = positive, vatIncluded = true
            if let price = oneTimePrice {
                let amount = price.vatExclusive ? try VAT.gross(ofExclusive: price.amount) : price.amount
                dueToday = try Money.add(dueToday, amount)
                subtotal = try Money.add(subtotal, amount)
                vatIncluded = !price.vatExclusive
            }
            var recurringAmount: Int64?, firstBillingAt: Timestamp?
            if let plan {
                let period = try plan.periodAmount()
                // Every later period is one charge too.
                if period > Money.maximumAmount { throw Problem.tooLarge }
                recurringAmount = period
                firstBillingAt = BillingSchedule.firstBilling(of: plan, at: now)
                if !plan.hasTrial {
                    dueToday = try Money.add(dueToday, period)
                    subtotal = try Money.add(subtotal, period)
                    vatIncluded = !plan.vatExclusive
                }
            }
            if dueToday > Money.maximumAmount { throw Problem.tooLarge }
            return CheckoutTotals(subtotal: subtotal, discounts: negative, cartTotal: cartTotal, dueToday: dueToday, vat: VAT.includedIn(dueToday),
                                  vatIncluded: vatIncluded, recurringAmount: recurringAmount, firstBillingAt: firstBillingAt)
        } catch is Money.Overflow {
            throw Problem.tooLarge
        } catch let problem as Problem {
            throw problem
        } catch {
            throw Problem.tooLarge
        }
    }
}

/// Calendar arithmetic in UTC: months keep the day of month, clamped to the month's length
/// (31 January + 1 month = 28 or 29 February).
public enum BillingCalendar {
    public static func add(_ interval: BillingInterval, count: Int64, to time: Timestamp) -> Timestamp {
        switch interval {
        case .day: return time.adding(days: count)
        case .week: return time.adding(days: 7 * count)
        case .month: return addMonths(count, to: time)
        case .year: return addMonths(12 * count, to: time)
        }
    }

    static func addMonths(_ months: Int64, to time: Timestamp) -> Timestamp {
        let date = time.date
        let (_, millisecondsOfDay) = floorDivide(time.milliseconds, 86_400_000)
        let monthIndex = date.year * 12 + (date.month - 1) + months
        let year = floorDivide(monthIndex, 12).0
        let month = monthIndex - year * 12 + 1
        let day = min(date.day, daysIn(month: month, year: year))
        return Timestamp(milliseconds: CivilDate(year: year, month: month, day: day).daysSinceEpoch * 86_400_000 + millisecondsOfDay)
    }

    public static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}

extension CivilDate {
    /// Howard Hinnant's days-from-civil.
    public var daysSinceEpoch: Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
