import ChingDomain
import Testing

/// The numbers of TEST_CARDS.md, as printed there (with spaces).
let testCardNumbers = [
    "4242 4242 4242 4242", "5555 5555 5555 4444", "3782 822463 10005", "4580 0000 0000 0000",
    "4000 0000 0000 0002", "4000 0000 0000 9995", "4000 0000 0000 0069", "4000 0000 0000 0127",
    "4000 0000 0000 0119", "4000 0027 6000 3184", "4000 0000 0000 0341",
]

func digitsOnly(_ number: String) -> String { number.filter { $0 != " " && $0 != "-" } }

@Suite("CardCheck: Luhn")
struct LuhnTests {
    @Test("Every number in TEST_CARDS.md passes Luhn", arguments: testCardNumbers)
    func testCardsPass(number: String) {
        #expect(CardCheck.passesLuhn(digitsOnly(number)))
    }

    @Test("Changing any one digit of a test card makes it fail Luhn", arguments: testCardNumbers)
    func alteredTestCardsFail(number: String) {
        let digits = Array(digitsOnly(number))
        for position in digits.indices {
            var altered = digits
            let digit = Int(String(altered[position]))!
            altered[position] = Character(String((digit + 1) % 10))
            #expect(!CardCheck.passesLuhn(String(altered)), "digit \(position) changed: \(String(altered))")
        }
    }

    @Test("Swapping two unequal neighbouring digits makes a test card fail Luhn")
    func transposedDigitsFail() {
        #expect(!CardCheck.passesLuhn("2442424242424242"))
        #expect(!CardCheck.passesLuhn("5555555555555444"))
    }

    @Test("Luhn refuses an empty string and anything but digits", arguments: [
        "", "4242 4242 4242 4242", "4242-4242-4242-4242", "424242424242424x", "٤٢٤٢",
    ])
    func nonDigitsFail(input: String) {
        #expect(!CardCheck.passesLuhn(input))
    }

    @Test("Luhn works on short digit strings too", arguments: [("0", true), ("18", true), ("19", false), ("79927398713", true)])
    func shortNumbers(digits: String, expected: Bool) {
        #expect(CardCheck.passesLuhn(digits) == expected)
    }

    @Test(
        "Luhn refuses a digit with a combining mark instead of crashing"
    )
    func combiningMarkDoesNotCrash() {
        #expect(!CardCheck.passesLuhn("424242424242424\u{20E3}2"))
        let problems = CardCheck.problems(
            number: "4242 4242 4242 424\u{20E3}2", expMonth: 12, expYear: 2034, cvc: "123",
            today: CivilDate(year: 2026, month: 4, day: 19))
        #expect(problems[.number] == .invalidNumber)
        #expect(!CardCheck.isValidIsraeliID("00000001\u{301}8"))
    }
}

@Suite("CardCheck: problems")
struct CardProblemsTests {
    static let today = CivilDate(year: 2026, month: 4, day: 19)

    static func problems(number: String = "4242424242424242", month: Int? = 12, year: Int? = 2034, cvc: String = "123")
        -> [CardField: CardProblem]
    {
        CardCheck.problems(number: number, expMonth: month, expYear: year, cvc: cvc, today: today)
    }

    @Test("A valid card has no problems, with or without spaces and dashes", arguments: [
        "4242424242424242", "4242 4242 4242 4242", "4242-4242-4242-4242", "5555 5555 5555 4444",
    ])
    func validCard(number: String) {
        #expect(Self.problems(number: number).isEmpty)
    }

    @Test("A missing number is reported as missing")
    func missingNumber() {
        #expect(Self.problems(number: "") == [.number: .missing])
        #expect(Self.problems(number: " - ") == [.number: .missing])
    }

    @Test("A bad number is reported as invalid", arguments: [
        "4242 4242 4242 4241",          // fails Luhn
        "424242424242",                 // 12 digits: too short
        "4242424242424242 4242",        // 20 digits: too long
        "4242 4242 4242 424x",          // a letter
        "4242.4242.4242.4242",          // dots are not accepted separators
    ])
    func invalidNumber(number: String) {
        #expect(Self.problems(number: number) == [.number: .invalidNumber])
    }

    @Test("Thirteen and nineteen digit Luhn-valid numbers are accepted", arguments: [
        "4222222222222", "4000000000000000006",
    ])
    func lengthBounds(number: String) {
        #expect(CardCheck.passesLuhn(number))
        #expect(Self.problems(number: number)[.number] == nil)
    }

    @Test("The expiry is judged against today, counting the current month as valid", arguments: [
        (4, 2026, nil),                       // this month
        (5, 2026, nil),
        (1, 2027, nil),
        (3, 2026, CardProblem.expired),       // last month
        (12, 2025, .expired),
        (4, 2025, .expired),
        (4, 26, nil),                         // two-digit year: this month
        (3, 26, .expired),                    // two-digit year: last month
        (12, 34, nil),
        (1, 25, .expired),
        (12, 2046, nil),                      // 20 years ahead
        (1, 2047, .invalidExpiry),            // more than 20 years ahead
        (0, 2030, .invalidExpiry),
        (13, 2030, .invalidExpiry),
        (-1, 2030, .invalidExpiry),
    ] as [(Int, Int, CardProblem?)])
    func expiry(month: Int, year: Int, expected: CardProblem?) {
        #expect(Self.problems(month: month, year: year)[.expiry] == expected)
    }

    @Test("A missing expiry is missing; half an expiry is invalid")
    func missingExpiry() {
        #expect(Self.problems(month: nil, year: nil) == [.expiry: .missing])
        #expect(Self.problems(month: 12, year: nil) == [.expiry: .invalidExpiry])
        #expect(Self.problems(month: nil, year: 2030) == [.expiry: .invalidExpiry])
    }

