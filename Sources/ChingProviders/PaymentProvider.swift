import ChingDomain

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

    /// The same card as an Israeli issuer's: installments and recurring charges allowed. Cards minted
    /// by `POST /payment_methods/test-card` are these, as CHING's docs show its test Visa 4242.
    public var issuedInIsrael: ProviderCard {
        ProviderCard(token: token, brand: brand, last4: last4, expMonth: expMonth, expYear: expYear,
                     issuerCountry: "IL", supportsInstallments: true, supportsRecurring: true)
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

/// A card payment provider: what every provider does with a card it already holds (by token or by
/// the reference of an earlier transaction). Each call is one request to the provider; the caller
/// records the outcome. How the card reaches the provider in the first place is one of the two
/// refinements below.
public protocol PaymentProvider: Sendable {
    /// A short name stored with what it produced ("sandbox").
    var name: String { get }
    /// Charges (capture: true) or authorizes (capture: false) a saved card. The same
    /// `idempotencyKey` asked again (a retry after a crash) gets the first answer, not a second charge.
    func charge(token: String, amount: Int64, installments: Int, capture: Bool, idempotencyKey: String?) async -> ProviderResult
    func capture(reference: String, amount: Int64) async -> ProviderResult
    func void(reference: String) async -> ProviderResult
    func refund(reference: String, amount: Int64) async -> ProviderResult
}

/// A provider that takes the card from our own hosted form (the sandbox): we pass the number on
/// once, in memory, and keep only the token it returns.
public protocol CardFormProvider: PaymentProvider {
    /// Tokenizes a card. Declines here are cards that cannot be saved at all.
    func saveCard(_ card: CardInput) async -> Result<ProviderCard, Decline>
    /// Whether the card must pass 3-D Secure before it is charged.
    func requiresAuthentication(_ card: ProviderCard) -> Bool
}

/// A provider that takes the card on its own page (Grow's hosted payment page): we send the
/// customer there, and learn the outcome from its server-to-server callback or, failing that, by
/// asking. The customer's return to our success URL is never proof of payment.
public protocol HostedPageProvider: PaymentProvider {
    /// Opens a payment on the provider's page; the customer is sent to `start.url`.
    func startPayment(_ request: HostedPaymentRequest) async -> Result<HostedPaymentStart, Decline>
    /// What became of a started payment, asked of the provider (after a callback, or when none came).
    func outcome(of start: HostedPaymentStart) async -> HostedPaymentOutcome
}

/// What a hosted-page payment is for.
public struct HostedPaymentRequest: Sendable, Equatable {
    /// Our id for it (the session's), echoed back by the provider so a callback can be matched.
    public let reference: String
    /// Agorot; 0 saves the card without charging.
    public let amount: Int64
    public let description: String
    /// 1 for a single payment; more lets the customer choose up to this many installments.
    public let maxInstallments: Int
    /// Authorize only (manual capture).
    public let authorizeOnly: Bool
    /// Keep a reusable token (plans, setup sessions).
    public let saveCard: Bool
    public let customerName: String
    public let customerEmail: String?
    public let customerPhone: String?
    public let successURL: String
    public let cancelURL: String
    /// Where the provider's server reports the outcome.
    public let notifyURL: String

    public init(reference: String, amount: Int64, description: String, maxInstallments: Int, authorizeOnly: Bool, saveCard: Bool,
                customerName: String, customerEmail: String?, customerPhone: String?, successURL: String, cancelURL: String, notifyURL: String) {
        self.reference = reference; self.amount = amount; self.description = description; self.maxInstallments = maxInstallments
        self.authorizeOnly = authorizeOnly; self.saveCard = saveCard; self.customerName = customerName; self.customerEmail = customerEmail
        self.customerPhone = customerPhone; self.successURL = successURL; self.cancelURL = cancelURL; self.notifyURL = notifyURL
    }
}

/// A payment opened on the provider's page: where to send the customer, and the provider's own
/// identifiers for it (kept server-side, never shown).
public struct HostedPaymentStart: Sendable, Equatable {
    public let url: String
    public let providerReference: String

    public init(url: String, providerReference: String) { self.url = url; self.providerReference = providerReference }
}

/// What a hosted-page payment came to.
public enum HostedPaymentOutcome: Sendable, Equatable {
    /// The customer has not finished (or the provider has not said).
    case pending
    /// Paid (or authorized, or saved): the transaction's reference, and the card when one was saved.
    case approved(reference: String, card: ProviderCard?, installments: Int)
    case declined(Decline)
}
