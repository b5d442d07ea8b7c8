/// What a customer typed into a card form. It lives only in memory, on its way to the provider:
/// its `description` hides the number and the CVC so that logging it by mistake leaks nothing.
public struct CardInput: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public let number: String
    public let expMonth: Int
    public let expYear: Int
    public let cvc: String
    public let holderName: String?

    public init(number: String, expMonth: Int, expYear: Int, cvc: String, holderName: String?) {
        self.number = number.filter(\.isASCIIDigit)
        self.expMonth = expMonth
        self.expYear = expYear
        self.cvc = cvc
        self.holderName = holderName
    }

    public var last4: String { String(number.suffix(4)) }
    public var brand: CardBrand { CardBrand(number: number) }
    public var description: String { "CardInput(\(brand.rawValue) •••• \(last4))" }
    public var debugDescription: String { description }
    /// `dump()` and mirror-based loggers see only what `description` shows.
    public var customMirror: Mirror { Mirror(self, children: ["brand": brand, "last4": last4], displayStyle: .struct) }
}

public enum CardBrand: String, Sendable {
    case visa, mastercard, amex, diners, discover, isracard, unknown

    public init(number: String) {
        let digits = number.filter(\.isASCIIDigit)
        let two = Int(digits.prefix(2)) ?? 0
        let four = Int(digits.prefix(4)) ?? 0
        if digits.hasPrefix("4") { self = .visa }
        else if (51...55).contains(two) || (2221...2720).contains(four) { self = .mastercard }
        else if two == 34 || two == 37 { self = .amex }
        else if two == 36 || two == 38 || (300...305).contains(Int(digits.prefix(3)) ?? 0) { self = .diners }
        else if digits.hasPrefix("6011") || digits.hasPrefix("65") { self = .discover }
        else if digits.count == 8 || digits.count == 9 { self = .isracard }
        else { self = .unknown }
    }

    /// What a person reads: "Visa", "Mastercard".
    public var displayName: String {
        switch self {
        case .visa: "Visa"
        case .mastercard: "Mastercard"
        case .amex: "American Express"
        case .diners: "Diners"
        case .discover: "Discover"
        case .isracard: "Isracard"
        case .unknown: "Card"
        }
    }
}

/// Checks on card fields that never need the provider: a bad value is refused before anything is sent.
public enum CardCheck {
    /// The Luhn checksum over a string of digits.
    public static func passesLuhn(_ digits: String) -> Bool {
        guard !digits.isEmpty, digits.allSatisfy(\.isASCIIDigit) else { return false }
        var sum = 0
        for (index, character) in digits.reversed().enumerated() {
            var digit = Int(character.asciiValue! - 48)
            if index % 2 == 1 {
                digit *= 2
                if digit > 9 { digit -= 9 }
            }
            sum += digit
        }
        return sum % 10 == 0
    }

    /// The reasons each field of a card fails, keyed by field (`number`, `exp`, `cvc`); empty when valid.
    public static func problems(number rawNumber: String, expMonth: Int?, expYear: Int?, cvc: String, today: CivilDate) -> [CardField: CardProblem] {
        var problems: [CardField: CardProblem] = [:]
        let number = rawNumber.filter { $0 != " " && $0 != "-" }
        if number.isEmpty {
            problems[.number] = .missing
        } else if !number.allSatisfy(\.isASCIIDigit) || !(13...19).contains(number.count) || !passesLuhn(number) {
            problems[.number] = .invalidNumber
        }
        if let month = expMonth, let year = expYear, (1...12).contains(month) {
            let fullYear = year < 100 ? 2000 + year : year
            if Int64(fullYear) < today.year || (Int64(fullYear) == today.year && Int64(month) < today.month) {
                problems[.expiry] = .expired
            } else if Int64(fullYear) > today.year + 20 {
                problems[.expiry] = .invalidExpiry
            }
        } else {
            problems[.expiry] = expMonth == nil && expYear == nil ? .missing : .invalidExpiry
        }
        let cvcLength = CardBrand(number: number) == .amex ? 4 : 3
        if cvc.isEmpty {
            problems[.cvc] = .missing
        } else if !cvc.allSatisfy(\.isASCIIDigit) || cvc.count != cvcLength {
            problems[.cvc] = .invalidCVC
        }
        return problems
    }

    /// The Israeli identity number (teudat zehut): up to 9 digits with a Luhn-like check digit.
    public static func isValidIsraeliID(_ input: String) -> Bool {
        let digits = input.filter(\.isASCIIDigit)
        guard !digits.isEmpty, digits.count <= 9, digits.count == input.count else { return false }
        let padded = String(repeating: "0", count: 9 - digits.count) + digits
        var sum = 0
        for (index, character) in padded.enumerated() {
            var value = Int(character.asciiValue! - 48) * (index % 2 == 0 ? 1 : 2)
            if value > 9 { value -= 9 }
            sum += value
        }
        return sum % 10 == 0
    }
}

public enum CardField: String, Sendable, Hashable { case number, expiry, cvc }
public enum CardProblem: String, Sendable { case missing, invalidNumber, expired, invalidExpiry, invalidCVC }
