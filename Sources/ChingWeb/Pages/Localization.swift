import ChingDomain
import ChingHTTP
import ChingServices
import Foundation

/// The page strings of each language, from `Templates/locales/<lang>.json`. Every language must
/// have exactly the same keys: a missing translation fails the start, not a customer's page.
struct Localization: Sendable {
    let strings: [Language: [String: String]]

    static func load(directory: String) throws -> Localization {
        var strings: [Language: [String: String]] = [:]
        for locale in Language.allCases {
            let path = "\(directory)/locales/\(locale.rawValue).json"
            guard let data = FileManager.default.contents(atPath: path), let object = try? JSONValue.parse(Array(data)).objectValue else {
                throw ConfigurationError("The locale file \(path) is missing or not a JSON object.")
            }
            var table: [String: String] = [:]
            for (key, value) in object.entries { table[key] = value.stringValue ?? "" }
            strings[locale] = table
        }
        let keys = Set(strings[.he]!.keys)
        for (locale, table) in strings where Set(table.keys) != keys {
            throw ConfigurationError("The locale \(locale.rawValue) does not have the same keys as he: \(keys.symmetricDifference(table.keys).sorted())")
        }
        return Localization(strings: strings)
    }

    func table(_ locale: Language) -> [String: String] { strings[locale] ?? [:] }

    /// The string for `key` with `{name}` placeholders filled in, in one pass: a value is never
    /// searched for placeholders itself (a merchant named "{amount}" stays as typed).
    func text(_ key: String, _ locale: Language, _ values: [String: String] = [:]) -> String {
        let template = strings[locale]?[key] ?? key
        guard !values.isEmpty else { return template }
        var text = "", rest = Substring(template)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            text += rest[..<open]
            let name = String(rest[rest.index(after: open)..<close])
            text += values[name] ?? String(rest[open...close])
            rest = rest[rest.index(after: close)...]
        }
        return text + rest
    }

    /// A provider's decline (`failure_code`) in words; a code without its own words is "the payment did not go through".
    func declineText(_ code: String?, _ locale: Language) -> String {
        let key = "decline_\(code ?? "other")"
        return table(locale)[key] != nil ? text(key, locale) : text("decline_other", locale)
    }

    func money(_ agorot: Int64, _ locale: Language) -> String { Money.format(agorot, locale: locale) }

    /// "24 December 2026" / "24 בדצמבר 2026"
    func date(_ time: Timestamp, _ locale: Language) -> String { date(time.date, locale) }

    func date(_ date: CivilDate, _ locale: Language) -> String {
        text("date_format", locale, ["day": String(date.day), "month": text("month_\(date.month)", locale), "year": String(date.year)])
    }

    /// "month", "3 months"
    func interval(_ interval: BillingInterval, count: Int64, _ locale: Language) -> String {
        count == 1 ? text("interval_\(interval.rawValue)", locale) : text("interval_\(interval.rawValue)s", locale, ["count": String(count)])
    }
}
