import ChingDomain

/// What every hosted page's layout shows: language, title, merchant, test-mode banner, the
/// language switch and the brand. Equatable, so a cached page can be compared with what would be
/// shown now.
struct PageFrame: Equatable, Sendable {
    struct Branding: Equatable, Sendable {
        /// The brand's content hash: it also names the templates the page is rendered with.
        let version: String
        let stylesheetURL: String?
        let logoURL: String?
        let iconURL: String?
        let supportEmail: String?
        let supportPhone: String?
        let termsURL: String?
        let privacyURL: String?
    }

    let language: Language
    let title: String
    let merchantName: String
    let testMode: Bool
    let switchURL: String?
    let branding: Branding?

    init(language: Language, title: String, merchantName: String, testMode: Bool, switchURL: String?, brand: BrandContext?) {
        self.language = language
        self.title = title
        self.merchantName = brand?.brand.displayName ?? merchantName
        self.testMode = testMode
        self.switchURL = switchURL
        branding = brand.map { brand in
            let b = brand.brand, base = "/brand/\(brand.projectID)/"
            let url = { (asset: Brand.Asset) in base + asset.hash + "." + (asset.fileName.split(separator: ".").last.map(String.init) ?? "") }
            return Branding(version: b.version, stylesheetURL: b.stylesheet.map { base + $0.hash + ".css" }, logoURL: b.logo.map(url),
                            iconURL: b.icon.map(url), supportEmail: b.supportEmail, supportPhone: b.supportPhone, termsURL: b.termsURL,
                            privacyURL: b.privacyURL)
        }
    }

    /// The layout's values, as the templates name them.
    func context(_ localization: Localization) -> [String: Any] {
        var context: [String: Any] = [
            "lang": language.rawValue, "dir": language == .he ? "rtl" : "ltr", "t": localization.table(language),
            "title": title, "merchantName": merchantName, "testMode": testMode,
        ]
        if let b = branding {
            context.merge(HostedPageKit.present([
                "brandStylesheet": b.stylesheetURL, "logoURL": b.logoURL, "iconURL": b.iconURL, "supportEmail": b.supportEmail,
                "supportPhone": b.supportPhone, "termsURL": b.termsURL, "privacyURL": b.privacyURL,
            ])) { $1 }
        }
        if let switchURL {
            context["switchLocaleURL"] = switchURL
            context["switchLocaleLang"] = language == .he ? "en" : "he"
        }
        return context
    }
}

/// The card form's part of a page: what was typed (never the number or CVC), and the errors
/// beside each field and in the summary, in form order.
struct CardFormModel: Equatable, Sendable {
    let fieldErrors: [String: String]
    /// (anchor, message) in the order the fields appear.
    let summary: [Pair]
    let typed: TypedForm
    let requireIsraeliID: Bool

    struct Pair: Equatable, Sendable { let field: String, message: String }

    init(language: Language, typed: TypedForm, errors: [String: CheckoutPayment.FieldError], requireIsraeliID: Bool, localization: Localization) {
        var fieldErrors: [String: String] = [:]
        for (field, error) in errors { fieldErrors[field] = localization.text("error_\(error.rawValue)", language) }
        let order: [(field: String, anchor: String)] = [("payment_method", "payment_method"), ("name", "name"), ("number", "number"),
                                                        ("expiry", "exp"), ("cvc", "cvc"), ("israeli_id", "israeli_id"), ("installments", "installments")]
        self.fieldErrors = fieldErrors
        summary = order.compactMap { item in fieldErrors[item.field].map { Pair(field: item.anchor, message: $0) } }
        self.typed = typed
        self.requireIsraeliID = requireIsraeliID
    }

    var context: [String: Any] {
        [
            "fieldErrors": fieldErrors,
            "errors": summary.map { ["field": $0.field, "message": $0.message] },
            "hasErrors": !summary.isEmpty,
            "form": ["name": typed.name, "exp": typed.exp, "israeliID": typed.israeliID],
            "askIsraeliID": requireIsraeliID,
            "requireIsraeliID": requireIsraeliID,
        ]
    }
}

/// Everything the checkout page shows, already in the customer's language. The template sees only
/// `context`, built from these fields, and the page cache compares whole models: nothing shown can
/// be left out of the cache's key.
struct CheckoutPageModel: Equatable, Sendable {
    struct Product: Equatable, Sendable {
        let name: String, description: String?, imageURL: String?
        let features: [Feature]
    }
    struct Feature: Equatable, Sendable { let title: String, subtitle: String? }
    struct Line: Equatable, Sendable {
        let name: String, description: String?, imageURL: String?, isDiscount: Bool, quantityLabel: String, total: String?
    }
    struct SavedCard: Equatable, Sendable { let id: String, label: String, checked: Bool }
    struct Installment: Equatable, Sendable { let count: Int64, label: String, selected: Bool }

    let frame: PageFrame
    let form: CardFormModel
    let decline: String?
    let product: Product?
    let lines: [Line]
    let subtotal: String
    let discounts: String?
    let showVAT: Bool
    let vatLabel: String
    let vat: String
    let dueToday: String
    let planLine: String?
    let trialLine: String?
    let manualCapture: Bool
    let savedCards: [SavedCard]
    let newCardChecked: Bool
    let installments: [Installment]
    let formAction: String
    let csrfToken: String
    let payLabel: String
    let cancelAction: String
    let cancelLabel: String
    /// The merchant's origins, which the form's redirect may go to (the CSP's `form-action`).
    let redirectOrigins: [String]

