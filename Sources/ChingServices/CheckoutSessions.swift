import ChingDomain
import ChingStore

extension CheckoutSession: HostedSession {
    package static let idPlaceholder = "{CHECKOUT_SESSION_ID}"
}

/// What a session sells, read from its price and product: the page, the totals and the charge use it.
package struct CheckoutOffer: Sendable {
    package struct Product: Sendable {
        package let name: String
        package let description: String?
        package let imageURL: String?
        package let features: [(title: String, subtitle: String?)]
    }

    /// A customer who already has a live subscription changes its plan instead of starting a second one.
    package struct PlanSwitch: Sendable {
        package let subscriptionID: String
        package let fromPriceID: String
        package let fromProductName: String
        package let kind: PlanChange
        /// When a downgrade (or a same-amount swap during a trial) takes effect: the period end.
        package let periodEnd: Timestamp
    }

    package let product: Product?
    package let oneTimePrice: (amount: Int64, vatExclusive: Bool)?
    package let plan: Plan?
    package let totals: CheckoutTotals
    package var planSwitch: PlanSwitch? = nil

    /// The lines of the charge and its document: the cart, then the price or the plan's first period when billed now.
    package func chargeLines(_ session: CheckoutSession) -> [CartLine] {
        if planSwitch != nil {
            return [CartLine(name: "\(product?.name ?? "Subscription"): the rest of the current period", unitAmount: totals.dueToday, quantity: 1)]
        }
        var lines = session.lines
        if let product, let price = oneTimePrice {
            // The totals were computed (and checked) from the same price: this sum fits.
            lines.append(CartLine(name: product.name, unitAmount: price.vatExclusive ? (try? VAT.gross(ofExclusive: price.amount)) ?? 0 : price.amount, quantity: 1))
        }
        if let product, plan?.hasTrial == false, let period = totals.recurringAmount {
            lines.append(CartLine(name: product.name, unitAmount: period, quantity: 1))
        }
        return lines
    }

    package static func load(for session: CheckoutSession, now: Timestamp, on db: Store) async throws -> CheckoutOffer {
        var product: Product?, oneTime: (Int64, Bool)?, plan: Plan?
        if let priceID = session.priceID, let price = try await db.catalog.price(priceID), let sold = try await db.catalog.product(price.productID) {
            let features = (sold.features.arrayValue ?? []).map {
                (title: $0["title"]?.stringValue ?? "", subtitle: $0["subtitle"]?.stringValue)
            }
            product = Product(name: sold.name, description: sold.description, imageURL: sold.imageURL, features: features)
            plan = price.plan
            if plan == nil { oneTime = (price.unitAmount, price.taxMode == "exclusive") }
        }
        // Only a session still to be paid is a plan change; once paid, its own subscription is the customer's plan.
        if session.kind == .subscription, session.storedStatus == .pending, let plan, let priceID = session.priceID,
           let change = try await Subscriptions.planSwitch(customerID: session.customerID, to: priceID, plan: plan, caller: session.caller, now: now,
                                                           refuseOtherInterval: false, on: db) {
            return CheckoutOffer(product: product, oneTimePrice: nil, plan: plan,
                                 totals: .planChange(due: change.due, period: change.period, nextBilling: change.switch.periodEnd), planSwitch: change.switch)
        }
        let totals = try CheckoutTotals.compute(lines: session.lines, oneTimePrice: oneTime, plan: plan, now: now)
        return CheckoutOffer(product: product, oneTimePrice: oneTime, plan: plan, totals: totals)
    }
}

