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
