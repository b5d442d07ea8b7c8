import ChingDomain
import ChingHTTP
import ChingProviders
import ChingServices
import ChingStore
import HTTPTypes
import Hummingbird

/// `GET /checkout_sessions/:id/public` and `POST /checkout_sessions/:id/confirm`: the hosted
/// page as JSON, for clients that render their own page. No API key: the session id is the
/// capability. Both go through the same `CheckoutPayment` as the HTML page.
struct CheckoutPublicAPI: Sendable {
    let services: AppServices
    let limiter: AttemptLimiter

    func addRoutes(to group: RouterGroup<AppRequestContext>, endpoint: EndpointWrapper) {
        group.get("checkout_sessions/:id/public", use: endpoint.unauthenticated { _, context in
            try await view(context.parameters.get("id") ?? "")
        })
        group.post("checkout_sessions/:id/confirm") { request, context in
            let client = limiter.clientAddress(request, context)
            return try await endpoint.unauthenticated { body, context in
                try await confirm(context.parameters.get("id") ?? "", body: body, clientAddress: client)
            }(request, context)
        }
    }

    func view(_ id: String) async throws -> APIResponse {
        guard let view = try await CheckoutView.load(id, services: services) else { throw ServiceError.notFound("checkout_session", id) }
        let session = view.session
        let sessionJSON = try CheckoutSessions.json(session, offer: view.offer, services: services)
        var object: JSONObject = [
            "id": .string(session.id),
            "object": "checkout_session_public",
            "status": .string(session.status(at: services.clock.now()).rawValue),
            "kind": .string(session.kind.rawValue),
            "merchant": .object(["name": .string(view.merchantName)]),
            "customer": .object(["name": .string(view.customerName)]),
            "locale": .string((session.locale ?? view.customerLocale ?? .he).rawValue),
            "product": view.offer.product.map { product in
                .object(["name": .string(product.name), "description": .optional(product.description), "image_url": .optional(product.imageURL),
                         "features": .array(product.features.map { .object(["title": .string($0.title), "subtitle": .optional($0.subtitle)]) })])
            } ?? .null,
            "saved_cards": .array(view.savedCards.map { card in
                .object(["id": .string(card.id), "brand": .string(card.brand.rawValue), "last4": .string(card.last4),
                         "exp_month": .int(card.expMonth), "exp_year": .int(card.expYear)])
            }),
            "max_installments": .int(view.limits.maxInstallments),
            "requires_israeli_id": .bool(view.limits.requireIsraeliID),
            "receipt_url": .optional(view.receiptURL),
        ]
        for key in ["line_items", "currency", "amount_subtotal", "amount_discount", "amount_due_today", "amount_vat", "recurring",
                    "capture_method", "cancel_url", "expires_at"] {
            object[key] = sessionJSON[key]
        }
        return APIResponse(.object(object))
    }

    func confirm(_ id: String, body: JSONValue, clientAddress: String) async throws -> APIResponse {
        if let retry = limiter.attempt(from: clientAddress, at: services.clock.now()) {
            var error = ServiceError(.tooManyRequests, "RATE_LIMITED", "Too many payment attempts from this address; try again later.")
            error.retryAfter = retry
            throw error
        }
        var reader = FieldReader(body: body)
        reader.rejectUnknownFields(allowing: ["card", "payment_method", "installments", "israeli_id"])
        let paymentMethod = reader.id("payment_method", prefix: .paymentMethod)
        let installments = reader.integer("installments", in: 1...12) ?? 1
        var form = CheckoutPayment.CardForm()
        if var card = reader.nested("card") {
            card.rejectUnknownFields(allowing: ["number", "exp_month", "exp_year", "cvc", "name"])
            form.number = card.string("number", required: true, maxLength: 40) ?? ""
            form.expMonth = card.integer("exp_month", required: true, in: 1...12).map(Int.init)
            form.expYear = card.integer("exp_year", required: true, in: 0...9999).map(Int.init)
            form.cvc = card.string("cvc", required: true, maxLength: 4) ?? ""
            form.holderName = card.string("name", maxLength: 100)
            reader.merge(card)
        } else if paymentMethod == nil, !reader.issues.contains(where: { $0.path == "payment_method" }) {
            reader.fail("card", "Send a card, or a saved payment_method.")
        }
        form.israeliID = reader.string("israeli_id", maxLength: 9)
        try reader.throwIfInvalid()

        let payment = CheckoutPayment(services: services)
        let method: CheckoutPayment.Method = paymentMethod.map { .savedCard($0) } ?? .newCard(form)
        switch try await payment.pay(sessionID: id, method: method, installments: installments) {
        case .succeeded(let session):
            return APIResponse(.object(["status": "succeeded", "checkout_session": .string(session.id), "redirect_url": .string(session.successRedirect),
                                        "charge": .optional(session.chargeID), "subscription": .optional(session.subscriptionID)]))
        case .requiresAuthentication(let attemptID):
            return APIResponse(.object(["status": "requires_action", "next_action": .object([
                "type": "redirect", "url": .string("\(services.publicURL)/checkout/\(id)/3ds/\(attemptID)")])]))
        case .declined(let decline):
            var error = ServiceError(.paymentFailed, "CHARGE_FAILED", decline.message)
            error.extra["decline_code"] = .string(decline.code)
            throw error
        case .invalid(let errors):
            let paths = ["number": "card.number", "expiry": "card.exp_month", "cvc": "card.cvc", "name": "card.name"]
            throw ServiceError.invalid(errors.sorted { $0.key < $1.key }.map { FieldIssue(path: paths[$0.key] ?? $0.key, message: $0.value.rawValue) })
        case .busy:
            throw ServiceError.rule("attempt_in_progress", "Another payment attempt for this session is in progress.", kind: .conflict)
        case .locked(let until):
            var error = ServiceError(.tooManyRequests, "RATE_LIMITED", "Too many failed attempts on this session; try again after \(until.iso8601).")
            error.retryAfter = Int((until.milliseconds - services.clock.now().milliseconds + 999) / 1000)
            throw error
        case .notPayable(_, let status):
            if status == .expired { throw ServiceError(.gone, "SESSION_EXPIRED", "This checkout session has expired.") }
            throw ServiceError.rule("SESSION_NOT_PENDING", "This checkout session is \(status.rawValue).", kind: .conflict)
        }
    }
}
