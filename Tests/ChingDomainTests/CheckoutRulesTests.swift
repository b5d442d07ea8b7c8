import ChingDomain
import Testing

/// A moment in UTC; 10:30:00 unless told otherwise, so that a lost time of day shows.
private func utc(_ year: Int64, _ month: Int64, _ day: Int64, _ hour: Int64 = 10, _ minute: Int64 = 30) -> Timestamp {
    Timestamp(milliseconds: CivilDate(year: year, month: month, day: day).daysSinceEpoch * 86_400_000 + (hour * 60 + minute) * 60_000)
}

@Suite("Checkout totals")
struct CheckoutTotalsTests {
    /// Checkouts are opened at 15 March 2027, 10:30 UTC.
    static let now = utc(2027, 3, 15)
    static let monthly = Plan(unitAmount: 4900, interval: .month, intervalCount: 1, trialDays: 0, vatExclusive: false)
    static let monthlyWithTrial = Plan(unitAmount: 4900, interval: .month, intervalCount: 1, trialDays: 14, vatExclusive: false)
    static let setupFee = CartLine(name: "Setup", unitAmount: 5000, quantity: 1)

    @Test("The test clock reads 15 March 2027, 10:30 UTC")
    func testClock() {
        #expect(Self.now.iso8601 == "2027-03-15T10:30:00.000Z")
    }

    @Test("A cart with a discount line charges its items less the discount, VAT included")
    func cartWithDiscount() throws {
        let totals = try CheckoutTotals.compute(lines: [
            CartLine(name: "Mug", unitAmount: 4500, quantity: 2),
            CartLine(name: "Welcome discount", unitAmount: -1000, quantity: 1),
        ], now: Self.now)
        #expect(totals.subtotal == 9000)
        #expect(totals.discounts == -1000)
        #expect(totals.cartTotal == 8000)
        #expect(totals.dueToday == 8000)
        #expect(totals.vat == 1220)  // 8000 × 18 / 118 = 1220.34
        #expect(totals.vatIncluded)
        #expect(totals.recurringAmount == nil)
        #expect(totals.firstBillingAt == nil)
    }

    @Test("A one-time price with VAT included is charged as it is")
    func oneTimeInclusive() throws {
        let totals = try CheckoutTotals.compute(lines: [], oneTimePrice: (amount: 9900, vatExclusive: false), now: Self.now)
        #expect(totals.subtotal == 9900)
        #expect(totals.discounts == 0)
        #expect(totals.cartTotal == 0)
        #expect(totals.dueToday == 9900)
        #expect(totals.vat == 1510)  // 9900 × 18 / 118 = 1510.17
        #expect(totals.vatIncluded)
        #expect(totals.recurringAmount == nil)
        #expect(totals.firstBillingAt == nil)
    }

    @Test("A one-time price without VAT has 18% VAT added on top")
    func oneTimeExclusive() throws {
        let totals = try CheckoutTotals.compute(lines: [], oneTimePrice: (amount: 10_000, vatExclusive: true), now: Self.now)
        #expect(totals.subtotal == 11_800)
        #expect(totals.dueToday == 11_800)  // 10000 + 1800
        #expect(totals.vat == 1800)
        #expect(!totals.vatIncluded)
        #expect(totals.recurringAmount == nil)
        #expect(totals.firstBillingAt == nil)
    }

    @Test("A subscription without a trial charges its first month today and bills again a month later")
    func recurringWithoutTrial() throws {
        let totals = try CheckoutTotals.compute(lines: [], plan: Self.monthly, now: Self.now)
        #expect(totals.subtotal == 4900)
        #expect(totals.cartTotal == 0)
        #expect(totals.dueToday == 4900)
        #expect(totals.vat == 747)  // 4900 × 18 / 118 = 747.46
        #expect(totals.vatIncluded)
        #expect(totals.recurringAmount == 4900)
        #expect(totals.firstBillingAt == utc(2027, 4, 15))
    }

