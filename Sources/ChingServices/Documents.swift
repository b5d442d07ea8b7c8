import ChingDomain
import ChingPDF
import ChingStore
import SQLKit

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
                      caller: Caller, on db: any SQLDatabase, services: AppServices) async throws -> String {
        // The counter row is locked by this UPDATE until the transaction ends, so concurrent issuers
        // queue here and numbers are neither skipped nor reused.
        guard let counter = try await db.raw("""
            UPDATE document_counters SET last_number = last_number + 1
            WHERE project_id = \(bind: caller.projectID) AND livemode = \(bind: caller.mode) RETURNING last_number
            """).first()
        else { throw ServiceError.internalError }
        let number = try counter.int("last_number")
        guard let project = try await db.raw("SELECT * FROM projects WHERE id = \(bind: caller.projectID)").first(),
              let customer = try await db.raw("SELECT * FROM customers WHERE id = \(bind: customerID)").first()
        else { throw ServiceError.internalError }
        let content: JSONValue = .object([
            "issuer": .object([
                "name": .string(try project.optionalString("legal_name") ?? project.string("name")),
                "vat_number": .optional(try project.optionalString("vat_number")),
                "address": .optional(try project.optionalString("address")),
            ]),
            "customer": .object([
                "name": .string(try customer.string("name")),
                "email": .optional(try customer.optionalString("email")),
                "tax_id": .optional(try customer.optionalString("tax_id")),
            ]),
            "lines": .array(lines.map(\.json)),
            "payment": payment.map { .object(["brand": .string($0.brand.rawValue), "last4": .string($0.last4), "installments": .int($0.installments)]) } ?? .null,
            "reference": .optional(reference),
        ])
        let id = services.ids.make(.document)
        let now = services.clock.now()
        try await db.raw("""
            INSERT INTO documents (id, project_id, livemode, type, number, amount, currency, vat_amount, charge_id, refund_id,
              customer_id, content, access_key, sent_to_customer, metadata, issued_at, created)
            VALUES (\(bind: id), \(bind: caller.projectID), \(bind: caller.mode), \(bind: kind.rawValue), \(bind: number), \(bind: amount),
              'ils', \(bind: VAT.includedIn(amount)), \(bind: chargeID), \(bind: refundID), \(bind: customerID), \(bind: content.serialized()),
              \(bind: services.ids.make(.document) + services.ids.hex(byteCount: 8)), 0, '{}', \(bind: now.milliseconds), \(bind: now.milliseconds))
            """).run()
        let document = try await load(id, caller: caller, on: db, services: services)!
        try await Events.record("document.issued", data: document, caller: caller, on: db, services: services)
        if let email = try customer.optionalString("email") {
            try await Outbox.queueDocumentEmail(
                to: email, locale: Language(rawValue: try customer.string("locale")) ?? .he, kind: kind, number: number,
                amount: amount, pdfURL: document["pdf_url"]?.stringValue ?? "", documentID: id, caller: caller, on: db, services: services)
        }
        return id
    }

    /// Checkout line items (`{name, amount_agorot, quantity}`) as document lines.
    package static func lines(fromLineItems items: JSONValue) -> [DocumentLine] {
        (items.arrayValue ?? []).map { item in
            DocumentLine(description: item["name"]?.stringValue ?? "", quantity: item["quantity"]?.intValue ?? 1,
                         unitAmount: item["amount_agorot"]?.intValue ?? 0)
        }
    }

    package static func row(_ id: String, caller: Caller, on db: any SQLDatabase) async throws -> (any SQLRow)? {
        try await db.scopedRow("documents", id: id, caller: caller)
    }

    package static func load(_ id: String, caller: Caller, on db: any SQLDatabase, services: AppServices) async throws -> JSONValue? {
        try await row(id, caller: caller, on: db).map { try json($0, services: services) }
    }

    package static func json(_ row: any SQLRow, services: AppServices) throws -> JSONValue {
        let id = try row.string("id")
        return .object([
            "id": .string(id),
            "object": "document",
            "type": .string(try row.string("type")),
            "status": "issued",
            "number": .int(try row.int("number")),
            "amount": .int(try row.int("amount")),
            "currency": .string(try row.string("currency")),
            "vat_rate": .number(0.18),
            "vat_amount": .int(try row.int("vat_amount")),
            "charge": .optional(try row.optionalString("charge_id")),
            "refund": .optional(try row.optionalString("refund_id")),
            "customer": .string(try row.string("customer_id")),
            "allocation_number": .optional(try row.optionalString("allocation_number")),
            "pdf_url": .string("\(services.publicURL)/documents/\(id).pdf?key=\(try row.string("access_key"))"),
            "sent_to_customer": .bool(try row.bool("sent_to_customer")),
            "metadata": try row.metadata(),
            "livemode": .bool(try row.bool("livemode")),
            "issued_at": .string(try row.timestamp("issued_at").iso8601),
            "created": .string(try row.timestamp("created").iso8601),
        ])
    }

    /// What the PDF shows, from the snapshot taken at issue time.
    package static func pdfContent(_ row: any SQLRow) throws -> TaxDocumentContent {
        let content = try row.json("content")
        let kind = Kind(rawValue: try row.string("type")) ?? .taxInvoiceReceipt
        let amount = try row.int("amount")
        let vat = try row.int("vat_amount")
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
            title: title, number: String(try row.int("number")), date: try row.timestamp("issued_at").date.isoString,
            issuerName: content["issuer"]?["name"]?.stringValue ?? "", issuerVATNumber: content["issuer"]?["vat_number"]?.stringValue,
            issuerAddress: content["issuer"]?["address"]?.stringValue,
            customerName: content["customer"]?["name"]?.stringValue ?? "", customerEmail: content["customer"]?["email"]?.stringValue,
            lines: lines, net: format(amount - vat), vat: format(vat), vatLabel: "VAT \(VAT.percentLabel) / מע״מ \(VAT.percentLabel)", total: format(amount),
            payment: payment, reference: content["reference"]?.stringValue, livemode: try row.bool("livemode"))
    }

    /// The document's PDF, rendered from its row.
    package static func pdf(_ row: any SQLRow, services: AppServices) throws -> [UInt8] {
        TaxDocumentPDF.render(try pdfContent(row), font: try services.documentFont.font())
    }
}
