import Foundation

// What a test can read back from the fake, and the knobs' value types.

extension FakeGrow {
    /// A payment process, as createPaymentProcess made it and the hosted page moved it on.
    public struct Process: Sendable {
        public enum Status: String, Sendable {
            case created, paid, suspended, tokenized, cancelled, expired
        }

        public let id: Int
        public let token: String
        /// The hosted page: `<origin>/far?l=<32 hex>` (not the processToken).
        public let url: String
        public let userID: String
        public let pageCode: String
        public internal(set) var status: Status
        /// Agorot.
        public let sum: Int
        public let chargeType: Int
        public let cFields: [String: String]
        public let successURL: String
        public let cancelURL: String
        public let notifyURL: String?
        public let description: String
        public let fullName: String
        public let phone: String
        public let email: String
        public let paymentNum: Int?
        public let maxPaymentNum: Int?
        public let saveCardToken: Bool
        public let createdAt: Date
        public internal(set) var transactionID: Int?
        /// The request's fields as received, in wire order.
        public let fields: [(String, String)]

        /// The key in the page's URL (`l=`).
        let link: String
    }

    /// One transaction: a hosted-page payment or hold, a token-only save, a token charge, or a refund.
    public struct Transaction: Sendable {
        public enum Status: String, Sendable {
            case paid, suspended, refunded, partiallyRefunded, expired
        }

        public enum Kind: Sendable {
            /// Paid or held on the hosted page (chargeType 1 or 2).
            case hosted
            /// A chargeType 3 process: a card saved, nothing charged.
            case tokenOnly
            /// createTransactionWithToken.
            case token
            /// refundTransaction's own record.
            case refund
        }

        public let id: Int
        public let token: String
        public let kind: Kind
        public let userID: String
        /// The page it was made on; nil for token charges sent without one.
        public let pageCode: String?
        public let processID: Int?
        public internal(set) var status: Status
        /// Agorot: charged (settled, for a J5 hold once settled), held while suspended, refunded for a refund record.
        public internal(set) var sum: Int
        /// Agorot refunded from this transaction so far.
        public internal(set) var refunded: Int
        public let cardToken: String?
        public let card: Card
        /// 1 for a single payment, N for installments (allPaymentsNum).
        public let payments: Int
        /// 1 direct debit, 2 regular, 4 installments.
        public let paymentType: Int
        /// 1 card, 6 Bit.
        public let transactionTypeID: Int
        public let uniqueIdentifier: Int?
        public let groupIdentifier: Int?
        public let refundedTransactionID: Int?
        public internal(set) var approved: Bool
        public let asmachta: String
        public let description: String
        public let fullName: String
        public let phone: String
        public let email: String
        public let cFields: [String: String]
        /// When it was received; for a J5 hold, when it was authorised.
        public let createdAt: Date
        /// The payment date: the charge, or the capture of a J5 hold.
        public internal(set) var paidAt: Date
        /// The authorised amount of a J5 hold (agorot); nil otherwise.
        public let heldSum: Int?
        let directDebitID: Int?
        let recurringDebitID: Int?

        public var statusCode: Int {
            switch status {
            case .paid, .partiallyRefunded: return 2
            case .suspended: return 11
            case .refunded: return 3
            case .expired: return 0
            }
        }

        public var statusText: String {
            switch status {
            case .paid, .partiallyRefunded: return "שולם"
            case .suspended: return "עסקה מושהית"
            case .refunded: return "תשלום שזוכה"
            case .expired: return "פג תוקף"
            }
        }
    }

    /// The card as Grow describes it: never the number.
    public struct Card: Sendable, Equatable {
        public let suffix: String
        public let type: String
        public let typeCode: Int
        public let brand: String
        public let brandCode: Int
        public let exp: String
    }

    /// One API call as received (also the refused and failed ones).
    public struct Request: Sendable {
        public let method: String
        public let contentType: String
        /// Decoded, in wire order; bracket keys as flat names.
        public let fields: [(String, String)]

        /// The first value sent under this name.
        public subscript(field: String) -> String? {
            fields.first { $0.0 == field }?.1
        }
    }

    /// A server-to-server update for notifyUrl.
    public struct Callback: Sendable {
        public let url: String
        /// `application/x-www-form-urlencoded`, exactly as GROW.md section 3.
        public let body: String
        public let transactionID: Int

        public init(url: String, body: String, transactionID: Int) {
            self.url = url
            self.body = body
            self.transactionID = transactionID
        }
    }

    public enum CallbackMode: Sendable {
        /// Sent during pay, before pay returns.
        case immediate
        /// Kept until releaseHeldCallbacks.
        case hold
        /// Never sent (resendUnapproved still sends it, as Grow's retries would).
        case drop
        /// Sent twice.
        case duplicate
    }