    @Test("A subscription with a 14-day trial charges nothing today and bills when the trial ends")
    func recurringWithTrial() throws {
        let totals = try CheckoutTotals.compute(lines: [], plan: Self.monthlyWithTrial, now: Self.now)
        #expect(totals.subtotal == 0)
        #expect(totals.dueToday == 0)
        #expect(totals.vat == 0)
        #expect(totals.vatIncluded)
        #expect(totals.recurringAmount == 4900)
        #expect(totals.firstBillingAt == utc(2027, 3, 29))  // 15 March + 14 days
    }

    @Test("A subscription with a setup fee and no trial charges both today")
    func mixedWithoutTrial() throws {
        let totals = try CheckoutTotals.compute(lines: [Self.setupFee], plan: Self.monthly, now: Self.now)
        #expect(totals.subtotal == 9900)
        #expect(totals.cartTotal == 5000)
        #expect(totals.dueToday == 9900)  // 5000 + 4900
        #expect(totals.vat == 1510)
        #expect(totals.recurringAmount == 4900)
        #expect(totals.firstBillingAt == utc(2027, 4, 15))
    }

    @Test("A subscription with a setup fee and a trial charges only the setup fee today")
    func mixedWithTrial() throws {
        let totals = try CheckoutTotals.compute(lines: [Self.setupFee], plan: Self.monthlyWithTrial, now: Self.now)
        #expect(totals.subtotal == 5000)
        #expect(totals.cartTotal == 5000)
        #expect(totals.dueToday == 5000)
        #expect(totals.vat == 763)  // 5000 × 18 / 118 = 762.71
        #expect(totals.recurringAmount == 4900)
        #expect(totals.firstBillingAt == utc(2027, 3, 29))
    }

    @Test("A subscription priced without VAT bills its price plus 18%, today and every period")
    func exclusiveRecurring() throws {
        let plan = Plan(unitAmount: 10_000, interval: .month, intervalCount: 1, trialDays: 0, vatExclusive: true)
        let totals = try CheckoutTotals.compute(lines: [], plan: plan, now: Self.now)
        #expect(totals.recurringAmount == 11_800)  // 10000 + 1800
        #expect(totals.subtotal == 11_800)
        #expect(totals.dueToday == 11_800)
        #expect(totals.vat == 1800)
        #expect(!totals.vatIncluded)
        #expect(totals.firstBillingAt == utc(2027, 4, 15))
    }

    @Test("A subscription priced without VAT and with a trial still quotes its price plus VAT for later")
    func exclusiveRecurringWithTrial() throws {
        let plan = Plan(unitAmount: 10_000, interval: .month, intervalCount: 1, trialDays: 14, vatExclusive: true)
        let totals = try CheckoutTotals.compute(lines: [], plan: plan, now: Self.now)
        #expect(totals.recurringAmount == 11_800)
        #expect(totals.dueToday == 0)
        #expect(totals.vat == 0)
        #expect(totals.firstBillingAt == utc(2027, 3, 29))
    }

    @Test("A cart worth exactly the largest charge is accepted")
    func largestCharge() throws {
        let totals = try CheckoutTotals.compute(lines: [CartLine(name: "Everything", unitAmount: Money.maximumAmount, quantity: 1)], now: Self.now)
        #expect(totals.dueToday == Money.maximumAmount)
        #expect(totals.vat == 152_542_373)
    }

