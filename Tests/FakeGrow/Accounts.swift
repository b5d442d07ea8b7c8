extension FakeGrow {
    /// One configured payment page: what its pageCode allows.
    public struct Page: Sendable {
        public enum Kind: Sendable {
            case card, recurring, bit
        }

        public var code: String
        public var kind: Kind
        /// chargeType 2 (J5 hold) allowed.
        public var j5: Bool
        /// chargeType 3 and saveCardToken=1 allowed.
        public var tokens: Bool
        /// The highest paymentNum / maxPaymentNum the page accepts (735 above it).
        public var maxPayments: Int

        public init(code: String, kind: Kind = .card, j5: Bool = false, tokens: Bool = false, maxPayments: Int = 12) {
            self.code = code
            self.kind = kind
            self.j5 = j5
            self.tokens = tokens
            self.maxPayments = maxPayments
        }
    }

    /// A business: its userId, its pages, and an apiKey when it is reached through a platform.
    public struct Account: Sendable {
        public var userID: String
        /// When set, every call for this account must carry it (723 without, 801 when wrong).
        public var apiKey: String?
        public var pages: [Page]

        public init(userID: String, apiKey: String? = nil, pages: [Page]) {
            self.userID = userID
            self.apiKey = apiKey
            self.pages = pages
        }

        /// The docs' demo business: a card page with J5 and tokens, and a recurring page.
        public static let standard = Account(
            userID: FakeGrow.standardUserID,
            pages: [
                Page(code: FakeGrow.standardPageCode, kind: .card, j5: true, tokens: true, maxPayments: 12),
                Page(code: FakeGrow.standardRecurringPageCode, kind: .recurring, j5: false, tokens: true, maxPayments: 12),
            ]
        )
    }

    public static let standardUserID = "4ec1d595ae764243"
    public static let standardPageCode = "0b7a16e03b25"
    public static let standardRecurringPageCode = "5a9c2e7d1b3f"
}