/// Checkout sessions as the API returns them.
package enum CheckoutSessions {
    /// What `POST /checkout_sessions` asks for, as validated.
    package struct NewSession: Sendable {
        let customerID: String
        let priceID: String?
        let lines: [CartLine]?
        let successURL: String
        let cancelURL: String
        let createDocument: Bool
        let capture: CaptureMethod
        let metadata: [String: String]
        let locale: Language?

        package init(customerID: String, priceID: String?, lines: [CartLine]?, successURL: String, cancelURL: String, createDocument: Bool,
                     capture: CaptureMethod, metadata: [String: String], locale: Language?) {
            self.customerID = customerID; self.priceID = priceID; self.lines = lines; self.successURL = successURL; self.cancelURL = cancelURL
            self.createDocument = createDocument; self.capture = capture; self.metadata = metadata; self.locale = locale
        }
    }

    package static let lifetimeSeconds: Int64 = 30 * 60

    package enum CaptureMethod: String, CaseIterable { case automatic, manual }

    package static func load(_ id: String, caller: Caller, on db: Store, services: AppServices) async throws -> JSONValue? {
        guard let session = try await db.checkoutSessions.find(id, caller: caller) else { return nil }
        return try json(session, offer: try await CheckoutOffer.load(for: session, now: try await services.customerTime(session.customerID, on: db), on: db),
                        services: services)
    }

    package static func json(_ session: CheckoutSession, offer: CheckoutOffer, services: AppServices) throws -> JSONValue {
        let totals = offer.totals
        return .object([
            "id": .string(session.id),
            "object": "checkout_session",
            "url": .string("\(services.publicURL)/checkout/\(session.id)"),
            "customer": .string(session.customerID),
            "kind": .string(session.kind.rawValue),
            "status": .string(session.status(at: services.clock.now()).rawValue),
            "price": .optional(session.priceID),
            "line_items": session.kind == .cart || session.kind == .mixed ? .array(session.lines.map(\.json)) : .null,
            "currency": "ils",
            "amount_subtotal": .int(totals.subtotal),
            "amount_discount": .int(-totals.discounts),
            "amount_due_today": .int(totals.dueToday),
            "amount_vat": .int(totals.vat),
            "recurring": offer.plan.map { plan in
                .object(["amount": .optional(totals.recurringAmount), "interval": .string(plan.interval.rawValue),
                         "interval_count": .int(plan.intervalCount), "trial_period_days": .int(plan.trialDays),
                         "first_billing_at": .optional(totals.firstBillingAt?.iso8601)])
            } ?? .null,
            "capture_method": .string(session.manualCapture ? "manual" : "automatic"),
            "create_document": .bool(session.createDocument),
            "locale": .optional(session.locale?.rawValue),
            "success_url": .string(session.successURL),
            "cancel_url": .string(session.cancelURL),
            "charge": .optional(session.chargeID),
            "subscription": .optional(session.subscriptionID),
            "payment_method": .optional(session.paymentMethodID),
            "metadata": session.metadata,
            "livemode": .bool(session.caller.livemode),
            "expires_at": .string(session.expiresAt.iso8601),
            "completed_at": .optional(session.completedAt?.iso8601),
            "created": .string(session.created.iso8601),
        ])
    }

    /// Opens a hosted checkout for a price, a cart, or a recurring price with items; refuses what cannot be sold or paid.
    package static func create(_ new: NewSession, caller: Caller, services: AppServices) async throws -> JSONValue {
        let (customerID, priceID, cart, successURL, cancelURL) = (new.customerID, new.priceID, new.lines, new.successURL, new.cancelURL)
        let (createDocument, capture, metadata, locale) = (new.createDocument, new.capture, new.metadata, new.locale)
        let now = services.clock.now()
        let id = services.ids.make(.checkoutSession)
        return try await services.database.transaction { db in
            _ = try await Customers.requireActive(customerID, caller: caller, on: db)
            var kind = CheckoutSession.Kind.cart
            if let priceID {
                guard let price = try await db.catalog.price(priceID, caller: caller) else { throw ServiceError.notFound("price", priceID) }
                guard price.active else { throw ServiceError.rule("price_archived", "The price \(priceID) is archived and cannot be sold.") }
                let recurring = price.type == "recurring"
                if cart != nil {
                    guard recurring else {
                        throw ServiceError.rule("mixed_requires_recurring_price", "A price with line_items must be recurring; send a one-time price's amount as a line item instead.")
                    }
                    kind = .mixed
                } else {
                    kind = recurring ? .subscription : .oneTime
                }
            }
            if kind == .subscription, let priceID, let plan = try await db.catalog.price(priceID, caller: caller)?.plan {
                // A customer with a live plan changes it: refused now if it cannot be changed to this price.
                _ = try await Subscriptions.planSwitch(customerID: customerID, to: priceID, plan: plan, caller: caller, now: now,
                                                       refuseOtherInterval: true, on: db)
            }
            if capture == .manual {
                if kind == .subscription { throw ServiceError.rule("capture_method_not_supported_for_recurring", "Manual capture is only for one-time prices and carts.") }
                if kind == .mixed { throw ServiceError.rule("capture_method_not_supported_for_mixed", "Manual capture is only for one-time prices and carts.") }
            }
            do {
                _ = try CheckoutTotals.compute(lines: cart ?? [], now: now)
            } catch let problem as CheckoutTotals.Problem {
                throw ServiceError.rule("cart_total_invalid", problem == .negativeTotal
                    ? "The line items add up to less than zero; discounts cannot exceed the cart."
                    : "The line items add up to more than one charge can carry.")
            }
            try await db.checkoutSessions.insert(.init(
                id: id, caller: caller, customerID: customerID, kind: kind, priceID: priceID, lines: cart, successURL: successURL,
                cancelURL: cancelURL, createDocument: createDocument, manualCapture: capture == .manual, locale: locale,
                csrfToken: services.ids.hex(byteCount: 24), metadata: .strings(metadata), expiresAt: now.adding(seconds: lifetimeSeconds), created: now))
            let session = try await db.checkoutSessions.find(id)!
            let offer = try await CheckoutOffer.load(for: session, now: try await services.customerTime(customerID, on: db), on: db)
            if offer.totals.dueToday > Money.maximumAmount {
                throw ServiceError.rule("cart_total_invalid", "The amount due is more than one charge can carry.")
            }
            return try json(session, offer: offer, services: services)
        }
    }

    /// The merchant withdraws a pending session (it becomes `canceled`); `SESSION_NOT_PENDING` otherwise.
    package static func expire(_ id: String, caller: Caller, services: AppServices) async throws -> JSONValue {
        let now = services.clock.now()
        return try await services.database.transaction { db in
            guard let session = try await db.checkoutSessions.find(id, caller: caller) else { throw ServiceError.notFound("checkout_session", id) }
            guard try await db.hostedSessions(.checkout).apply(.cancel, to: id, at: now) else {
                throw ServiceError.rule("SESSION_NOT_PENDING", "Only a pending session can be expired; this one is \(session.status(at: now).rawValue).", kind: .conflict)
            }
            return try await load(id, caller: caller, on: db, services: services)!
        }
    }
}
