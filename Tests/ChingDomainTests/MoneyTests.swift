import ChingDomain
import Testing

@Suite("Money")
struct MoneyTests {
    @Test("Adding amounts that fit gives their sum")
    func addFits() throws {
        #expect(try Money.add(1999, 250) == 2249)
        #expect(try Money.add(-500, 200) == -300)
        #expect(try Money.add(Int64.max - 1, 1) == Int64.max)
    }

    @Test("Adding past the limits of Int64 throws instead of trapping", arguments: [
        (Int64.max, Int64(1)),
        (Int64(1), Int64.max),
        (Int64.min, Int64(-1)),
        (Int64.max / 2 + 1, Int64.max / 2 + 1),
    ])
    func addOverflowThrows(a: Int64, b: Int64) {
        #expect(throws: Money.Overflow.self) { try Money.add(a, b) }
    }

    @Test("Multiplying amounts that fit gives their product")
    func multiplyFits() throws {
        #expect(try Money.multiply(1999, 3) == 5997)
        #expect(try Money.multiply(-250, 4) == -1000)
        #expect(try Money.multiply(Money.maximumAmount, 1000) == 999_999_999_000)
    }

    @Test("Multiplying past the limits of Int64 throws instead of trapping", arguments: [
        (Int64.max, Int64(2)),
        (Int64.min, Int64(-1)),
        (Int64(4_000_000_000), Int64(4_000_000_000)),
        (Money.maximumAmount, Money.maximumAmount * 10),
    ])
    func multiplyOverflowThrows(a: Int64, b: Int64) {
        #expect(throws: Money.Overflow.self) { try Money.multiply(a, b) }
    }

    @Test("The decimal string groups thousands with commas and always shows two decimals", arguments: [
        (Int64(0), "0.00"),
        (5, "0.05"),
        (10, "0.10"),
        (99, "0.99"),
        (100, "1.00"),
        (99_999, "999.99"),
        (100_000, "1,000.00"),
        (123_450, "1,234.50"),
        (123_456_789, "1,234,567.89"),
        (Money.maximumAmount, "9,999,999.99"),
        (-5, "-0.05"),
        (-100, "-1.00"),
        (-123_456_789, "-1,234,567.89"),
        (Int64.max, "92,233,720,368,547,758.07"),
        (Int64.min, "-92,233,720,368,547,758.08"),
    ])
    func decimalString(agorot: Int64, expected: String) {
        #expect(Money.decimalString(agorot) == expected)
    }

    @Test("A Hebrew amount puts the shekel sign after the number, behind a right-to-left mark", arguments: [
        (Int64(123_450), "\u{200F}1,234.50 ₪"),
        (0, "\u{200F}0.00 ₪"),
        (5, "\u{200F}0.05 ₪"),
        (-123_450, "\u{200F}-1,234.50 ₪"),
    ])
    func hebrewFormat(agorot: Int64, expected: String) {
        #expect(Money.format(agorot, locale: .he) == expected)
    }

    @Test("An English amount puts the shekel sign before the number, after any minus", arguments: [
        (Int64(123_450), "₪1,234.50"),
        (0, "₪0.00"),
        (100_000_000, "₪1,000,000.00"),
        (-123_450, "-₪1,234.50"),
    ])
    func englishFormat(agorot: Int64, expected: String) {
        #expect(Money.format(agorot, locale: .en) == expected)
    }

    @Test(
        "Formatting Int64.min shows the same digits as its decimal string"
    )
    func formatInt64Min() {
        #expect(Money.format(Int64.min, locale: .en) == "-₪92,233,720,368,547,758.08")
    }
}

@Suite("VAT")
struct VATTests {
    @Test("The VAT included in an inclusive amount is amount × 18 / 118, rounded", arguments: [
        (Int64(11_800), Int64(1_800)),
        (9_900, 1_510),
        (0, 0),
        (118, 18),
        (1, 0),
        (3, 0),
        (4, 1),
        (23, 4),   // 414 / 118 = 3.508…: just over half, rounds up
        (36, 5),   // 648 / 118 = 5.491…: just under half, rounds down
        (-11_800, -1_800),
        (-23, -4),
        (-36, -5),
        (Money.maximumAmount, 152_542_373),
    ] as [(Int64, Int64)])
    func includedIn(amount: Int64, expected: Int64) {
        #expect(VAT.includedIn(amount) == expected)
    }

    @Test("The VAT added to an exclusive amount is amount × 18 / 100, half rounded away from zero", arguments: [
        (Int64(10_000), Int64(1_800)),
        (0, 0),
        (25, 5),    // 4.5 exactly: half rounds up
        (75, 14),   // 13.5 exactly: half rounds up
        (24, 4),    // 4.32
        (36, 6),    // 6.48
        (-25, -5),  // -4.5: half rounds away from zero
        (-24, -4),
    ])
    func addedTo(amount: Int64, expected: Int64) {
        #expect(VAT.addedTo(amount) == expected)
    }

    @Test("The VAT added to a net price is the VAT found again in the gross price", arguments: [
        Int64(100), 1_000, 4_990, 10_000, 123_456,
    ])
    func addedThenIncluded(net: Int64) {
        let vat = VAT.addedTo(net)
        #expect(VAT.includedIn(net + vat) == vat)
    }

    @Test("VAT of any amount is computed without overflowing, and matches the plain formula where that fits", arguments: [
        Int64.max, Int64.min + 1, Int64.max / 18 + 1, -(Int64.max / 18 + 1), 999_999_999, 1_180_000_001, 117, -117, 59, -59,
    ])
    func vatNeverOverflows(amount: Int64) {
        let included = VAT.includedIn(amount), added = VAT.addedTo(amount)
        #expect(included.magnitude <= amount.magnitude / 6)
        #expect(added.magnitude <= amount.magnitude / 5 + 1)
        if amount.magnitude < UInt64(Int64.max / 18) {
            let exact = Double(amount) * 18
            #expect(included == Int64((exact / 118).rounded(.toNearestOrAwayFromZero)))
            #expect(added == Int64((exact / 100).rounded(.toNearestOrAwayFromZero)))
        }
        #expect((try? VAT.gross(ofExclusive: Int64.max)) == nil)
    }

    @Test("The rate is 18% in every form")
    func rate() {
        #expect(VAT.rateNumerator == 18)
        #expect(VAT.rateDenominator == 100)
        #expect(VAT.percentLabel == "18%")
    }
}
