import ChingDomain
import ChingStore

/// What emails to customers say, in their language; `EmailOutbox` keeps them until a sender (a
/// later issue) delivers them.
package enum Outbox {
    package static func queueDocumentEmail(to address: String, locale: Language, kind: DocumentKind, number: Int64, amount: Int64,
                                   pdfURL: String, documentID: String, caller: Caller, on db: Store, services: AppServices) async throws {
        let formatted = Money.format(amount, locale: locale)
        let (subject, body): (String, String) = switch (kind, locale) {
        case (.creditNote, .he): ("אישור החזר: \(formatted)", "החזר של \(formatted) בוצע. חשבונית זיכוי מספר \(number): \(pdfURL)")
        case (.creditNote, .en): ("Refund confirmation: \(formatted)", "A refund of \(formatted) was made. Credit note \(number): \(pdfURL)")
        case (_, .he): ("קבלה על תשלום: \(formatted)", "תודה על התשלום של \(formatted). חשבונית מס / קבלה מספר \(number): \(pdfURL)")
        case (_, .en): ("Your receipt: \(formatted)", "Thank you for your payment of \(formatted). Tax invoice / receipt \(number): \(pdfURL)")
        }
        try await db.emailOutbox.queue(OutgoingEmail(
            id: services.ids.make(.email), caller: caller, kind: kind == .creditNote ? "refund_confirmation" : "receipt", to: address,
            locale: locale, subject: subject, body: body, relatedID: documentID, created: services.clock.now()))
    }

    /// "Your payment failed": to the customer (when they have an email), in their language.
    package static func queuePaymentFailedNotice(customerID: String, productName: String, amount: Int64, nextTry: Timestamp?, caller: Caller,
                                                 on db: Store, services: AppServices) async throws {
        guard let customer = try await db.customers.find(customerID), let address = customer.email else { return }
        let locale = customer.language
        let formatted = Money.format(amount, locale: locale)
        let when = nextTry.map { String($0.iso8601.prefix(10)) }
        let (subject, body): (String, String) = switch locale {
        case .he: ("התשלום עבור \(productName) נכשל", "החיוב של \(formatted) עבור \(productName) לא עבר." + (when.map { " ננסה שוב ב-\($0)." } ?? " המנוי בוטל."))
        case .en: ("Your payment for \(productName) failed", "The charge of \(formatted) for \(productName) did not go through."
                   + (when.map { " We will try again on \($0)." } ?? " The subscription has been canceled."))
        }
        try await db.emailOutbox.queue(OutgoingEmail(
            id: services.ids.make(.email), caller: caller, kind: "payment_failed", to: address, locale: locale, subject: subject, body: body,
            relatedID: customerID, created: services.clock.now()))
    }
}