    @Test("Discounts larger than the cart are refused")
    func negativeTotal() {
        #expect(throws: CheckoutTotals.Problem.negativeTotal) {
            try CheckoutTotals.compute(lines: [
                CartLine(name: "Mug", unitAmount: 4500, quantity: 1),
                CartLine(name: "Too generous", unitAmount: -5000, quantity: 1),
            ], now: Self.now)
        }
    }

    @Test("A line whose amount does not fit in 64 bits is refused as too large")
    func lineOverflow() {
        #expect(throws: CheckoutTotals.Problem.tooLarge) {
            try CheckoutTotals.compute(lines: [CartLine(name: "Huge", unitAmount: Int64.max / 2, quantity: 3)], now: Self.now)
        }
    }

    @Test("Lines whose sum does not fit in 64 bits are refused as too large")
    func sumOverflow() {
        let half = CartLine(name: "Half", unitAmount: Int64.max / 2 + 1, quantity: 1)  // 2^62; two of them make 2^63
        #expect(throws: CheckoutTotals.Problem.tooLarge) {
            try CheckoutTotals.compute(lines: [half, half], now: Self.now)
        }
    }

    @Test("A checkout over the largest charge is refused", arguments: [
        ([CartLine(name: "Everything", unitAmount: Money.maximumAmount + 1, quantity: 1)], nil, nil),
        ([CartLine(name: "Many", unitAmount: 100_000_000, quantity: 10)], nil, nil),
        // The VAT added on top counts: 900,000,000 + 162,000,000.
        ([], 900_000_000, nil),
        // The first month counts when there is no trial.
        ([CartLine(name: "Everything", unitAmount: Money.maximumAmount, quantity: 1)], nil,
         Plan(unitAmount: 1, interval: .month, intervalCount: 1, trialDays: 0, vatExclusive: false)),
        // Each later period is a charge too, even when today is a free trial: 900,000,000 + 18% VAT.
        ([], nil, Plan(unitAmount: 900_000_000, interval: .month, intervalCount: 1, trialDays: 14, vatExclusive: true)),
        // An amount whose VAT alone would overflow a plain multiplication.
        ([], Int64.max / 2, nil),
    ] as [([CartLine], Int64?, Plan?)])
    func overMaximum(lines: [CartLine], exclusiveOneTime: Int64?, plan: Plan?) {
        #expect(throws: CheckoutTotals.Problem.tooLarge) {
            try CheckoutTotals.compute(lines: lines, oneTimePrice: exclusiveOneTime.map { (amount: $0, vatExclusive: true) }, plan: plan,
                                       now: Self.now)
        }
    }
}

@Suite("Cart lines")
struct CartLineTests {
    @Test("A line's total is its unit amount times its quantity", arguments: [
        (Int64(4500), Int64(2), Int64(9000)),
        (-1000, 3, -3000),
        (0, 5, 0),
        (Int64.max, 1, Int64.max),
        (Money.maximumAmount, 1000, 999_999_999_000),
    ] as [(Int64, Int64, Int64)])
    func total(unitAmount: Int64, quantity: Int64, expected: Int64) throws {
        #expect(try CartLine(name: "Item", unitAmount: unitAmount, quantity: quantity).total() == expected)
    }

    @Test("A line whose total does not fit in 64 bits throws instead of wrapping", arguments: [
        (Int64.max / 2, Int64(3)),
        (-(Int64.max / 2), 3),
        (Int64.max, 2),
    ] as [(Int64, Int64)])
    func totalOverflow(unitAmount: Int64, quantity: Int64) {
        #expect(throws: Money.Overflow.self) { try CartLine(name: "Huge", unitAmount: unitAmount, quantity: quantity).total() }
    }

    @Test("A line with a negative unit amount is a discount")
    func discount() {
        #expect(CartLine(name: "Coupon", unitAmount: -1, quantity: 1).isDiscount)
        #expect(!CartLine(name: "Free gift", unitAmount: 0, quantity: 1).isDiscount)
        #expect(!CartLine(name: "Mug", unitAmount: 4500, quantity: 1).isDiscount)
    }
}

