import ChingDomain
import ChingProviders
import Testing

/// What TEST_CARDS.md says a card does in the sandbox.
enum SandboxOutcome: Sendable, CustomTestStringConvertible {
    /// Saves and charges; `issuer` and installments as the table's notes say.
    case succeeds(issuer: String, installments: Bool, threeDS: Bool)
    /// Refused outright: the card cannot be saved, so it can never be charged.
    case declined(code: String, retryable: Bool)
    /// Saves fine; every charge is then declined.
    case declinedAfterSaving(code: String)

    var testDescription: String {
        switch self {
        case .succeeds(let issuer, let installments, let threeDS):
            "succeeds (\(issuer)\(installments ? ", installments" : "")\(threeDS ? ", 3-D Secure" : ""))"
        case .declined(let code, _): "declined \(code)"
        case .declinedAfterSaving(let code): "saves, then declined \(code)"
        }
    }
}

@Suite("SandboxProvider")
struct SandboxProviderTests {
    /// Every random byte is 0xAB, so tokens and references are predictable.
    static let fixedIDs = IDGenerator { count in Array(repeating: 0xAB, count: count) }
    static let provider = SandboxProvider(ids: fixedIDs)

    /// One row per line of TEST_CARDS.md, plus an ordinary Luhn-valid card that is not in the table.
    static let table: [(String, CardBrand, SandboxOutcome)] = [
        ("4242 4242 4242 4242", .visa, .succeeds(issuer: "US", installments: false, threeDS: false)),
        ("5555 5555 5555 4444", .mastercard, .succeeds(issuer: "US", installments: false, threeDS: false)),
        ("3782 822463 10005", .amex, .succeeds(issuer: "US", installments: false, threeDS: false)),
        ("4580 0000 0000 0000", .visa, .succeeds(issuer: "IL", installments: true, threeDS: false)),
        ("4000 0000 0000 0002", .visa, .declined(code: "card_declined", retryable: false)),
        ("4000 0000 0000 9995", .visa, .declined(code: "insufficient_funds", retryable: false)),
        ("4000 0000 0000 0069", .visa, .declined(code: "expired_card", retryable: false)),
        ("4000 0000 0000 0127", .visa, .declined(code: "incorrect_cvc", retryable: false)),
        ("4000 0000 0000 0119", .visa, .declined(code: "processing_error", retryable: true)),
        ("4000 0027 6000 3184", .visa, .succeeds(issuer: "US", installments: false, threeDS: true)),
        ("4000 0000 0000 0341", .visa, .declinedAfterSaving(code: "card_declined")),
        ("4111 1111 1111 1111", .visa, .succeeds(issuer: "US", installments: false, threeDS: false)),
    ]

    static func card(_ number: String, expYear: Int = 2034) -> CardInput {
        CardInput(number: number, expMonth: 12, expYear: expYear, cvc: number.hasPrefix("37") ? "1234" : "123", holderName: "Dana Cohen")
    }

    @Test("Saving and charging each test card gives the outcome TEST_CARDS.md lists", arguments: table)
    func outcomeMatchesTable(number: String, brand: CardBrand, outcome: SandboxOutcome) async throws {
        let provider = Self.provider
        let input = Self.card(number)
        let saved = await provider.saveCard(input)
        switch outcome {
        case .succeeds(let issuer, let installments, let threeDS):
            let card = try saved.get()
            #expect(card.brand == brand)
            #expect(card.last4 == String(digitsOnly(number).suffix(4)))
            #expect(card.issuerCountry == issuer)
            #expect(card.supportsInstallments == installments)
            #expect(card.supportsRecurring)
            #expect(provider.requiresAuthentication(card) == threeDS)
            let result = await provider.charge(token: card.token, amount: 10_000, installments: installments ? 3 : 1, capture: true, idempotencyKey: nil)
            #expect(result == .approved(reference: "sbx_txn_abababababababab"))
        case .declined(let code, let retryable):
            guard case .failure(let decline) = saved else {
                Issue.record("expected \(code) when saving, got \(saved)")
                return
            }
            #expect(decline.code == code)
            #expect(decline.retryable == retryable)
            #expect(!decline.message.isEmpty)
        case .declinedAfterSaving(let code):
            let card = try saved.get()
            #expect(card.brand == brand)
            #expect(!provider.requiresAuthentication(card))
            for (amount, capture) in [(Int64(100), true), (10_000, true), (5_000, false), (1, true)] {
                let result = await provider.charge(token: card.token, amount: amount, installments: 1, capture: capture, idempotencyKey: nil)
                #expect(result == .declined(Decline(code: code, message: "The card was declined.")))
            }
        }
    }