    init(_ state: CheckoutView, language: Language, typed: TypedForm, errors: [String: CheckoutPayment.FieldError], decline: String?,
         localization l: Localization) {
        let session = state.session, totals = state.offer.totals
        let money = { (agorot: Int64) in l.money(agorot, language) }
        let switchTo: Language = language == .he ? .en : .he
        frame = PageFrame(language: language, title: l.text("title_checkout", language), merchantName: state.merchantName,
                          testMode: !session.caller.livemode, switchURL: "/checkout/\(session.id)?locale=\(switchTo.rawValue)", brand: state.brand)
        form = CardFormModel(language: language, typed: typed, errors: errors, requireIsraeliID: state.limits.requireIsraeliID, localization: l)
        self.decline = decline
        product = state.offer.product.map { product in
            Product(name: product.name, description: product.description, imageURL: product.imageURL,
                    features: product.features.map { Feature(title: $0.title, subtitle: $0.subtitle) })
        }
        lines = session.lines.map { line in
            Line(name: line.name, description: line.description, imageURL: line.imageURL, isDiscount: line.isDiscount,
                 quantityLabel: l.text("quantity_times", language, ["quantity": String(line.quantity), "amount": money(line.unitAmount)]),
                 // Every line's total was checked when the session was created.
                 total: (try? line.total()).map(money))
        }
        subtotal = money(totals.subtotal)
        discounts = totals.discounts < 0 ? money(totals.discounts) : nil
        showVAT = state.brand?.brand.showVATLine ?? true
        vatLabel = l.text(totals.vatIncluded ? "vat_included" : "vat_added", language, ["rate": VAT.percentLabel])
        vat = money(totals.vat)
        dueToday = money(totals.dueToday)
        if let plan = state.offer.plan, let recurring = totals.recurringAmount, let first = totals.firstBillingAt {
            planLine = l.text("plan_then", language, ["amount": money(recurring), "interval": l.interval(plan.interval, count: plan.intervalCount, language),
                                                      "date": l.date(first, language)])
            trialLine = plan.hasTrial ? l.text("plan_trial", language, ["days": String(plan.trialDays)]) : nil
        } else {
            planLine = nil
            trialLine = nil
        }
        manualCapture = session.manualCapture
        let chosen = typed.paymentMethod ?? state.savedCards.first?.id ?? "new"
        savedCards = state.savedCards.map { card in
            SavedCard(id: card.id, label: l.text("saved_card", language, ["brand": card.brand.displayName, "last4": card.last4,
                                                                          "month": (card.expMonth < 10 ? "0" : "") + String(card.expMonth),
                                                                          "year": String(card.expYear % 100)]),
                      checked: chosen == card.id)
        }
        newCardChecked = chosen == "new" || !state.savedCards.contains { $0.id == chosen }
        installments = state.limits.maxInstallments > 1 ? (1...state.limits.maxInstallments).map { count in
            let each = money(Installments.split(totals.dueToday, count: count).each)
            return Installment(count: count, label: count == 1 ? l.text("installments_one", language, ["amount": each])
                                   : l.text("installments_many", language, ["count": String(count), "amount": each]),
                               selected: count == typed.installments)
        } : []
        formAction = "/checkout/\(session.id)?locale=\(language.rawValue)"
        csrfToken = session.csrfToken
        payLabel = totals.dueToday == 0 ? l.text("start_button", language)
            : l.text(session.manualCapture ? "authorize_button" : "pay_button", language, ["amount": money(totals.dueToday)])
        cancelAction = "/checkout/\(session.id)/cancel"
        cancelLabel = l.text("cancel_link", language, ["merchant": state.merchantName])
        redirectOrigins = HostedPageKit.origins(session.successURL, session.cancelURL)
    }

    /// The values the `checkout` template reads.
    func context(_ localization: Localization) -> [String: Any] {
        var page = frame.context(localization)
        page.merge(form.context) { $1 }
        if let decline { page["decline"] = decline }
        if let product {
            page["product"] = HostedPageKit.present(["name": product.name, "description": product.description, "imageURL": product.imageURL,
                                                     "hasFeatures": !product.features.isEmpty,
                                                     "features": product.features.map { HostedPageKit.present(["title": $0.title, "subtitle": $0.subtitle]) }])
        }
        page["lines"] = lines.map { line in
            HostedPageKit.present(["name": line.name, "description": line.description, "imageURL": line.imageURL, "isDiscount": line.isDiscount,
                                   "quantityLabel": line.quantityLabel, "total": line.total])
        }
        page["hasLines"] = !lines.isEmpty
        page["subtotal"] = subtotal
        if let discounts { page["discounts"] = discounts }
        page["showVAT"] = showVAT
        page["vatLabel"] = vatLabel
        page["vat"] = vat
        page["dueToday"] = dueToday
        if let planLine { page["planLine"] = planLine }
        if let trialLine { page["trialLine"] = trialLine }
        page["manualCapture"] = manualCapture
        page["savedCards"] = savedCards.map { ["id": $0.id, "checked": $0.checked, "label": $0.label] as [String: Any] }
        page["hasSavedCards"] = !savedCards.isEmpty
        page["newCardChecked"] = newCardChecked
        if !installments.isEmpty {
            page["installments"] = installments.map { ["value": $0.count, "selected": $0.selected, "label": $0.label] as [String: Any] }
            page["hasInstallments"] = true
        }
        page["formAction"] = formAction
        page["csrfToken"] = csrfToken
        page["payLabel"] = payLabel
        page["cancelAction"] = cancelAction
        page["cancelLabel"] = cancelLabel
        return page
    }
}
