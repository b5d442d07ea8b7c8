/// A point in time in whole milliseconds since 1970 (UTC): what the store keeps and the API shows.
public struct Timestamp: Sendable, Hashable, Comparable {
    public let milliseconds: Int64
    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.milliseconds < rhs.milliseconds }
    public func adding(seconds: Int64) -> Timestamp { Timestamp(milliseconds: milliseconds + seconds * 1000) }
    public func adding(days: Int64) -> Timestamp { adding(seconds: days * 86_400) }

    /// `2026-04-19T09:15:22.000Z`
    public var iso8601: String {
        let (days, millisecondsOfDay) = floorDivide(milliseconds, 86_400_000)
        let date = CivilDate(daysSinceEpoch: days)
        let seconds = millisecondsOfDay / 1000
        return "\(pad(date.year, 4))-\(pad(date.month, 2))-\(pad(date.day, 2))T"
            + "\(pad(seconds / 3600, 2)):\(pad(seconds / 60 % 60, 2)):\(pad(seconds % 60, 2)).\(pad(millisecondsOfDay % 1000, 3))Z"
    }

    /// The calendar date (UTC).
    public var date: CivilDate { CivilDate(daysSinceEpoch: floorDivide(milliseconds, 86_400_000).0) }

    /// Reads `2027-01-31T09:15:22Z`: a date and time, seconds optional, a fraction (milliseconds
    /// kept), and `Z` or an offset `±HH:MM`. Years 1970 to 9999.
    public init?(iso8601 text: String) {
        let bytes = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int64? {
            guard range.upperBound <= bytes.count, range.allSatisfy({ (48...57).contains(bytes[$0]) }) else { return nil }
            return range.reduce(Int64(0)) { $0 * 10 + Int64(bytes[$1] - 48) }
        }
        guard bytes.count >= 17, bytes[4] == 45, bytes[7] == 45, bytes[10] == 84 || bytes[10] == 116, bytes[13] == 58,
              let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13), let minute = number(14..<16),
              year >= 1970, (1...12).contains(month), (1...BillingCalendar.daysIn(month: month, year: year)).contains(day), hour < 24, minute < 60
        else { return nil }
        var index = 16, second: Int64 = 0, millisecond: Int64 = 0
        if index < bytes.count, bytes[index] == 58 {
            guard let value = number(index + 1..<index + 3), value < 60 else { return nil }
            second = value
            index += 3
            if index < bytes.count, bytes[index] == 46 {
                index += 1
                let start = index
                while index < bytes.count, (48...57).contains(bytes[index]) { index += 1 }
                guard index > start else { return nil }
                let digits = Array(bytes[start..<min(index, start + 3)]) + Array(repeating: UInt8(48), count: max(0, 3 - (index - start)))
                millisecond = digits.reduce(Int64(0)) { $0 * 10 + Int64($1 - 48) }
            }
        }
        // A zone is required: a time without one could be anyone's local time.
        var offsetMinutes: Int64 = 0
        if index == bytes.count - 1, bytes[index] == 90 || bytes[index] == 122 {
            index += 1
        } else if index == bytes.count {
            return nil
        } else if index + 6 == bytes.count, bytes[index] == 43 || bytes[index] == 45, bytes[index + 3] == 58,
                  let offsetHours = number(index + 1..<index + 3), let offsetMinute = number(index + 4..<index + 6), offsetHours < 24, offsetMinute < 60 {
            offsetMinutes = (offsetHours * 60 + offsetMinute) * (bytes[index] == 45 ? -1 : 1)
            index += 6
        }
        guard index == bytes.count else { return nil }
        let days = CivilDate(year: year, month: month, day: day).daysSinceEpoch
        milliseconds = ((days * 24 + hour) * 60 + minute - offsetMinutes) * 60_000 + second * 1000 + millisecond
    }
}

/// A calendar date, computed without Foundation so the conversion is exact and testable.
public struct CivilDate: Sendable, Equatable {
    public let year: Int64, month: Int64, day: Int64

    public init(year: Int64, month: Int64, day: Int64) { self.year = year; self.month = month; self.day = day }

    /// Howard Hinnant's days-from-civil inverse.
    public init(daysSinceEpoch: Int64) {
        let z = daysSinceEpoch + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        day = dayOfYear - (153 * mp + 2) / 5 + 1
        month = mp < 10 ? mp + 3 : mp - 9
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    }

    /// "2026-04-19"
    public var isoString: String { "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))" }
}

/// The source of "now", injected so that tests control time.
public struct AppClock: Sendable {
    private let read: @Sendable () -> Timestamp
    public init(_ read: @escaping @Sendable () -> Timestamp) { self.read = read }
    public func now() -> Timestamp { read() }
}

func floorDivide(_ a: Int64, _ b: Int64) -> (Int64, Int64) {
    let quotient = a >= 0 ? a / b : (a - b + 1) / b
    return (quotient, a - quotient * b)
}

func pad(_ value: Int64, _ width: Int) -> String {
    let text = String(value)
    return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
}
