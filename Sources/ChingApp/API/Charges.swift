import ChingDomain
import HTTPTypes
import Hummingbird
import SQLKit

/// `/charges`: money taken from a saved card. A successful charge issues its tax document in the
/// same transaction that records it.
struct ChargesAPI: Sendable {
    let services: AppServices

    func addRoutes(to group: RouterGroup<AppRequestContext>, endpoint: EndpointWrapper) {
        group.post("charges", use: endpoint(create))
        group.get("charges", use: endpoint(list))
        group.get("charges/:id", use: endpoint(retrieve))
    }

    /// POST /charges: create and confirm in one call.
    @Sendable func create(_ call: APICall) async throws -> APIResponse {
        var reader = call.reader(allowing: ["customer", "payment_method", "amount", "currency", "description", "installments", "metadata"])
        let customerID = reader.id("customer", required: true, prefix: .customer)
        let paymentMethodID = reader.id("payment_method", required: true, prefix: .paymentMethod)
        let amount = reader.integer("amount", required: true, in: 1...Money.maximumAmount)
        let _: CatalogAPI.Currency? = reader.choice("currency")
        let description = reader.string("description", maxLength: 500)
        let metadata = reader.metadata() ?? [:]
        var installments: Int64 = 1
        if var nested = reader.nested("installments") {
            nested.rejectUnknownFields(allowing: ["count"])
            installments = nested.integer("count", in: 1...12) ?? 1
            reader.merge(nested)
        }
        try reader.throwIfInvalid()

        let caller = call.caller
        let (card, maxInstallments) = try await services.database.read { db in
            _ = try await CustomersAPI.requireActive(customerID!, caller: caller, on: db)
            let card = try await Self.chargeableCard(paymentMethodID!, customerID: customerID!, caller: caller, on: db)
            let project = try await db.raw("SELECT max_installments FROM projects WHERE id = \(bind: caller.projectID)").first()
            return (card, try project?.int("max_installments") ?? 12)
        }
        if installments > maxInstallments {
            throw APIError.invalid("installments.count", "Must be between 1 and \(maxInstallments) for this project.")
        }
        if installments > 1, !card.supportsInstallments {
            throw APIError.invalid("installments.count", "This card does not offer installments (only cards issued in Israel do).")
        }

        let installmentCount = installments
        let result = await services.provider(for: caller).charge(token: card.token, amount: amount!, installments: Int(installmentCount), capture: true)
        let charge = try await services.database.transaction { db in
            try await Self.record(
                NewCharge(customerID: customerID!, paymentMethodID: paymentMethodID!, amount: amount!, description: description,
                          installments: installmentCount, metadata: metadata, card: card),
                result: result, caller: caller, on: db, services: services)
        }
        if case .declined(let decline) = result {
            var error = APIError(.init(code: 402, reasonPhrase: "Payment Required"), "CHARGE_FAILED", decline.message)
            error.extra["charge"] = charge
            throw error
        }
        return APIResponse(charge)
    }

    /// What a saved card contributes to a charge.
    struct ChargeableCard: Sendable {
        let token: String
        let brand: CardBrand
        let last4: String
        let supportsInstallments: Bool
    }

    /// The payment method, checked to be the customer's and active.
    static func chargeableCard(_ id: String, customerID: String, caller: Caller, on db: any SQLDatabase) async throws -> ChargeableCard {
        guard let row = try await PaymentMethodsAPI.row(id, caller: caller, on: db) else { throw APIError.notFound("payment_method", id) }
        guard try row.string("customer_id") == customerID else {
            throw APIError.rule("payment_method_not_owned", "The payment method \(id) belongs to another customer.")
        }
        guard try row.string("status") == "active" else {
            throw APIError.rule("payment_method_inactive", "The payment method \(id) is detached.")
        }
        return ChargeableCard(token: try row.string("token"), brand: CardBrand(rawValue: try row.string("brand")) ?? .unknown,
                              last4: try row.string("last4"), supportsInstallments: try row.bool("supports_installments"))
    }

    struct NewCharge: Sendable {
        let customerID: String
        let paymentMethodID: String?
        let amount: Int64
        let description: String?
        let installments: Int64
        let metadata: [String: String]
        let card: ChargeableCard
        var lineItems: JSONValue? = nil
        var checkoutSessionID: String? = nil
        var createDocument = true
    }

