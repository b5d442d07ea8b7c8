/// The Israeli tax documents the product issues: a tax invoice/receipt for a charge, a credit note
/// for a refund (a plain receipt where VAT does not apply).
public enum DocumentKind: String, Sendable, CaseIterable {
    case taxInvoiceReceipt = "tax_invoice_receipt", receipt, creditNote = "credit_note"
}

