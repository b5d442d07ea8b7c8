import ChingDomain
import ChingStore

/// What emails to customers say, in their language, with the strings of the locale files
/// (`email_*`); `EmailOutbox` keeps them until the sender (`EmailWorker`) delivers them. A customer
/// without an address gets a `skipped` row, with why.
package enum Outbox {
    /// Why an email to a customer without an address was never sent.
    package static let noAddress = "the customer has no email address"

    /// A receipt (or, for a credit note, a refund confirmation) with the document's link; the sender attaches its PDF.
    package static func queueDocumentEmail(to customer: Customer, kind: DocumentKind, number: Int64, amount: Int64, pdfURL: String, documentID: String,
                                           caller: Caller, on db: Store, services: AppServices) async throws {
        let locale = customer.language, name = kind == .creditNote ? "refund" : "receipt"
        let values = ["amount": Money.format(amount, locale: locale), "number": String(number), "url": pdfURL]
        try await queue(kind == .creditNote ? "refund_confirmation" : "receipt", to: customer, relatedID: documentID,
                        subject: services.text("email_\(name)_subject", locale, values), body: services.text("email_\(name)_body", locale, values),
                        caller: caller, on: db, services: services)
    }

    /// "Your payment failed", with when it is tried again (or that the plan ended); the sender adds a link to change the card.
    package static func queuePaymentFailedNotice(customerID: String, productName: String, amount: Int64, nextTry: Timestamp?, caller: Caller,
                                                 on db: Store, services: AppServices) async throws {
        guard let customer = try await db.customers.find(customerID) else { return }
        let locale = customer.language
        let values = ["amount": Money.format(amount, locale: locale), "product": productName, "date": nextTry.map { services.date($0, locale) } ?? ""]
        try await queue("payment_failed", to: customer, relatedID: customerID, subject: services.text("email_payment_failed_subject", locale, values),
                        body: services.text(nextTry == nil ? "email_payment_failed_canceled" : "email_payment_failed_retry", locale, values),
                        caller: caller, on: db, services: services)
    }

    /// "Your trial ends on ...", `Renewals.trialNoticeDays` before it does.
    package static func queueTrialEndingNotice(_ subscription: Subscription, productName: String, amount: Int64?, on db: Store,
                                               services: AppServices) async throws {
        guard let customer = try await db.customers.find(subscription.customerID), let trialEnd = subscription.trialEnd else { return }
        let locale = customer.language
        let values = ["product": productName, "date": services.date(trialEnd, locale),
                      "amount": amount.map { Money.format($0, locale: locale) } ?? ""]
        try await queue("trial_ending", to: customer, relatedID: subscription.id, subject: services.text("email_trial_ending_subject", locale, values),
                        body: services.text("email_trial_ending_body", locale, values), caller: subscription.caller, on: db, services: services)
    }

    /// "Your subscription has ended": when a plan is canceled (now, at its period end, or after the last failed retry).
    package static func queueCancellationNotice(_ subscription: Subscription, on db: Store, services: AppServices) async throws {
        guard let customer = try await db.customers.find(subscription.customerID) else { return }
        let product = try await db.catalog.priceAndProduct(subscription.priceID ?? "", caller: subscription.caller)?.product?.name
        let locale = customer.language, ended = subscription.canceledAt ?? services.clock.now()
        let values = ["product": product ?? "", "date": services.date(ended, locale)]
        try await queue("subscription_canceled", to: customer, relatedID: subscription.id, subject: services.text("email_canceled_subject", locale, values),
                        body: services.text("email_canceled_body", locale, values), caller: subscription.caller, on: db, services: services)
    }

    private static func queue(_ kind: String, to customer: Customer, relatedID: String, subject: String, body: String, caller: Caller,
                              on db: Store, services: AppServices) async throws {
        try await db.emailOutbox.queue(OutgoingEmail(
            id: services.ids.make(.email), caller: caller, kind: kind, to: customer.email ?? "", locale: customer.language, subject: subject, body: body,
            relatedID: relatedID, created: services.clock.now(), skipped: customer.email == nil ? noAddress : nil))
    }
}