    /// Stores the outcome of a provider charge with its events (and, on success, its document and receipt email).
    static func record(_ new: NewCharge, result: ProviderResult, caller: Caller, on db: any SQLDatabase, services: AppServices) async throws -> JSONValue {
        let id = services.ids.make(.charge)
        let now = services.clock.now()
        var status = "failed", reference: String?, failure: Decline?
        switch result {
        case .approved(let ref): status = "succeeded"; reference = ref
        case .declined(let decline): failure = decline
        }
        let captured = status == "succeeded"
        try await db.raw("""
            INSERT INTO charges (id, project_id, livemode, customer_id, payment_method_id, amount, currency, status, description,
              installments, captured, amount_captured, refunded_amount, failure_code, failure_message, checkout_session_id,
              line_items, provider_reference, metadata, created)
            VALUES (\(bind: id), \(bind: caller.projectID), \(bind: caller.mode), \(bind: new.customerID), \(bind: new.paymentMethodID),
              \(bind: new.amount), 'ils', \(bind: status), \(bind: new.description), \(bind: new.installments), \(bind: captured.stored),
              \(bind: captured ? new.amount : 0), 0, \(bind: failure?.code), \(bind: failure?.message), \(bind: new.checkoutSessionID),
              \(bind: new.lineItems?.serialized()), \(bind: reference), \(bind: new.metadata.storedJSON), \(bind: now.milliseconds))
            """).run()
        guard captured else {
            let charge = try await load(id, caller: caller, on: db)!
            try await Events.record("charge.failed", data: charge, caller: caller, on: db, services: services)
            return charge
        }
        if new.createDocument {
            let lines = new.lineItems.map(DocumentsAPI.lines(fromLineItems:))
                ?? [DocumentLine(description: new.description ?? "Payment", quantity: 1, unitAmount: new.amount)]
            let payment = DocumentPayment(brand: new.card.brand, last4: new.card.last4, installments: new.installments)
            let documentID = try await DocumentsAPI.issue(
                .taxInvoiceReceipt, amount: new.amount, chargeID: id, refundID: nil, customerID: new.customerID,
                lines: lines, payment: payment, reference: nil, caller: caller, on: db, services: services)
            try await db.raw("UPDATE charges SET document_id = \(bind: documentID) WHERE id = \(bind: id)").run()
        }
        let charge = try await load(id, caller: caller, on: db)!
        try await Events.record("charge.succeeded", data: charge, caller: caller, on: db, services: services)
        return charge
    }

    /// GET /charges/:id
    @Sendable func retrieve(_ call: APICall) async throws -> APIResponse {
        let charge = try await services.database.read { db in try await Self.load(call.id, caller: call.caller, on: db) }
        guard let charge else { throw APIError.notFound("charge", call.id) }
        return APIResponse(charge)
    }

    /// GET /charges (`?customer=`); rows add `customer_name`.
    @Sendable func list(_ call: APICall) async throws -> APIResponse {
        let customer: SQLQueryString = call.query["customer"].map { " AND customer_id = \(bind: $0)" } ?? ""
        return try await services.database.read { db in
            let page = try await ListPage.read(call, table: "charges", on: db)
            let rows = try await db.raw("""
                SELECT *, (SELECT name FROM customers c WHERE c.id = charges.customer_id) AS customer_name FROM charges
                WHERE project_id = \(bind: call.caller.projectID) AND livemode = \(bind: call.caller.mode)
                """ + customer + page.clause).all()
            return page.response(try rows.map { row in
                var object = try Self.json(row).objectValue!
                object["customer_name"] = .optional(try row.optionalString("customer_name"))
                return .object(object)
            })
        }
    }

    static func row(_ id: String, caller: Caller, on db: any SQLDatabase) async throws -> (any SQLRow)? {
        try await db.raw("""
            SELECT * FROM charges WHERE id = \(bind: id) AND project_id = \(bind: caller.projectID) AND livemode = \(bind: caller.mode)
            """).first()
    }

    static func load(_ id: String, caller: Caller, on db: any SQLDatabase) async throws -> JSONValue? {
        try await row(id, caller: caller, on: db).map(json)
    }

    static func json(_ row: any SQLRow) throws -> JSONValue {
        var object: JSONObject = [
            "id": .string(try row.string("id")),
            "object": "charge",
            "customer": .string(try row.string("customer_id")),
            "payment_method": .optional(try row.optionalString("payment_method_id")),
            "amount": .int(try row.int("amount")),
            "currency": .string(try row.string("currency")),
            "status": .string(try row.string("status")),
            "description": .optional(try row.optionalString("description")),
            "installments": .object(["count": .int(try row.int("installments"))]),
            "captured": .bool(try row.bool("captured")),
            "refunded_amount": .int(try row.int("refunded_amount")),
            "failure_code": .optional(try row.optionalString("failure_code")),
            "failure_message": .optional(try row.optionalString("failure_message")),
            "document": .optional(try row.optionalString("document_id")),
            "checkout_session": .optional(try row.optionalString("checkout_session_id")),
            "line_items": try row.optionalJSON("line_items") ?? .null,
            "subscription": .optional(try row.optionalString("subscription_id")),
            "metadata": try row.metadata(),
            "livemode": .bool(try row.bool("livemode")),
            "created": .string(try row.timestamp("created").iso8601),
        ]
        if let capturableUntil = try row.optionalTimestamp("capturable_until") {
            object["amount_captured"] = .int(try row.int("amount_captured"))
            object["capturable_until"] = .string(capturableUntil.iso8601)
        }
        return .object(object)
    }
}
