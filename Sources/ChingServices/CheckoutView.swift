import ChingDomain
import ChingStore

/// Everything a page about one session shows, read in one go: the HTML page and the public JSON
/// view are both built from it.
package struct CheckoutView: Sendable {
    package let session: CheckoutSession
    package let offer: CheckoutOffer
    package let limits: CheckoutPayment.Limits
    package let merchantName: String
    package let customerName: String
    package let customerLocale: Language?
    package let savedCards: [(id: String, brand: CardBrand, last4: String, expMonth: Int64, expYear: Int64)]
    package let receiptURL: String?
    /// The project's brand as the web layer found it (its pages render with it).
    package let projectBrand: (any ProjectBrand)?
    /// Set when the card is taken on the live provider's page (Grow): the payer's details as the customer record has them.
    package var payer: LivePayments.Payer? = nil
    /// The provider page's origin, which the pay form's redirect goes to.
    package var providerOrigin: String? = nil

    package static func load(_ id: String, services: AppServices) async throws -> CheckoutView? {
        let now = services.clock.now()
        return try await services.database.read { db in
            guard let session = try await db.checkoutSessions.find(id) else { return nil }
            // The customer first: a customer on a test clock sees the page at the clock's time.
            let (customer, clockTime) = try await db.customers.findWithClockTime(session.customerID) ?? (nil, nil)
            let offer = try await CheckoutOffer.load(for: session, now: clockTime ?? now, on: db)
            let project = try await db.projects.find(session.caller.projectID)
            let brand = services.branding?.projectBrand(projectID: session.caller.projectID, folderName: project?.branding)
            let limits = CheckoutPayment.limits(for: offer, settings: services.paymentSettings(project: project, projectID: session.caller.projectID,
                                                                                              brand: .some(brand)))
            // Live with Grow, Grow takes the card: saved cards are not offered (every live payment goes through Grow's page).
            let live = try await services.providerPage(session.caller, on: db)
            let cards = session.manualCapture || live != nil ? [] : try await db.paymentMethods.active(ofCustomer: session.customerID).reversed().map { card in
                (id: card.id, brand: CardBrand(rawValue: card.brand) ?? .unknown, last4: card.last4, expMonth: card.expMonth, expYear: card.expYear)
            }
            var receiptURL: String?
            if let chargeID = session.chargeID, let document = try await db.documents.receipt(ofCharge: chargeID) {
                receiptURL = Documents.pdfURL(document, services: services)
            }
            var view = CheckoutView(session: session, offer: offer, limits: limits,
                                    merchantName: brand?.displayName ?? project?.name ?? "",
                                    customerName: customer?.name ?? "",
                                    customerLocale: customer?.language,
                                    savedCards: cards, receiptURL: receiptURL, projectBrand: brand)
            if let live {
                view.payer = LivePayments.Payer(name: customer?.name ?? "", phone: customer?.phone ?? "", email: customer?.email)
                view.providerOrigin = live
            }
            return view
        }
    }
}