    @Test("The table's failure codes are the published Decline values", arguments: [
        (Decline.cardDeclined, "card_declined", false), (.insufficientFunds, "insufficient_funds", false),
        (.expiredCard, "expired_card", false), (.incorrectCVC, "incorrect_cvc", false),
        (.processingError, "processing_error", true), (.authenticationFailed, "authentication_failed", false),
    ])
    func declineCodes(decline: Decline, code: String, retryable: Bool) {
        #expect(decline.code == code)
        #expect(decline.retryable == retryable)
    }

    @Test("Card numbers are recognised with or without spaces and dashes", arguments: [
        "4000000000000002", "4000 0000 0000 0002", "4000-0000-0000-0002",
    ])
    func separatorsIgnored(number: String) async {
        let saved = await Self.provider.saveCard(Self.card(number))
        #expect(saved == .failure(.cardDeclined))
    }

    @Test("A token is built from the behaviour, the last four digits and random hex", arguments: [
        ("4242 4242 4242 4242", "sbx_ok_4242_abababababababab"),
        ("4580 0000 0000 0000", "sbx_il_0000_abababababababab"),
        ("4000 0027 6000 3184", "sbx_3ds_3184_abababababababab"),
        ("4000 0000 0000 0341", "sbx_later_0341_abababababababab"),
    ])
    func tokenShape(number: String, token: String) async throws {
        let card = try await Self.provider.saveCard(Self.card(number)).get()
        #expect(card.token == token)
    }

    @Test("A token never holds more of the number than its last four digits", arguments: testCardNumbers + ["4111 1111 1111 1111"])
    func tokenHidesNumber(number: String) async throws {
        let digits = digitsOnly(number)
        for provider in [Self.provider, SandboxProvider()] {
            guard case .success(let card) = await provider.saveCard(Self.card(number)) else { continue }
            // No five consecutive digits of the number appear anywhere in the token.
            let characters = Array(digits)
            for start in 0...(characters.count - 5) {
                let window = String(characters[start..<start + 5])
                #expect(!card.token.contains(window), "token \(card.token) holds \(window)")
            }
            let tokenDigits = card.token.filter(\.isASCIIDigit)
            #expect(!tokenDigits.contains(String(digits.dropLast(4))))
            #expect(card.token.contains("_\(digits.suffix(4))_"))
        }
    }

    @Test("Two saves of the same card give different tokens with the real generator")
    func tokensAreRandom() async throws {
        let provider = SandboxProvider()
        let first = try await provider.saveCard(Self.card("4242424242424242")).get()
        let second = try await provider.saveCard(Self.card("4242424242424242")).get()
        #expect(first.token != second.token)
        #expect(first.token.hasPrefix("sbx_ok_4242_"))
        #expect(first.token.count == "sbx_ok_4242_".count + 16)
    }

    @Test("A two-digit expiry year is saved as a four-digit year")
    func twoDigitYear() async throws {
        let card = try await Self.provider.saveCard(Self.card("4242424242424242", expYear: 31)).get()
        #expect(card.expYear == 2031)
        #expect(card.expMonth == 12)
        let fourDigits = try await Self.provider.saveCard(Self.card("4242424242424242", expYear: 2031)).get()
        #expect(fourDigits.expYear == 2031)
    }

    @Test("An authorization without capture is approved for an ordinary card")
    func authorizeOnly() async throws {
        let card = try await Self.provider.saveCard(Self.card("4242424242424242")).get()
        let result = await Self.provider.charge(token: card.token, amount: 5_000, installments: 1, capture: false, idempotencyKey: nil)
        #expect(result == .approved(reference: "sbx_txn_abababababababab"))
    }

