import ChingDomain
import ChingPDF
import ChingStore

/// One line on a tax document.
package struct DocumentLine: Sendable {
    package let description: String
    package let quantity: Int64
    package let unitAmount: Int64

    package init(description: String, quantity: Int64, unitAmount: Int64) {
        self.description = description; self.quantity = quantity; self.unitAmount = unitAmount
    }

    package var json: JSONValue {
        .object(["description": .string(description), "quantity": .int(quantity), "unit_amount": .int(unitAmount)])
    }
}

/// How a document's amount was paid, as printed on it.
package struct DocumentPayment: Sendable {
    package let brand: CardBrand
    package let last4: String
    package let installments: Int64
}

/// Tax documents: issuing one (numbered, with its email), and the object as the API returns it.
package enum Documents {
    package typealias Kind = DocumentKind

    /// Issues a document inside the caller's transaction: takes the next number, snapshots the
    /// issuer and customer as they are now, writes `document.issued` and queues the customer's email.
    package static func issue(_ kind: Kind, amount: Int64, chargeID: String?, refundID: String?, customerID: String,
                      lines: [DocumentLine], payment: DocumentPayment?, reference: String?,
                      caller: Caller, on db: Store, services: AppServices) async throws -> String {
        guard let number = try await db.documents.takeNumber(caller: caller),
              let project = try await db.projects.find(caller.projectID),
              let customer = try await db.customers.find(customerID)
        else { throw ServiceError.internalError }
        let content: JSONValue = .object([
            "issuer": .object([
                "name": .string(project.legalName ?? project.name),
                "vat_number": .optional(project.vatNumber),
                "address": .optional(project.address),
            ]),
            "customer": .object([
                "name": .string(customer.name),
                "email": .optional(customer.email),
                "tax_id": .optional(customer.taxID),
            ]),
            "lines": .array(lines.map(\.json)),
            "payment": payment.map { .object(["brand": .string($0.brand.rawValue), "last4": .string($0.last4), "installments": .int($0.installments)]) } ?? .null,
            "reference": .optional(reference),
        ])
        let id = services.ids.make(.document)
        let now = services.clock.now()
        try await db.documents.insert(Document(
            id: id, caller: caller, kind: kind, number: number, amount: amount, vatAmount: VAT.includedIn(amount), chargeID: chargeID,
            refundID: refundID, customerID: customerID, content: content, accessKey: services.ids.make(.document) + services.ids.hex(byteCount: 8),
            issuedAt: now))
        let document = try await load(id, caller: caller, on: db, services: services)!
        try await Events.record("document.issued", data: document, caller: caller, on: db, services: services)
        try await Outbox.queueDocumentEmail(to: customer, kind: kind, number: number, amount: amount, pdfURL: document["pdf_url"]?.stringValue ?? "",
                                            documentID: id, caller: caller, on: db, services: services)
        return id
    }

    /// Checkout line items (`{name, amount_agorot, quantity}`) as document lines.
    package static func lines(fromLineItems items: JSONValue) -> [DocumentLine] {
        (items.arrayValue ?? []).map { item in
            DocumentLine(description: item["name"]?.stringValue ?? "", quantity: item["quantity"]?.intValue ?? 1,
                         unitAmount: item["amount_agorot"]?.intValue ?? 0)
        }
    }

    package static func load(_ id: String, caller: Caller, on db: Store, services: AppServices) async throws -> JSONValue? {
        try await db.documents.find(id, caller: caller).map { json($0, services: services) }
    }

    /// The customer's link to the document's PDF (no API key needed).
    package static func pdfURL(_ document: Document, services: AppServices) -> String {
        "\(services.publicURL)/documents/\(document.id).pdf?key=\(document.accessKey)"
    }

    package static func json(_ document: Document, services: AppServices) -> JSONValue {
        .object([
            "id": .string(document.id),
            "object": "document",
            "type": .string(document.kind.rawValue),
            "status": "issued",
            "number": .int(document.number),
            "amount": .int(document.amount),
            "currency": .string(document.currency),
            "vat_rate": .number(0.18),
            "vat_amount": .int(document.vatAmount),
            "charge": .optional(document.chargeID),
            "refund": .optional(document.refundID),
            "customer": .string(document.customerID),
            "allocation_number": .optional(document.allocationNumber),
            "pdf_url": .string(pdfURL(document, services: services)),
            "sent_to_customer": .bool(document.sentToCustomer),
            "metadata": document.metadata,
            "livemode": .bool(document.caller.livemode),
            "issued_at": .string(document.issuedAt.iso8601),
            "created": .string(document.created.iso8601),
        ])
    }

    /// What the PDF shows, from the snapshot taken at issue time.
    package static func pdfContent(_ document: Document) throws -> TaxDocumentContent {
        let content = document.content
        let kind = document.kind
        let amount = document.amount
        let vat = document.vatAmount
        let format = { (agorot: Int64) in Money.format(agorot, locale: .en) }
        let title = switch kind {
        case .taxInvoiceReceipt: "חשבונית מס / קבלה  Tax invoice / receipt"
        case .receipt: "קבלה  Receipt"
        case .creditNote: "חשבונית זיכוי  Credit note"
        }
        let lines = try (content["lines"]?.arrayValue ?? []).map { line in
            let quantity = line["quantity"]?.intValue ?? 1
            let unit = line["unit_amount"]?.intValue ?? 0
            return TaxDocumentContent.Line(
                description: line["description"]?.stringValue ?? "", quantity: String(quantity),
                unitAmount: format(unit), total: format(try CartLine(name: "", unitAmount: unit, quantity: quantity).total()))
        }
        var payment: String?
        if let paid = content["payment"]?.objectValue {
            let brand = CardBrand(rawValue: paid["brand"]?.stringValue ?? "") ?? .unknown
            let count = paid["installments"]?.intValue ?? 1
            payment = "\(brand.displayName) •••• \(paid["last4"]?.stringValue ?? "")" + (count > 1 ? ", \(count) installments" : ", 1 payment")
        }
        return TaxDocumentContent(
            title: title, number: String(document.number), date: document.issuedAt.date.isoString,
            issuerName: content["issuer"]?["name"]?.stringValue ?? "", issuerVATNumber: content["issuer"]?["vat_number"]?.stringValue,
            issuerAddress: content["issuer"]?["address"]?.stringValue,
            customerName: content["customer"]?["name"]?.stringValue ?? "", customerEmail: content["customer"]?["email"]?.stringValue,
            lines: lines, net: format(amount - vat), vat: format(vat), vatLabel: "VAT \(VAT.percentLabel) / מע״מ \(VAT.percentLabel)", total: format(amount),
            payment: payment, reference: content["reference"]?.stringValue, livemode: document.caller.livemode)
    }

    /// The document's PDF, rendered from its snapshot.
    package static func pdf(_ document: Document, services: AppServices) throws -> [UInt8] {
        TaxDocumentPDF.render(try pdfContent(document), font: try services.documentFont.font())
    }
}