@Suite("Installments")
struct InstallmentsTests {
    @Test("The brand's maximum wins when it sets one, else the project's, always within 1 to 12", arguments: [
        (Int64?(3), Int64(12), Int64(3)),
        (1, 12, 1),
        (12, 1, 12),
        (nil, 6, 6),
        (nil, 0, 1),
        (nil, -3, 1),
        (20, 12, 12),
        (nil, 40, 12),
        (nil, 12, 12),
        (nil, 1, 1),
    ] as [(Int64?, Int64, Int64)])
    func maximum(brand: Int64?, project: Int64, expected: Int64) {
        #expect(Installments.maximum(brandSetting: brand, projectSetting: project) == expected)
    }

    @Test("A charge splits into equal payments, the first carrying the agorot that do not divide", arguments: [
        (Int64(10_000), Int64(3), Int64(3334), Int64(3333)),  // 3333 × 3 = 9999: one agora left for the first
        (9900, 1, 9900, 9900),
        (10, 12, 10, 0),         // 10 / 12 = 0 each: all of it in the first
        (12, 12, 1, 1),
        (9900, 12, 825, 825),    // 825 × 12 = 9900 exactly
        (10_001, 12, 838, 833),  // 833 × 12 = 9996: 5 left; 838 + 11 × 833 = 10001
        (Money.maximumAmount, 12, 83_333_336, 83_333_333),  // 83,333,333 × 12 = 999,999,996: 3 left
    ] as [(Int64, Int64, Int64, Int64)])
    func split(total: Int64, count: Int64, first: Int64, each: Int64) {
        let payments = Installments.split(total, count: count)
        #expect(payments.first == first)
        #expect(payments.each == each)
    }

    @Test("The payments add up to the charge, and the first is larger by less than one agora per payment",
          arguments: [Int64(0), 1, 11, 99, 100, 4900, 9999, 10_000, 10_001, 123_457, Money.maximumAmount], Int64(1)...12)
    func splitAddsUp(total: Int64, count: Int64) {
        let payments = Installments.split(total, count: count)
        #expect(payments.first + payments.each * (count - 1) == total)
        #expect(payments.first - payments.each >= 0)
        #expect(payments.first - payments.each < count)
    }
}

@Suite("Payment settings")
struct PaymentSettingsTests {
    @Test("A brand's settings win over the project's; what the brand leaves out comes from the project")
    func brandWins() {
        let branded = PaymentSettings(brandMaxInstallments: 3, brandRequiresIsraeliID: true, projectMaxInstallments: 12, projectRequiresIsraeliID: false)
        #expect(branded == PaymentSettings(brandMaxInstallments: 3, brandRequiresIsraeliID: true, projectMaxInstallments: 6, projectRequiresIsraeliID: true))
        #expect(branded.maxInstallments == 3)
        #expect(branded.requireIsraeliID)
        let plain = PaymentSettings(brandMaxInstallments: nil, brandRequiresIsraeliID: nil, projectMaxInstallments: 6, projectRequiresIsraeliID: true)
        #expect(plain.maxInstallments == 6)
        #expect(plain.requireIsraeliID)
        let brandSaysNo = PaymentSettings(brandMaxInstallments: nil, brandRequiresIsraeliID: false, projectMaxInstallments: 40, projectRequiresIsraeliID: true)
        #expect(brandSaysNo.maxInstallments == 12)
        #expect(!brandSaysNo.requireIsraeliID)
    }
}

@Suite("Billing schedule")
struct BillingScheduleTests {
    @Test("Months have their calendar lengths, with 29 days in February of a leap year", arguments: [
        (Int64(1), Int64(2027), Int64(31)),
        (2, 2027, 28),
        (2, 2028, 29),
        (2, 2100, 28),
        (2, 2000, 29),
        (4, 2027, 30),
        (6, 2027, 30),
        (9, 2027, 30),
        (11, 2027, 30),
        (12, 2027, 31),
    ] as [(Int64, Int64, Int64)])
    func monthLengths(month: Int64, year: Int64, days: Int64) {
        #expect(BillingCalendar.daysIn(month: month, year: year) == days)
    }