    @Test("Capture and void approve and keep the transaction's reference")
    func captureAndVoid() async {
        let provider = Self.provider
        #expect(await provider.capture(reference: "sbx_txn_0123456789abcdef", amount: 4_000) == .approved(reference: "sbx_txn_0123456789abcdef"))
        #expect(await provider.void(reference: "sbx_txn_0123456789abcdef") == .approved(reference: "sbx_txn_0123456789abcdef"))
    }

    @Test("A refund approves with a new refund reference")
    func refund() async {
        let result = await Self.provider.refund(reference: "sbx_txn_0123456789abcdef", amount: 2_500)
        #expect(result == .approved(reference: "sbx_rfd_abababababababab"))
    }

    @Test("Capture, void and refund approve even for the card that declines every charge")
    func followUpsApprove() async {
        let provider = SandboxProvider()
        guard case .approved = await provider.capture(reference: "sbx_txn_x", amount: 1) else { Issue.record("capture"); return }
        guard case .approved = await provider.void(reference: "sbx_txn_x") else { Issue.record("void"); return }
        guard case .approved(let reference) = await provider.refund(reference: "sbx_txn_x", amount: 1) else {
            Issue.record("refund"); return
        }
        #expect(reference.hasPrefix("sbx_rfd_"))
        #expect(reference.count == "sbx_rfd_".count + 16)
    }

    @Test("Special numbers map to their behaviours and any other number succeeds", arguments: [
        ("4580000000000000", SandboxProvider.Behaviour.israeliInstallments),
        ("4000000000000002", .declinedCard), ("4000000000009995", .insufficientFunds),
        ("4000000000000069", .expiredCard), ("4000000000000127", .incorrectCVC),
        ("4000000000000119", .processingError), ("4000002760003184", .requiresAuthentication),
        ("4000000000000341", .declinesAfterSaving), ("4242424242424242", .succeeds),
        ("5555555555554444", .succeeds), ("378282246310005", .succeeds),
    ])
    func behaviours(number: String, behaviour: SandboxProvider.Behaviour) {
        #expect(SandboxProvider.behaviour(of: number) == behaviour)
    }

    @Test("The provider calls itself sandbox")
    func name() {
        #expect(SandboxProvider().name == "sandbox")
    }

    @Test("The test-card list starts with Visa 4242, Mastercard 5555 and Amex 0005, all valid today")
    func testCardsList() {
        let cards = SandboxProvider.testCards
        #expect(cards.count >= 3)
        #expect(cards.prefix(3).map(\.brand) == [.visa, .mastercard, .amex])
        #expect(cards.prefix(3).map(\.last4) == ["4242", "4444", "0005"])
        for card in cards {
            let problems = CardCheck.problems(
                number: card.number, expMonth: card.expMonth, expYear: card.expYear, cvc: card.cvc,
                today: CivilDate(year: 2026, month: 4, day: 19))
            #expect(problems.isEmpty, "\(card): \(problems)")
        }
    }

    @Test("Every card on the test-card list saves and charges successfully")
    func testCardsSucceed() async throws {
        for input in SandboxProvider.testCards {
            let card = try await Self.provider.saveCard(input).get()
            let result = await Self.provider.charge(token: card.token, amount: 100, installments: 1, capture: true, idempotencyKey: nil)
            #expect(result == .approved(reference: "sbx_txn_abababababababab"))
        }
    }
}

@Suite("Sandbox: idempotent charges")
struct SandboxIdempotencyTests {
    @Test("The same idempotency key answers the same transaction, even from a new provider (a restarted server); another key, another one")
    func sameKeySameTransaction() async throws {
        guard case .success(let card) = await SandboxProvider().saveCard(SandboxProvider.testCards[0]) else { throw CancellationError() }
        let first = await SandboxProvider().charge(token: card.token, amount: 4900, installments: 1, capture: true, idempotencyKey: "renewal:sub_1:3:0")
        let again = await SandboxProvider().charge(token: card.token, amount: 4900, installments: 1, capture: true, idempotencyKey: "renewal:sub_1:3:0")
        let other = await SandboxProvider().charge(token: card.token, amount: 4900, installments: 1, capture: true, idempotencyKey: "renewal:sub_1:4:0")
        #expect(first == again)
        #expect(first != other)
        guard case .approved(let reference) = first else { throw CancellationError() }
        #expect(reference.hasPrefix("sbx_txn_") && reference.count == "sbx_txn_".count + 16)
    }
}
