/// Everything a tax document shows, already formatted as text by the caller
/// (amounts like "₪99.00", dates like "2026-04-19").
public struct TaxDocumentContent: Sendable {
    /// One row of the items table.
    public struct Line: Sendable {
        public var description: String
        public var quantity: String
        public var unitAmount: String
        public var total: String

        public init(description: String, quantity: String, unitAmount: String, total: String) {
            self.description = description
            self.quantity = quantity
            self.unitAmount = unitAmount
            self.total = total
        }
    }

    /// e.g. "חשבונית מס / קבלה  Tax invoice / receipt" or "חשבונית זיכוי  Credit note".
    public var title: String
    /// The document number, e.g. "1001".
    public var number: String
    public var date: String
    public var issuerName: String
    public var issuerVATNumber: String?
    public var issuerAddress: String?
    /// Hebrew ("טל לוי"), English ("Tal Levi") or mixed.
    public var customerName: String
    public var customerEmail: String?
    public var lines: [Line]
    public var net: String
    /// The VAT amount.
    public var vat: String
    /// e.g. "VAT 18% / מע״מ 18%".
    public var vatLabel: String
    public var total: String
    /// e.g. "Visa •••• 4242, 1 installment".
    public var payment: String?
    /// e.g. "Credits document 1001" on a credit note.
    public var reference: String?
    /// When false the document carries a "TEST MODE / מצב בדיקה" marker.
    public var livemode: Bool

    public init(
        title: String,
        number: String,
        date: String,
        issuerName: String,
        issuerVATNumber: String? = nil,
        issuerAddress: String? = nil,
        customerName: String,
        customerEmail: String? = nil,
        lines: [Line],
        net: String,
        vat: String,
        vatLabel: String,
        total: String,
        payment: String? = nil,
        reference: String? = nil,
        livemode: Bool
    ) {
        self.title = title
        self.number = number
        self.date = date
        self.issuerName = issuerName
        self.issuerVATNumber = issuerVATNumber
        self.issuerAddress = issuerAddress
        self.customerName = customerName
        self.customerEmail = customerEmail
        self.lines = lines
        self.net = net
        self.vat = vat
        self.vatLabel = vatLabel
        self.total = total
        self.payment = payment
        self.reference = reference
        self.livemode = livemode
    }
}