    @Test("A monthly plan anchored late in January bills on its day, or the month's last day when the month is shorter",
          arguments: [Int64(29), 30, 31], Int64(0)...24)
    func monthlyFromLateJanuary(anchorDay: Int64, period: Int64) {
        let schedule = BillingSchedule(anchor: utc(2027, 1, anchorDay), interval: .month, intervalCount: 1)
        let year = 2027 + period / 12, month = period % 12 + 1
        let expected = utc(year, month, min(anchorDay, BillingCalendar.daysIn(month: month, year: year)))
        let start = schedule.periodStart(period)
        #expect(start == expected)
        #expect(start.iso8601.hasSuffix("T10:30:00.000Z"))
    }

    @Test("A plan anchored on the 31st bills on the month's last day through 2027 and 2028", arguments: [
        (Int64(0), "2027-01-31"), (1, "2027-02-28"), (2, "2027-03-31"), (3, "2027-04-30"), (4, "2027-05-31"),
        (5, "2027-06-30"), (6, "2027-07-31"), (7, "2027-08-31"), (8, "2027-09-30"), (9, "2027-10-31"),
        (10, "2027-11-30"), (11, "2027-12-31"), (12, "2028-01-31"), (13, "2028-02-29"), (14, "2028-03-31"),
        (24, "2029-01-31"), (25, "2029-02-28"),
    ] as [(Int64, String)])
    func monthlyFromThe31st(period: Int64, date: String) {
        let schedule = BillingSchedule(anchor: utc(2027, 1, 31), interval: .month, intervalCount: 1)
        #expect(schedule.periodStart(period).iso8601 == date + "T10:30:00.000Z")
    }

    @Test("Plans anchored on 29 and 30 January bill on 28 February, then on their own day again")
    func monthlyFromThe29thAndThe30th() {
        let from30th = BillingSchedule(anchor: utc(2027, 1, 30), interval: .month, intervalCount: 1)
        #expect(from30th.periodStart(1) == utc(2027, 2, 28))
        #expect(from30th.periodStart(2) == utc(2027, 3, 30))
        #expect(from30th.periodStart(13) == utc(2028, 2, 29))
        #expect(from30th.periodStart(14) == utc(2028, 3, 30))
        let from29th = BillingSchedule(anchor: utc(2027, 1, 29), interval: .month, intervalCount: 1)
        #expect(from29th.periodStart(1) == utc(2027, 2, 28))
        #expect(from29th.periodStart(2) == utc(2027, 3, 29))
        #expect(from29th.periodStart(13) == utc(2028, 2, 29))
        #expect(from29th.periodStart(14) == utc(2028, 3, 29))
    }

    @Test("Each period is counted from the anchor, so a short month does not pull later bills to the 28th")
    func neverDrifts() {
        let schedule = BillingSchedule(anchor: utc(2027, 1, 31), interval: .month, intervalCount: 1)
        let february = schedule.periodStart(1)
        #expect(february == utc(2027, 2, 28))
        // Chaining from February's bill would land on 28 March; the schedule must not.
        #expect(BillingCalendar.add(.month, count: 1, to: february) == utc(2027, 3, 28))
        #expect(schedule.periodStart(2) == utc(2027, 3, 31))
        #expect(schedule.periodStart(3) == utc(2027, 4, 30))
        #expect(schedule.periodStart(4) == utc(2027, 5, 31))
    }

    @Test("A yearly plan from a leap day bills on 28 February, and on 29 February in leap years", arguments: [
        (Int64(0), "2028-02-29"), (1, "2029-02-28"), (2, "2030-02-28"), (3, "2031-02-28"), (4, "2032-02-29"), (5, "2033-02-28"),
    ] as [(Int64, String)])
    func yearlyFromLeapDay(period: Int64, date: String) {
        let schedule = BillingSchedule(anchor: utc(2028, 2, 29), interval: .year, intervalCount: 1)
        #expect(schedule.periodStart(period).iso8601 == date + "T10:30:00.000Z")
    }

