import ChingDomain
import ChingStore
import SQLKit

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
            guard let session = try await CheckoutSession.load(id, on: db) else { return nil }
            // The customer first: a customer on a test clock sees the page at the clock's time.
            let customer = try await db.raw("""
                SELECT c.name, c.locale, t.frozen_time FROM customers c LEFT JOIN test_clocks t ON t.id = c.test_clock WHERE c.id = \(bind: session.customerID)
                """).first()
            let offer = try await CheckoutOffer.load(for: session, now: try customer?.optionalTimestamp("frozen_time") ?? now, on: db)
            let project = try await db.raw("""
                SELECT name, branding, max_installments, require_israeli_id FROM projects WHERE id = \(bind: session.caller.projectID)
                """).first()
            let brand = services.branding?.projectBrand(projectID: session.caller.projectID, folderName: try project?.optionalString("branding"))
            let limits = CheckoutPayment.limits(for: offer, settings: try services.paymentSettings(project: project, projectID: session.caller.projectID,
                                                                                                   brand: .some(brand)))
            let cards = session.manualCapture ? [] : try await db.raw("""
                SELECT id, brand, last4, exp_month, exp_year FROM payment_methods WHERE customer_id = \(bind: session.customerID)
                  AND status = 'active' ORDER BY seq DESC
                """).all().map { row in
                    (id: try row.string("id"), brand: CardBrand(rawValue: try row.string("brand")) ?? .unknown, last4: try row.string("last4"),
                     expMonth: try row.int("exp_month"), expYear: try row.int("exp_year"))
                }
            var receiptURL: String?
            if let chargeID = session.chargeID,
               let document = try await db.raw("SELECT id, access_key FROM documents WHERE charge_id = \(bind: chargeID) AND type = 'tax_invoice_receipt'").first() {
                receiptURL = "\(services.publicURL)/documents/\(try document.string("id")).pdf?key=\(try document.string("access_key"))"
            }
            return CheckoutView(session: session, offer: offer, limits: limits,
                             merchantName: try brand?.displayName ?? project?.string("name") ?? "",
                             customerName: try customer?.string("name") ?? "",
                             customerLocale: try customer?.optionalString("locale").flatMap(Language.init(rawValue:)),
                             savedCards: cards, receiptURL: receiptURL, projectBrand: brand)
        }
    }
}
