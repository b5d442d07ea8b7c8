import ChingDomain

/// The test-mode provider: decides every outcome from the card number alone, as TEST_CARDS.md says,
/// and never leaves the process.
///
/// The behaviour of a saved card is carried inside its token (`sbx_<behaviour>_<last4>_<random>`),
/// so outcomes survive restarts without the sandbox keeping any state, and the token holds no
/// more of the number than the last four digits we already show.
public struct SandboxProvider: CardFormProvider {
    public let name = "sandbox"
    private let ids: IDGenerator

    public init(ids: IDGenerator = .random) { self.ids = ids }

    /// What a special test number does.
    public enum Behaviour: String, Sendable {
        case succeeds = "ok"
        case israeliInstallments = "il"
        case declinedCard = "dcl"
        case insufficientFunds = "nsf"
        case expiredCard = "exp"
        case incorrectCVC = "cvc"
        case processingError = "err"
        case requiresAuthentication = "3ds"
        case declinesAfterSaving = "later"
    }

    public static let specialNumbers: [String: Behaviour] = [
        "4580000000000000": .israeliInstallments,
        "4000000000000002": .declinedCard,
        "4000000000009995": .insufficientFunds,
        "4000000000000069": .expiredCard,
        "4000000000000127": .incorrectCVC,
        "4000000000000119": .processingError,
        "4000002760003184": .requiresAuthentication,
        "4000000000000341": .declinesAfterSaving,
    ]

    /// The cards `POST /payment_methods/test-card` attaches, by `card_index`.
    public static let testCards: [CardInput] = [
        CardInput(number: "4242424242424242", expMonth: 12, expYear: 2034, cvc: "123", holderName: nil),
        CardInput(number: "5555555555554444", expMonth: 12, expYear: 2034, cvc: "123", holderName: nil),
        CardInput(number: "378282246310005", expMonth: 12, expYear: 2034, cvc: "1234", holderName: nil),
        CardInput(number: "4580000000000000", expMonth: 12, expYear: 2034, cvc: "123", holderName: nil),
    ]

    public static func behaviour(of number: String) -> Behaviour { specialNumbers[number] ?? .succeeds }

    private static func decline(for behaviour: Behaviour) -> Decline? {
        switch behaviour {
        case .declinedCard, .declinesAfterSaving: .cardDeclined
        case .insufficientFunds: .insufficientFunds
        case .expiredCard: .expiredCard
        case .incorrectCVC: .incorrectCVC
        case .processingError: .processingError
        case .succeeds, .israeliInstallments, .requiresAuthentication: nil
        }
    }

    private static func behaviour(ofToken token: String) -> Behaviour {
        let parts = token.split(separator: "_")
        guard parts.count >= 2, let behaviour = Behaviour(rawValue: String(parts[1])) else { return .succeeds }
        return behaviour
    }

    public func saveCard(_ card: CardInput) async -> Result<ProviderCard, Decline> {
        let behaviour = Self.behaviour(of: card.number)
        let israeli = behaviour == .israeliInstallments
        // Cards that are declined outright cannot be saved either; 0341 saves and declines later.
        if behaviour != .declinesAfterSaving, let decline = Self.decline(for: behaviour) { return .failure(decline) }
        let token = "sbx_\(behaviour.rawValue)_\(card.last4)_" + ids.hex(byteCount: 8)
        return .success(ProviderCard(
            token: token, brand: card.brand, last4: card.last4, expMonth: card.expMonth,
            expYear: card.expYear < 100 ? 2000 + card.expYear : card.expYear,
            issuerCountry: israeli ? "IL" : "US", supportsInstallments: israeli, supportsRecurring: true))
    }

    public func requiresAuthentication(_ card: ProviderCard) -> Bool {
        Self.behaviour(ofToken: card.token) == .requiresAuthentication
    }

    /// The outcome depends on the token alone, and a keyed charge's reference on its key alone, so
    /// asking again with the same key answers the same transaction, across restarts too.
    public func charge(token: String, amount: Int64, installments: Int, capture: Bool, idempotencyKey: String?) async -> ProviderResult {
        if let decline = Self.decline(for: Self.behaviour(ofToken: token)) { return .declined(decline) }
        return .approved(reference: "sbx_txn_" + (idempotencyKey.map(Self.digest) ?? ids.hex(byteCount: 8)))
    }

    /// FNV-1a of the key, in hex: a stable name for a keyed transaction (not a secret).
    static func digest(_ key: String) -> String {
        let hash = key.utf8.reduce(UInt64(0xcbf29ce484222325)) { ($0 ^ UInt64($1)) &* 0x100000001b3 }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    public func capture(reference: String, amount: Int64) async -> ProviderResult { .approved(reference: reference) }
    public func void(reference: String) async -> ProviderResult { .approved(reference: reference) }
    public func refund(reference: String, amount: Int64) async -> ProviderResult {
        .approved(reference: "sbx_rfd_" + ids.hex(byteCount: 8))
    }
}