    @Test("A plan every three months moves three calendar months per period")
    func quarterly() {
        let schedule = BillingSchedule(anchor: utc(2027, 11, 30), interval: .month, intervalCount: 3)
        #expect(schedule.periodStart(1) == utc(2028, 2, 29))
        #expect(schedule.periodStart(2) == utc(2028, 5, 30))
        #expect(schedule.periodStart(3) == utc(2028, 8, 30))
        #expect(schedule.periodStart(4) == utc(2028, 11, 30))
    }

    @Test("Weekly and daily plans move by whole days", arguments: [
        (BillingInterval.week, Int64(2), Int64(1), Int64(14)),
        (.week, 2, 3, 42),
        (.week, 1, 52, 364),
        (.day, 1, 1, 1),
        (.day, 1, 365, 365),
        (.day, 30, 2, 60),
    ] as [(BillingInterval, Int64, Int64, Int64)])
    func weeksAndDays(interval: BillingInterval, count: Int64, period: Int64, days: Int64) {
        let anchor = utc(2027, 1, 31)
        let start = BillingSchedule(anchor: anchor, interval: interval, intervalCount: count).periodStart(period)
        #expect(start.milliseconds == anchor.milliseconds + days * 86_400_000)
    }

    @Test("Weekly and daily plans cross month ends and leap days on the calendar")
    func weeksAndDaysOnTheCalendar() {
        let fortnightly = BillingSchedule(anchor: utc(2027, 1, 31), interval: .week, intervalCount: 2)
        #expect(fortnightly.periodStart(1) == utc(2027, 2, 14))
        #expect(fortnightly.periodStart(3) == utc(2027, 3, 14))  // 31 January + 42 days, February having 28
        let daily = BillingSchedule(anchor: utc(2028, 2, 28), interval: .day, intervalCount: 1)
        #expect(daily.periodStart(1) == utc(2028, 2, 29))
        #expect(daily.periodStart(2) == utc(2028, 3, 1))
        #expect(daily.periodStart(366) == utc(2029, 2, 28))  // 28 Feb 2028 → 28 Feb 2029 spans the leap day
    }

    @Test("A plan with a trial is first billed when the trial ends, whatever its interval", arguments: [
        (BillingInterval.month, Int64(14), "2027-02-14"),
        (.month, 30, "2027-03-02"),  // 31 January + 28 days = 28 February, + 2 = 2 March
        (.year, 7, "2027-02-07"),
        (.day, 1, "2027-02-01"),
    ] as [(BillingInterval, Int64, String)])
    func firstBillingWithTrial(interval: BillingInterval, trialDays: Int64, date: String) {
        let plan = Plan(unitAmount: 4900, interval: interval, intervalCount: 1, trialDays: trialDays, vatExclusive: false)
        #expect(BillingSchedule.firstBilling(of: plan, at: utc(2027, 1, 31)).iso8601 == date + "T10:30:00.000Z")
    }

