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
            let cards = session.manualCapture ? [] : try await db.paymentMethods.active(ofCustomer: session.customerID).reversed().map { card in
                (id: card.id, brand: CardBrand(rawValue: card.brand) ?? .unknown, last4: card.last4, expMonth: card.expMonth, expYear: card.expYear)
            }
            var receiptURL: String?
            if let chargeID = session.chargeID, let document = try await db.documents.receipt(ofCharge: chargeID) {
                receiptURL = Documents.pdfURL(document, services: services)
            }
            return CheckoutView(session: session, offer: offer, limits: limits,
                             merchantName: brand?.displayName ?? project?.name ?? "",
                             customerName: customer?.name ?? "",
                             customerLocale: customer?.language,
                             savedCards: cards, receiptURL: receiptURL, projectBrand: brand)
        }
    }
}
