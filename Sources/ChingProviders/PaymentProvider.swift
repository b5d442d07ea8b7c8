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
    /// The provider may or may not have done it (a timeout, a 5xx): not a failure. The caller keeps
    /// the attempt pending and asks again (with the same idempotency key) until it knows.
    case unknown
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
/// asking. Neither the callback nor the customer's return is ever proof of payment by itself:
/// only `outcome(of:)`, asked of the provider, is.
public protocol HostedPageProvider: PaymentProvider {
    /// Opens a payment on the provider's page; the customer is sent to `start.url`.
    func startPayment(_ request: HostedPaymentRequest) async -> HostedPaymentStartResult
    /// What became of a started payment, asked of the provider.
    func outcome(of process: HostedProcess) async -> HostedPaymentOutcome
    /// The process a callback names (its id and token), read from the body as the provider sends it; nil when it names none.
    /// Only a pointer to what to ask about: the callback itself is not trusted.
    func callbackProcess(body: String, contentType: String) -> (id: String, token: String)?
    /// Tells the provider a paid transaction was recorded (Grow's approveTransaction). Its failure changes nothing.
    func acknowledge(_ payment: HostedPayment, of process: HostedProcess) async
    /// What an earlier `charge` with this idempotency key came to: nil when the provider has no
    /// record of it (it never arrived), `.unknown` when it cannot say yet.
    func chargeOutcome(token: String, idempotencyKey: String) async -> ProviderResult?
    /// Whether the transaction now reads fully refunded; nil when the provider cannot say.
    func isFullyRefunded(reference: String) async -> Bool?
}

/// What a hosted-page payment is for.
public struct HostedPaymentRequest: Sendable, Equatable {
    /// Our id for it (the session's), echoed back by the provider so a callback can be matched.
    public let reference: String
    /// Agorot; 0 saves the card without charging.
    public let amount: Int64
    public let description: String
    /// The number of payments the customer chose on our page (1: a single payment).
    public let installments: Int
    /// Authorize only (manual capture).
    public let authorizeOnly: Bool
    /// Keep a reusable token (plans, setup sessions).
    public let saveCard: Bool
    /// The provider's page for recurring charges, when the token is for a plan.
    public let recurring: Bool
    public let customerName: String
    public let customerEmail: String?
    public let customerPhone: String
    public let successURL: String
    public let cancelURL: String
    /// Where the provider's server reports the outcome.
    public let notifyURL: String

    public init(reference: String, amount: Int64, description: String, installments: Int, authorizeOnly: Bool, saveCard: Bool, recurring: Bool,
                customerName: String, customerEmail: String?, customerPhone: String, successURL: String, cancelURL: String, notifyURL: String) {
        self.reference = reference; self.amount = amount; self.description = description; self.installments = installments
        self.authorizeOnly = authorizeOnly; self.saveCard = saveCard; self.recurring = recurring; self.customerName = customerName
        self.customerEmail = customerEmail; self.customerPhone = customerPhone; self.successURL = successURL; self.cancelURL = cancelURL
        self.notifyURL = notifyURL
    }
}

/// A payment opened on the provider's page: the provider's identifiers for it (kept server-side,
/// never shown: the token is what makes a callback credible) and where to send the customer.
public struct HostedProcess: Sendable, Equatable {
    public let id: String
    public let token: String
    public let url: String
    /// Which of the project's pages it was opened on (the same page must be named when asking about it).
    public let recurring: Bool

    public init(id: String, token: String, url: String, recurring: Bool) { self.id = id; self.token = token; self.url = url; self.recurring = recurring }
}

public enum HostedPaymentStartResult: Sendable, Equatable {
    case started(HostedProcess)
    /// The provider refused to open it (a missing or invalid detail): the words are for the log.
    case refused(code: Int, message: String)
    case unknown
}

/// A payment the provider says was made on its page.
public struct HostedPayment: Sendable, Equatable {
    /// The transaction, for capture, refund and acknowledgement.
    public let reference: String
    /// Our reference echoed back (the session's id).
    public let requestReference: String
    /// Agorot, as the provider recorded it.
    public let amount: Int64
    /// True for an authorization only (J5), not yet captured.
    public let authorizedOnly: Bool
    public let installments: Int
    public let brand: CardBrand
    public let last4: String
    /// The reusable card, when one was saved.
    public let card: ProviderCard?
    /// Every field of the provider's record, for its acknowledgement.
    public let fields: [(String, String)]

    public init(reference: String, requestReference: String, amount: Int64, authorizedOnly: Bool, installments: Int,
                brand: CardBrand, last4: String, card: ProviderCard?, fields: [(String, String)]) {
        self.reference = reference; self.requestReference = requestReference; self.amount = amount; self.authorizedOnly = authorizedOnly
        self.installments = installments; self.brand = brand; self.last4 = last4; self.card = card; self.fields = fields
    }

    public static func == (a: HostedPayment, b: HostedPayment) -> Bool {
        a.reference == b.reference && a.amount == b.amount && a.authorizedOnly == b.authorizedOnly
    }
}

/// What a hosted-page payment came to, as the provider tells it.
public enum HostedPaymentOutcome: Sendable, Equatable {
    /// Not paid (yet): the customer may still pay, or left.
    case pending
    case paid(HostedPayment)
    /// The provider says the process is gone (expired, or unknown to it).
    case gone
    /// The provider could not be asked (a timeout, a 5xx).
    case unknown
}

/// A live provider's settings for one project (stored encrypted; see `ProviderSecrets`).
public struct GrowAccount: Sendable, Equatable, Codable {
    public var userID: String
    public var pageCode: String
    public var apiKey: String?
    public var recurringPageCode: String?
    public var baseURL: String

    public static let productionURL = "https://secure.meshulam.co.il/api/light/server/1.0/"
    public static let sandboxURL = "https://sandbox.meshulam.co.il/api/light/server/1.0/"

    public init(userID: String, pageCode: String, apiKey: String? = nil, recurringPageCode: String? = nil, baseURL: String = GrowAccount.productionURL) {
        self.userID = userID; self.pageCode = pageCode; self.apiKey = apiKey; self.recurringPageCode = recurringPageCode; self.baseURL = baseURL
    }
}
