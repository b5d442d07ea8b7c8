import ChingDomain
import Testing

@Suite("Timestamp and CivilDate")
struct ClockTests {
    @Test("A timestamp prints as ISO 8601 UTC with milliseconds", arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"),
        (1, "1970-01-01T00:00:00.001Z"),
        (1_776_590_122_000, "2026-04-19T09:15:22.000Z"),
        (1_776_590_122_345, "2026-04-19T09:15:22.345Z"),
        (1_709_208_000_000, "2024-02-29T12:00:00.000Z"),
        (951_782_400_000, "2000-02-29T00:00:00.000Z"),
        (4_107_542_399_999, "2100-02-28T23:59:59.999Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
        (-86_400_000, "1969-12-31T00:00:00.000Z"),
        (-2_203_891_200_000, "1900-03-01T00:00:00.000Z"),
    ])
    func iso8601(milliseconds: Int64, expected: String) {
        #expect(Timestamp(milliseconds: milliseconds).iso8601 == expected)
    }

    @Test("Adding a day to 28 February of a leap year gives the leap day")
    func addingDaysReachesLeapDay() {
        let february28 = Timestamp(milliseconds: 1_709_208_000_000 - 86_400_000)
        #expect(february28.iso8601 == "2024-02-28T12:00:00.000Z")
        #expect(february28.adding(days: 1).iso8601 == "2024-02-29T12:00:00.000Z")
        #expect(february28.adding(days: 2).iso8601 == "2024-03-01T12:00:00.000Z")
    }

    @Test("Adding days and seconds moves by whole days and seconds, backwards too")
    func addingDaysAndSeconds() {
        let start = Timestamp(milliseconds: 1_776_590_122_000)
        #expect(start.adding(days: 7).milliseconds == 1_776_590_122_000 + 7 * 86_400_000)
        #expect(start.adding(days: 7).iso8601 == "2026-04-26T09:15:22.000Z")
        #expect(start.adding(days: -19).iso8601 == "2026-03-31T09:15:22.000Z")
        #expect(start.adding(seconds: 30 * 60).iso8601 == "2026-04-19T09:45:22.000Z")
        #expect(start.adding(days: 0) == start)
    }

    @Test("Timestamps order by their milliseconds")
    func ordering() {
        #expect(Timestamp(milliseconds: -5) < Timestamp(milliseconds: 0))
        #expect(Timestamp(milliseconds: 1) < Timestamp(milliseconds: 2))
        #expect(!(Timestamp(milliseconds: 2) < Timestamp(milliseconds: 2)))
        #expect(Timestamp(milliseconds: 3).adding(seconds: 1) > Timestamp(milliseconds: 1000))
    }

    @Test("A timestamp's date is its UTC calendar day, also just before midnight and before 1970")
    func timestampDate() {
        #expect(Timestamp(milliseconds: 1_776_590_122_000).date == CivilDate(year: 2026, month: 4, day: 19))
        #expect(Timestamp(milliseconds: 86_399_999).date == CivilDate(year: 1970, month: 1, day: 1))
        #expect(Timestamp(milliseconds: 86_400_000).date == CivilDate(year: 1970, month: 1, day: 2))
        #expect(Timestamp(milliseconds: -1).date == CivilDate(year: 1969, month: 12, day: 31))
    }

    @Test("Days since 1970 convert to the right calendar date", arguments: [
        (Int64(0), CivilDate(year: 1970, month: 1, day: 1)),
        (-1, CivilDate(year: 1969, month: 12, day: 31)),
        (59, CivilDate(year: 1970, month: 3, day: 1)),
        (11_016, CivilDate(year: 2000, month: 2, day: 29)),
        (19_782, CivilDate(year: 2024, month: 2, day: 29)),
        (-135_080, CivilDate(year: 1600, month: 3, day: 1)),
        (157_113, CivilDate(year: 2400, month: 2, day: 29)),
        (-719_162, CivilDate(year: 1, month: 1, day: 1)),
    ] as [(Int64, CivilDate)])
    func daysSinceEpoch(days: Int64, expected: CivilDate) {
        #expect(CivilDate(daysSinceEpoch: days) == expected)
    }

    @Test("Day after day from 1900 to 2200, the conversion walks the Gregorian calendar without a gap")
    func walksTheCalendar() {
        func daysIn(_ year: Int64, _ month: Int64) -> Int64 {
            switch month {
            case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
            case 4, 6, 9, 11: 30
            default: 31
            }
        }
        var (year, month, day): (Int64, Int64, Int64) = (1900, 1, 1)
        var mismatches = 0
        for days in Int64(-25_567)...Int64(84_000) {
            if CivilDate(daysSinceEpoch: days) != CivilDate(year: year, month: month, day: day) { mismatches += 1 }
            day += 1
            if day > daysIn(year, month) { day = 1; month += 1 }
            if month > 12 { month = 1; year += 1 }
        }
        #expect(mismatches == 0)
    }

    @Test("A civil date prints as yyyy-MM-dd with zero padding", arguments: [
        (CivilDate(year: 2026, month: 4, day: 19), "2026-04-19"),
        (CivilDate(year: 2026, month: 12, day: 1), "2026-12-01"),
        (CivilDate(year: 5, month: 1, day: 9), "0005-01-09"),
    ] as [(CivilDate, String)])
    func civilDateString(date: CivilDate, expected: String) {
        #expect(date.isoString == expected)
    }

    @Test("The clock reads whatever source it was given")
    func appClock() {
        let clock = AppClock { Timestamp(milliseconds: 1_776_590_122_000) }
        #expect(clock.now().iso8601 == "2026-04-19T09:15:22.000Z")
    }
}