    @Test("Amex needs a 4-digit CVC and other brands a 3-digit one", arguments: [
        ("378282246310005", "1234", nil),
        ("378282246310005", "123", CardProblem.invalidCVC),
        ("4242424242424242", "123", nil),
        ("4242424242424242", "1234", .invalidCVC),
        ("5555555555554444", "12", .invalidCVC),
        ("5555555555554444", "12a", .invalidCVC),
        ("4242424242424242", " 123", .invalidCVC),
        ("4242424242424242", "", .missing),
        ("378282246310005", "", .missing),
    ] as [(String, String, CardProblem?)])
    func cvc(number: String, cvc: String, expected: CardProblem?) {
        #expect(Self.problems(number: number, cvc: cvc)[.cvc] == expected)
    }

    @Test("Every bad field is reported at once")
    func everyProblemAtOnce() {
        #expect(Self.problems(number: "1234", month: 1, year: 2020, cvc: "") ==
            [.number: .invalidNumber, .expiry: .expired, .cvc: .missing])
    }
}

@Suite("CardCheck: Israeli identity numbers")
struct IsraeliIDTests {
    @Test("A correct check digit is accepted", arguments: ["000000018", "123456782", "18", "039337423"])
    func valid(id: String) {
        #expect(CardCheck.isValidIsraeliID(id))
    }

    @Test("A wrong check digit or a malformed number is refused", arguments: [
        "123456789", "000000019", "", "1234567890", "12345678-2", "12345678 2", "abc", "12345678a",
    ])
    func invalid(id: String) {
        #expect(!CardCheck.isValidIsraeliID(id))
    }
}

@Suite("CardBrand")
struct CardBrandTests {
    @Test("Each test card is detected as its brand", arguments: [
        ("4242 4242 4242 4242", CardBrand.visa), ("5555 5555 5555 4444", .mastercard),
        ("3782 822463 10005", .amex), ("4580 0000 0000 0000", .visa), ("4000 0000 0000 0002", .visa),
        ("4000 0000 0000 9995", .visa), ("4000 0000 0000 0069", .visa), ("4000 0000 0000 0127", .visa),
        ("4000 0000 0000 0119", .visa), ("4000 0027 6000 3184", .visa), ("4000 0000 0000 0341", .visa),
    ])
    func testCardBrands(number: String, brand: CardBrand) {
        #expect(CardBrand(number: number) == brand)
        #expect(CardBrand(number: digitsOnly(number)) == brand)
    }

    @Test("Other number ranges are detected as their brand", arguments: [
        ("5105105105105100", CardBrand.mastercard), ("2221000000000009", .mastercard),
        ("2720990000000007", .mastercard), ("2220990000000000", .unknown),
        ("371449635398431", .amex), ("36227206271667", .diners), ("3056930009020004", .diners),
        ("3852000002323700", .diners), ("6011111111111117", .discover), ("6500000000000002", .discover),
        ("12345678", .isracard), ("123456782", .isracard), ("9999999999999999", .unknown), ("", .unknown),
    ])
    func otherBrands(number: String, brand: CardBrand) {
        #expect(CardBrand(number: number) == brand)
    }

    @Test("Each brand has a readable name", arguments: [
        (CardBrand.visa, "Visa"), (.mastercard, "Mastercard"), (.amex, "American Express"), (.diners, "Diners"),
        (.discover, "Discover"), (.isracard, "Isracard"), (.unknown, "Card"),
    ])
    func displayNames(brand: CardBrand, name: String) {
        #expect(brand.displayName == name)
    }
}

@Suite("CardInput")
struct CardInputTests {
    static let cvc = "987"

    @Test("A card input keeps only the digits of the number and knows its last four and brand")
    func normalises() {
        let card = CardInput(number: "3782 822463 10005", expMonth: 1, expYear: 30, cvc: "1234", holderName: "Dana")
        #expect(card.number == "378282246310005")
        #expect(card.last4 == "0005")
        #expect(card.brand == .amex)
        #expect(card.expMonth == 1)
        #expect(card.expYear == 30)
        #expect(card.holderName == "Dana")
    }

    @Test("The description shows only the brand and the last four digits")
    func descriptionFormat() {
        let card = CardInput(number: "4242 4242 4242 4242", expMonth: 12, expYear: 2034, cvc: Self.cvc, holderName: nil)
        #expect(card.description == "CardInput(visa •••• 4242)")
        #expect(card.debugDescription == "CardInput(visa •••• 4242)")
    }

    @Test("No way of printing a card shows its full number or its CVC", arguments: testCardNumbers)
    func printingHidesSecrets(number: String) {
        let card = CardInput(number: number, expMonth: 12, expYear: 2034, cvc: Self.cvc, holderName: "Dana Cohen")
        let digits = digitsOnly(number)
        let renderings = [card.description, card.debugDescription, "\(card)", String(describing: card), String(reflecting: card)]
        for text in renderings {
            #expect(!text.contains(digits))
            #expect(!text.contains(String(digits.dropLast(4))))
            #expect(!text.contains(Self.cvc))
            #expect(text.contains(card.last4))
        }
    }

    @Test(
        "dump() of a card shows neither its number nor its CVC"
    )
    func dumpHidesSecrets() {
        let card = CardInput(number: "4242424242424242", expMonth: 12, expYear: 2034, cvc: Self.cvc, holderName: nil)
        var output = ""
        dump(card, to: &output)
        #expect(!output.contains("4242424242424242"))
        #expect(!output.contains(Self.cvc))
    }
}
