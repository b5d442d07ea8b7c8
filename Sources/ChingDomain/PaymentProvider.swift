/// A card saved at the provider: what we may keep (never the number or the CVC).
public struct ProviderCard: Sendable, Equatable {
    public let token: String
    public let brand: CardBrand
    public let last4: String
    public let expMonth: Int
    public let expYear: Int
    public let issuerCountry: String
    public let supportsInstallments: Bool
    public let supportsRecurring: Bool

    public init(token: String, brand: CardBrand, last4: String, expMonth: Int, expYear: Int,
                issuerCountry: String, supportsInstallments: Bool, supportsRecurring: Bool) {
        self.token = token; self.brand = brand; self.last4 = last4; self.expMonth = expMonth; self.expYear = expYear
        self.issuerCountry = issuerCountry; self.supportsInstallments = supportsInstallments; self.supportsRecurring = supportsRecurring
    }
}

/// Why a provider said no. `code` is the public `failure_code`.
public struct Decline: Error, Sendable, Equatable {
    public let code: String
    public let message: String
    /// True for provider-side trouble that may pass on a retry (`processing_error`).
    public let retryable: Bool

    public init(code: String, message: String, retryable: Bool = false) {
        self.code = code; self.message = message; self.retryable = retryable
    }

    public static let cardDeclined = Decline(code: "card_declined", message: "The card was declined.")
    public static let insufficientFunds = Decline(code: "insufficient_funds", message: "The card has insufficient funds.")
    public static let expiredCard = Decline(code: "expired_card", message: "The card has expired.")
    public static let incorrectCVC = Decline(code: "incorrect_cvc", message: "The card's security code is incorrect.")
    public static let processingError = Decline(code: "processing_error", message: "The card could not be processed. Try again.", retryable: true)
    public static let authenticationFailed = Decline(code: "authentication_failed", message: "3-D Secure authentication failed.")
}

/// The provider's answer to a request to move money.
public enum ProviderResult: Sendable, Equatable {
    /// Done; `reference` identifies the transaction for later capture, void or refund.
    case approved(reference: String)
    case declined(Decline)
}

/// A card payment provider. Each call is one request to the provider; the caller records the
/// outcome. The sandbox implements it from TEST_CARDS.md; a live provider implements it over HTTP.
public protocol PaymentProvider: Sendable {
    /// A short name stored with what it produced ("sandbox").
    var name: String { get }
    /// Tokenizes a card. Declines here are cards that cannot be saved at all.
    func saveCard(_ card: CardInput) async -> Result<ProviderCard, Decline>
    /// Whether the card must pass 3-D Secure before it is charged.
    func requiresAuthentication(_ card: ProviderCard) -> Bool
    /// Charges (capture: true) or authorizes (capture: false) a saved card.
    func charge(token: String, amount: Int64, installments: Int, capture: Bool) async -> ProviderResult
    func capture(reference: String, amount: Int64) async -> ProviderResult
    func void(reference: String) async -> ProviderResult
    func refund(reference: String, amount: Int64) async -> ProviderResult
}
