/// Money is always an integer number of agorot (1/100 of a shekel). These helpers are the only
/// place that does arithmetic on it, and every operation is overflow-checked.
public enum Money {
    /// The largest amount one charge may carry: ₪9,999,999.99.
    public static let maximumAmount: Int64 = 999_999_999

    public struct Overflow: Error, Sendable {}

    public static func add(_ a: Int64, _ b: Int64) throws(Overflow) -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        if overflow { throw Overflow() }
        return sum
    }

    public static func multiply(_ a: Int64, _ b: Int64) throws(Overflow) -> Int64 {
        let (product, overflow) = a.multipliedReportingOverflow(by: b)
        if overflow { throw Overflow() }
        return product
    }

    /// "1,234.50": grouping with commas, two decimals, a leading minus for negatives.
    public static func decimalString(_ agorot: Int64) -> String {
        let magnitude = agorot.magnitude
        let shekels = magnitude / 100
        let cents = magnitude % 100
        var digits = String(shekels)
        var grouped = ""
        while digits.count > 3 {
            grouped = "," + digits.suffix(3) + grouped
            digits.removeLast(3)
        }
        grouped = digits + grouped
        return (agorot < 0 ? "-" : "") + grouped + "." + (cents < 10 ? "0" : "") + String(cents)
    }

    /// The amount as a customer reads it: English `₪1,234.50`, Hebrew `‏1,234.50 ₪` (with a
    /// right-to-left mark so the sign stays at the right place in RTL text).
    public static func format(_ agorot: Int64, locale: Language) -> String {
        let sign = agorot < 0 ? "-" : ""
        let number = agorot < 0 ? String(decimalString(agorot).dropFirst()) : decimalString(agorot)
        switch locale {
        case .en: return sign + "₪" + number
        case .he: return "\u{200F}" + sign + number + " ₪"
        }
    }
}

/// The two languages of the product.
public enum Language: String, Sendable, CaseIterable {
    case he, en
}

/// Israeli VAT. Prices are VAT-inclusive unless a price says otherwise.
public enum VAT {
    /// 18%, as a fraction so that no floating point is involved.
    public static let rateNumerator: Int64 = 18
    public static let rateDenominator: Int64 = 100
    /// "18%", as pages, emails and documents print the rate.
    public static var percentLabel: String { "\(rateNumerator * 100 / rateDenominator)%" }

    /// The VAT part of an inclusive amount: round(amount × 18 / 118), half away from zero.
    public static func includedIn(_ amount: Int64) -> Int64 {
        fraction(of: amount, denominator: rateDenominator + rateNumerator)
    }

    /// The VAT to add on top of an exclusive amount: round(amount × 18 / 100).
    public static func addedTo(_ amount: Int64) -> Int64 {
        fraction(of: amount, denominator: rateDenominator)
    }

    /// An exclusive amount with its VAT added, checked.
    public static func gross(ofExclusive amount: Int64) throws(Money.Overflow) -> Int64 {
        try Money.add(amount, addedTo(amount))
    }

    /// round(amount × 18 / denominator) for any amount: the whole multiples of the denominator are
    /// scaled apart from the remainder, so nothing overflows.
    private static func fraction(of amount: Int64, denominator: Int64) -> Int64 {
        let (quotient, remainder) = amount.quotientAndRemainder(dividingBy: denominator)
        return quotient * rateNumerator + divideRounded(remainder * rateNumerator, by: denominator)
    }

    static func divideRounded(_ value: Int64, by divisor: Int64) -> Int64 {
        let half = divisor / 2
        return value >= 0 ? (value + half) / divisor : -((-value + half) / divisor)
    }
}