    @Test("A plan without a trial is first billed again one interval after checkout", arguments: [
        (BillingInterval.month, Int64(1), CivilDate(year: 2027, month: 1, day: 15), CivilDate(year: 2027, month: 2, day: 15)),
        (.month, 3, CivilDate(year: 2027, month: 1, day: 15), CivilDate(year: 2027, month: 4, day: 15)),
        (.month, 3, CivilDate(year: 2027, month: 1, day: 31), CivilDate(year: 2027, month: 4, day: 30)),
        (.month, 1, CivilDate(year: 2027, month: 1, day: 31), CivilDate(year: 2027, month: 2, day: 28)),
        (.month, 1, CivilDate(year: 2027, month: 12, day: 15), CivilDate(year: 2028, month: 1, day: 15)),
        (.year, 1, CivilDate(year: 2027, month: 1, day: 31), CivilDate(year: 2028, month: 1, day: 31)),
        (.week, 2, CivilDate(year: 2027, month: 1, day: 31), CivilDate(year: 2027, month: 2, day: 14)),
        (.day, 1, CivilDate(year: 2027, month: 1, day: 31), CivilDate(year: 2027, month: 2, day: 1)),
    ] as [(BillingInterval, Int64, CivilDate, CivilDate)])
    func firstBillingWithoutTrial(interval: BillingInterval, count: Int64, bought: CivilDate, billed: CivilDate) {
        let plan = Plan(unitAmount: 4900, interval: interval, intervalCount: count, trialDays: 0, vatExclusive: false)
        let first = BillingSchedule.firstBilling(of: plan, at: utc(bought.year, bought.month, bought.day))
        #expect(first == utc(billed.year, billed.month, billed.day))
    }
}

@Suite("Hosted session status")
struct HostedSessionStatusTests {
    static let expiresAt = utc(2027, 3, 15, 11, 0)
    static let before = Timestamp(milliseconds: expiresAt.milliseconds - 1)
    static let after = Timestamp(milliseconds: expiresAt.milliseconds + 1)
    static let finals: [HostedSessionStatus] = [.succeeded, .expired, .canceled]

    @Test("Every status is either pending or one of the three final ones")
    func everyStatus() {
        #expect(Set(HostedSessionStatus.allCases) == Set([.pending] + Self.finals))
        #expect(HostedSessionStatus.Change.allCases.count == 3)
    }

    @Test("A pending session completes at any time, expires only once its time is up, and is canceled only before", arguments: [
        // change, 1 ms before expiry, exactly at expiry, 1 ms after expiry
        (.complete, .succeeded, .succeeded, .succeeded),
        (.expire, nil, .expired, .expired),
        (.cancel, .canceled, nil, nil),
    ] as [(HostedSessionStatus.Change, HostedSessionStatus?, HostedSessionStatus?, HostedSessionStatus?)])
    func pendingChanges(change: HostedSessionStatus.Change, before: HostedSessionStatus?, atExpiry: HostedSessionStatus?,
                        after: HostedSessionStatus?) {
        #expect(HostedSessionStatus.pending.after(change, at: Self.before, expiresAt: Self.expiresAt) == before)
        #expect(HostedSessionStatus.pending.after(change, at: Self.expiresAt, expiresAt: Self.expiresAt) == atExpiry)
        #expect(HostedSessionStatus.pending.after(change, at: Self.after, expiresAt: Self.expiresAt) == after)
    }

    @Test("A session that succeeded, expired or was canceled never changes again",
          arguments: finals, HostedSessionStatus.Change.allCases)
    func finalStatusesNeverChange(status: HostedSessionStatus, change: HostedSessionStatus.Change) {
        for now in [Self.before, Self.expiresAt, Self.after] {
            #expect(status.after(change, at: now, expiresAt: Self.expiresAt) == nil)
        }
    }

    @Test("A pending session reads as pending until its time is up, and as expired from that moment on", arguments: [
        (Int64(-86_400_000), HostedSessionStatus.pending),
        (-1, .pending),
        (0, .expired),
        (1, .expired),
        (86_400_000, .expired),
    ] as [(Int64, HostedSessionStatus)])
    func pendingReads(offset: Int64, expected: HostedSessionStatus) {
        let now = Timestamp(milliseconds: Self.expiresAt.milliseconds + offset)
        #expect(HostedSessionStatus.at(now, stored: .pending, expiresAt: Self.expiresAt) == expected)
    }

    @Test("A final status reads as itself before and after the session's time is up", arguments: finals, [Int64(-1), 0, 1, 86_400_000])
    func finalReads(stored: HostedSessionStatus, offset: Int64) {
        let now = Timestamp(milliseconds: Self.expiresAt.milliseconds + offset)
        #expect(HostedSessionStatus.at(now, stored: stored, expiresAt: Self.expiresAt) == stored)
    }
}

