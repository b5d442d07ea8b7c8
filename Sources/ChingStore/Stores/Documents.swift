import ChingDomain
import SQLKit

/// A tax document as stored: its number, amounts, and a snapshot of issuer, customer and lines taken when it was issued.
public struct Document: Sendable {
    public let id: String
    public let caller: Caller
    public let kind: DocumentKind
    public let number: Int64
    public let amount: Int64
    public let currency: String
    public let vatAmount: Int64
    public let chargeID: String?
    public let refundID: String?
    public let customerID: String
    public let allocationNumber: String?
    /// `{issuer, customer, lines, payment, reference}`.
    public let content: JSONValue
    /// The secret in the customer's PDF link.
    public let accessKey: String
    public let sentToCustomer: Bool
    public let metadata: JSONValue
    public let issuedAt: Timestamp
    public let created: Timestamp

    public init(id: String, caller: Caller, kind: DocumentKind, number: Int64, amount: Int64, vatAmount: Int64, chargeID: String?, refundID: String?,
                customerID: String, content: JSONValue, accessKey: String, issuedAt: Timestamp) {
        self.id = id; self.caller = caller; self.kind = kind; self.number = number; self.amount = amount; self.currency = "ils"
        self.vatAmount = vatAmount; self.chargeID = chargeID; self.refundID = refundID; self.customerID = customerID; self.allocationNumber = nil
        self.content = content; self.accessKey = accessKey; self.sentToCustomer = false; self.metadata = .object([:])
        self.issuedAt = issuedAt; self.created = issuedAt
    }

    init(_ row: any SQLRow) throws {
        id = try row.string("id")
        caller = try row.caller()
        kind = DocumentKind(rawValue: try row.string("type")) ?? .taxInvoiceReceipt
        number = try row.int("number")
        amount = try row.int("amount")
        currency = try row.string("currency")
        vatAmount = try row.int("vat_amount")
        chargeID = try row.optionalString("charge_id")
        refundID = try row.optionalString("refund_id")
        customerID = try row.string("customer_id")
        allocationNumber = try row.optionalString("allocation_number")
        content = try row.json("content")
        accessKey = try row.string("access_key")
        sentToCustomer = try row.bool("sent_to_customer")
        metadata = try row.metadata()
        issuedAt = try row.timestamp("issued_at")
        created = try row.timestamp("created")
    }
}

/// The `documents` table and its numbering (`document_counters`, one per project and mode).
public struct DocumentStore: Sendable {
    let db: any SQLDatabase

    /// Takes the next number of the caller's documents. The counter row stays locked by this
    /// UPDATE until the transaction ends, so concurrent issuers queue here and numbers are
    /// neither skipped nor reused. Nil when the project has no counter.
    public func takeNumber(caller: Caller) async throws -> Int64? {
        try await db.raw("""
            UPDATE document_counters SET last_number = last_number + 1
            WHERE project_id = \(bind: caller.projectID) AND livemode = \(bind: caller.mode) RETURNING last_number
            """).first()?.int("last_number")
    }

    /// A new project's counters, both modes starting at 1.
    public func createCounters(projectID: String) async throws {
        for mode: Int64 in [0, 1] {
            try await db.raw("INSERT INTO document_counters (project_id, livemode, last_number) VALUES (\(bind: projectID), \(bind: mode), 0)").run()
        }
    }

    public func insert(_ document: Document) async throws {
        try await db.raw("""
            INSERT INTO documents (id, project_id, livemode, type, number, amount, currency, vat_amount, charge_id, refund_id,
              customer_id, content, access_key, sent_to_customer, metadata, issued_at, created)
            VALUES (\(bind: document.id), \(bind: document.caller.projectID), \(bind: document.caller.mode), \(bind: document.kind.rawValue),
              \(bind: document.number), \(bind: document.amount), \(bind: document.currency), \(bind: document.vatAmount), \(bind: document.chargeID),
              \(bind: document.refundID), \(bind: document.customerID), \(bind: document.content.serialized()), \(bind: document.accessKey),
              \(bind: document.sentToCustomer.stored), \(bind: document.metadata.serialized()), \(bind: document.issuedAt.milliseconds),
              \(bind: document.created.milliseconds))
            """).run()
    }

    /// The customer's email carrying the document was accepted by their mail server.
    public func markSent(_ id: String) async throws {
        try await db.raw("UPDATE documents SET sent_to_customer = 1 WHERE id = \(bind: id)").run()
    }

    public func find(_ id: String, caller: Caller) async throws -> Document? {
        try await db.scopedRow("documents", id: id, caller: caller).map(Document.init)
    }

    /// The document a customer's link names, when its key matches.
    public func find(_ id: String, accessKey: String) async throws -> Document? {
        try await db.raw("SELECT * FROM documents WHERE id = \(bind: id) AND access_key = \(bind: accessKey)").first().map(Document.init)
    }

    /// The tax invoice/receipt issued for a charge.
    public func receipt(ofCharge chargeID: String) async throws -> Document? {
        try await db.raw("SELECT * FROM documents WHERE charge_id = \(bind: chargeID) AND type = 'tax_invoice_receipt'").first().map(Document.init)
    }

    /// The customer's documents, newest first, at most `limit`.
    public func ofCustomer(_ customerID: String, limit: Int64) async throws -> [Document] {
        try await db.raw("SELECT * FROM documents WHERE customer_id = \(bind: customerID) ORDER BY seq DESC LIMIT \(bind: limit)").all().map(Document.init)
    }

    public func list(caller: Caller, _ request: PageRequest) async throws -> Page<Document> {
        try await db.page("documents", caller: caller, request, as: Document.init)
    }
}

extension SQLDatabase {
    public var documents: DocumentStore { DocumentStore(db: self) }
}