    /// What the next call of a method meets instead of (or after) its normal answer.
    public enum Failure: Sendable {
        /// Nothing done; HTTP 500 with a non-JSON body.
        case http500
        /// The call takes effect, then HTTP 500: the "answer lost" case.
        case applyThenHTTP500
        /// Nothing done; HTTP 200 with this error envelope.
        case error(id: Int, message: String)
    }

    /// Why the hosted page did not take a payment.
    public enum PageError: Error, Sendable, Equatable {
        /// The card was refused; the customer stays on the page and the process stays payable.
        case declined
        /// Ten minutes have passed since createPaymentProcess (Grow's 709).
        case expired
        /// Already paid, held, tokenized or cancelled.
        case notPayable
        /// Installments outside what the process allows.
        case invalidPayments
        /// No process behind this URL.
        case unknownProcess

        /// The message the HTML page shows.
        var message: String {
            switch self {
            case .declined: return "כרטיס האשראי לא אושר"
            case .expired: return "תוקף הקישור פג (709)"
            case .notPayable: return "התשלום כבר בוצע או בוטל"
            case .invalidPayments: return "מספר תשלומים לא תקין"
            case .unknownProcess: return "דף התשלום לא נמצא"
            }
        }
    }
}

/// A refusal in Grow's envelope: `{"id": .., "message": ..}`.
struct GrowError: Error, Equatable {
    let id: Int
    let message: String

    static func missing(_ field: String) -> GrowError { GrowError(id: 54, message: "חסרים נתונים:\(field)") }
    static let unknownUser = GrowError(id: 701, message: "פרמטר קוד זיהוי אינו תקין userId")
    static let pageMismatch = GrowError(id: 731, message: "קוד הדף אינו תואם")
    static let apiKeyRequired = GrowError(id: 723, message: "חסר apiKey")
    static let apiKeyInvalid = GrowError(id: 801, message: "קוד זיהוי עסק אינו תקין")
    static let sumBelowZero = GrowError(id: 707, message: "לא ניתן לשלם בסכום הנמוך מ- 0")
    static let invalidSum = GrowError(id: 707, message: "סכום לא תקין")
    static let nameOrPhone = GrowError(id: 717, message: "לא נשלח שם וטלפון או שאינו תקין")
    static let bothPaymentCounts = GrowError(id: 736, message: "לא ניתן לשלוח paymentNum ו-maxPaymentNum יחד")
    static let paymentCount = GrowError(id: 735, message: "מספר התשלומים חורג מהמותר בדף")
    static let notPermitted = GrowError(id: 714, message: "הפעולה אינה מורשית לעסק")
    static let productTotal = GrowError(id: 617, message: "סכום המוצרים אינו תואם לסכום העסקה")
    static let invalidProductData = GrowError(id: 763, message: "נתוני מוצרים לא תקינים")
    static let unknownProcess = GrowError(id: 730, message: "פרמטר קוד תהליך או טוקן אינו תקין")
    static let unknownTransaction = GrowError(id: 716, message: "פרמטר קוד עסקה או תוקן אינו תקין")
    static let notPaid = GrowError(id: 722, message: "לא ניתן לאשר עסקה שלא בוצעה או בוטלה")
    static let unknownToken = GrowError(id: 140, message: "לא ניתן לבצע תשלום עם טוקן, קוד מזהה טוקן אינו תקין")
    static let duplicateIdentifier = GrowError(id: 1010, message: "מזהה עסקה ייחודי כבר קיים")
    static let refundAboveCharge = GrowError(id: 105, message: "סכום הזיכוי גבוה מסכום העסקה")
    static let sameDayPartialRefund = GrowError(id: 130, message: "ביום העסקה ניתן לבטל רק את מלוא העסקה, זיכוי חלקי אפשרי מהיום הבא")
    static let alreadyRefunded = GrowError(id: 210, message: "בוצע זיכוי לעסקה זו, לא ניתן לזכות בשנית.")
    static let holdExpired = GrowError(id: 803, message: "תוקף העסקה המושהית פג")
    static let settleAboveHold = GrowError(id: 804, message: "הסכום גבוה מהסכום שאושר")
    static let settleFarAboveHold = GrowError(id: 814, message: "הסכום גבוה ביותר מ-30% מהסכום שאושר")
    static let alreadySettled = GrowError(id: 808, message: "העסקה כבר בוצעה")

    /// A token charge the card company refused (declineToken).
    static func tokenDeclined(_ id: Int) -> GrowError {
        switch id {
        case 103: return GrowError(id: 103, message: "כרטיס האשראי לא אושר")
        case 451: return GrowError(id: 451, message: "הכרטיס אינו פעיל או שפג תוקפו")
        case 452: return GrowError(id: 452, message: "הכרטיס חסום על ידי המנפיק")
        case 453: return GrowError(id: 453, message: "חסימה מערכתית")
        case 819: return GrowError(id: 819, message: "לא ניתן לבצע תשלום כרגע, נסו מאוחר יותר")
        default: return GrowError(id: id, message: "העסקה לא אושרה")
        }
    }
}