@Suite("Plan changes")
struct PlanChangeTests {
    let start = Timestamp(milliseconds: 1_777_000_000_000)
    var end: Timestamp { start.adding(days: 30) }

    @Test("A higher period amount is an upgrade, a lower one a downgrade")
    func kinds() {
        #expect(PlanChange.kind(from: 4900, to: 9900) == .upgrade)
        #expect(PlanChange.kind(from: 9900, to: 4900) == .downgrade)
        #expect(PlanChange.kind(from: 4900, to: 4900) == .same)
    }

    @Test("The prorated difference is (new − old) × remaining / period, rounded half up", arguments: [
        // (old, new, days into a 30-day period, expected)
        (Int64(4900), Int64(9900), Int64(0), Int64(5000)),
        (4900, 9900, 15, 2500),
        (4900, 9900, 30, 0),
        (1000, 1001, 15, 1),      // 0.5 agora rounds up
        (1000, 1001, 16, 0),      // 0.4667 rounds down
        (4900, 9900, 10, 3333),   // 3333.33
        (4900, 9950, 10, 3367),   // 3366.67
        (9900, 4900, 5, 0),       // a downgrade charges nothing
    ])
    func prorated(old: Int64, new: Int64, daysIn: Int64, expected: Int64) {
        #expect(PlanChange.prorated(from: old, to: new, periodStart: start, periodEnd: end, now: start.adding(days: daysIn)) == expected)
    }

    @Test("Proration never overflows: the largest charge over a year's period, one millisecond in")
    func largeAmounts() {
        let yearEnd = start.adding(days: 365)
        let amount = PlanChange.prorated(from: 0, to: Money.maximumAmount, periodStart: start, periodEnd: yearEnd,
                                         now: Timestamp(milliseconds: start.milliseconds + 1))
        #expect(amount == Money.maximumAmount)
        #expect(PlanChange.prorated(from: 0, to: 100, periodStart: start, periodEnd: end, now: end.adding(days: 3)) == 0, "after the period: nothing")
        #expect(PlanChange.prorated(from: 0, to: 100, periodStart: start, periodEnd: end, now: start.adding(days: -3)) == 100, "before it: all of it")
    }
}

@Suite("ISO 8601 times")
struct ISO8601Tests {
    @Test("Accepted forms read back as the API writes them", arguments: [
        ("2027-01-31T09:15:22Z", "2027-01-31T09:15:22.000Z"),
        ("2027-01-31T09:15:22.5Z", "2027-01-31T09:15:22.500Z"),
        ("2027-01-31T09:15:22.123456Z", "2027-01-31T09:15:22.123Z"),
        ("2027-01-31T09:15Z", "2027-01-31T09:15:00.000Z"),
        ("2027-01-31T11:15:22+02:00", "2027-01-31T09:15:22.000Z"),
        ("2027-01-31T00:15:22-03:30", "2027-01-31T03:45:22.000Z"),
        ("2028-02-29T00:00:00Z", "2028-02-29T00:00:00.000Z"),
    ])
    func accepted(text: String, written: String) {
        #expect(Timestamp(iso8601: text)?.iso8601 == written)
    }

    @Test("Other strings are refused", arguments: ["", "2027-01-31", "2027-02-29T00:00:00Z", "2027-13-01T00:00:00Z", "2027-01-31T24:00:00Z",
                                                    "2027-01-31T09:15:22", "2027-01-31T09:15:22+0200", "1969-12-31T23:59:59Z", "2027-01-31T09:15:22Zx",
                                                    "２０２７-01-31T09:15:22Z", "2027-01-31T09:15:22.Z"])
    func refused(text: String) {
        #expect(Timestamp(iso8601: text) == nil)
    }
}
