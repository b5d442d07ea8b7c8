import ChingDomain
import ChingHTTP
import ChingServices
import ChingStore

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
    let typed: TypedForm
    let errors: [String: CheckoutPayment.FieldError]
    let requireIsraeliID: Bool
    /// Live mode with Grow: no card fields, the payer's details instead (prefilled from the customer).
    var payer: LivePayments.Payer? = nil

    /// The fields in the order they appear, with the anchor each error links to.
    static let order: [(field: String, anchor: String)] = [("payment_method", "payment_method"), ("payer_name", "payer_name"),
                                                           ("payer_phone", "payer_phone"), ("name", "name"), ("number", "number"),
                                                           ("expiry", "exp"), ("cvc", "cvc"), ("israeli_id", "israeli_id"), ("installments", "installments")]

    func context(_ language: Language, _ localization: Localization) -> [String: Any] {
        var fieldErrors: [String: String] = [:]
        for (field, error) in errors { fieldErrors[field] = localization.text("error_\(error.rawValue)", language) }
        return [
            "fieldErrors": fieldErrors,
            "errors": Self.order.compactMap { item in fieldErrors[item.field].map { ["field": item.anchor, "message": $0] } },
            "hasErrors": !errors.isEmpty,
            "form": ["name": typed.name, "exp": typed.exp, "israeliID": typed.israeliID],
            "askIsraeliID": requireIsraeliID && payer == nil,
            "requireIsraeliID": requireIsraeliID,
            "providerPage": payer != nil,
            "payer": ["name": typed.payerName ?? payer?.name ?? "", "phone": typed.payerPhone ?? payer?.phone ?? ""],
        ]
    }
}

/// Everything the checkout page shows, as typed values (amounts in agorot, the billing day, the
/// cards), formatted into the customer's language only when rendered. The template sees only
/// `context`, built from these fields, and the page cache compares whole models: nothing shown
/// can be left out of the cache's key, and comparing is cheap.
struct CheckoutPageModel: Equatable, Sendable {
    struct Product: Equatable, Sendable {
        let name: String, description: String?, imageURL: String?
        let features: [Feature]
    }
    struct Feature: Equatable, Sendable { let title: String, subtitle: String? }
    struct SavedCard: Equatable, Sendable { let id: String, brand: CardBrand, last4: String, expMonth: Int64, expYear: Int64 }
    /// The totals as shown: the plan's first billing only by its day (its time moves with the clock).
    struct Totals: Equatable, Sendable {
        let subtotal: Int64, discounts: Int64, dueToday: Int64, vat: Int64, vatIncluded: Bool, recurringAmount: Int64?
        let firstBillingDay: CivilDate?
    }

    let frame: PageFrame
    let form: CardFormModel
    let decline: String?
    let sessionID: String
    let csrfToken: String
    let merchantName: String
    let product: Product?
    let lines: [CartLine]
    let totals: Totals
    let plan: Plan?
    /// The plan the customer changes from, and whether the change waits for the period end.
    struct PlanChangeShown: Equatable, Sendable { let from: String, atPeriodEnd: Bool }
    let planChange: PlanChangeShown?
    let showVAT: Bool
    let manualCapture: Bool
    let savedCards: [SavedCard]
    let maxInstallments: Int64
    /// The merchant's success and cancel URLs: the form's redirect may go to their origins (CSP `form-action`).
    let successURL: String
    let cancelURL: String

    init(_ state: CheckoutView, language: Language, typed: TypedForm, errors: [String: CheckoutPayment.FieldError], decline: String?,
         localization l: Localization) {
        let session = state.session, totals = state.offer.totals
        let switchTo: Language = language == .he ? .en : .he
        frame = PageFrame(language: language, title: l.text("title_checkout", language), merchantName: state.merchantName,
                          testMode: !session.caller.livemode, switchURL: "/checkout/\(session.id)?locale=\(switchTo.rawValue)", brand: state.brand)
        form = CardFormModel(typed: typed, errors: errors, requireIsraeliID: state.limits.requireIsraeliID, payer: state.payer)
        providerOrigin = state.providerOrigin
        self.decline = decline
        sessionID = session.id
        csrfToken = session.csrfToken
        merchantName = state.merchantName
        product = state.offer.product.map { product in
            Product(name: product.name, description: product.description, imageURL: product.imageURL,
                    features: product.features.map { Feature(title: $0.title, subtitle: $0.subtitle) })
        }
        lines = session.lines
        self.totals = Totals(subtotal: totals.subtotal, discounts: totals.discounts, dueToday: totals.dueToday, vat: totals.vat,
                             vatIncluded: totals.vatIncluded, recurringAmount: totals.recurringAmount, firstBillingDay: totals.firstBillingAt?.date)
        plan = state.offer.plan
        planChange = state.offer.planSwitch.map { PlanChangeShown(from: $0.fromProductName, atPeriodEnd: $0.kind == .downgrade) }
        showVAT = state.brand?.brand.showVATLine ?? true
        manualCapture = session.manualCapture
        savedCards = state.savedCards.map { SavedCard(id: $0.id, brand: $0.brand, last4: $0.last4, expMonth: $0.expMonth, expYear: $0.expYear) }
        maxInstallments = state.limits.maxInstallments
        successURL = session.successURL
        cancelURL = session.cancelURL
    }

    /// Grow's page, in live mode: the pay form is answered with a redirect there.
    let providerOrigin: String?
    var redirectOrigins: [String] { HostedPageKit.origins(successURL, cancelURL) + (providerOrigin.map { [$0] } ?? []) }

    /// The values the `checkout` template reads, in the page's language.
    func context(_ l: Localization) -> [String: Any] {
        let language = frame.language
        let money = { (agorot: Int64) in l.money(agorot, language) }
        var page = frame.context(l)
        page.merge(form.context(language, l)) { $1 }
        if let decline { page["decline"] = decline }
        if let product {
            page["product"] = HostedPageKit.present(["name": product.name, "description": product.description, "imageURL": product.imageURL,
                                                     "hasFeatures": !product.features.isEmpty,
                                                     "features": product.features.map { HostedPageKit.present(["title": $0.title, "subtitle": $0.subtitle]) }])
        }
        page["lines"] = lines.map { line in
            HostedPageKit.present(["name": line.name, "description": line.description, "imageURL": line.imageURL, "isDiscount": line.isDiscount,
                                   "quantityLabel": l.text("quantity_times", language, ["quantity": String(line.quantity), "amount": money(line.unitAmount)]),
                                   // Every line's total was checked when the session was created.
                                   "total": (try? line.total()).map(money)])
        }
        page["hasLines"] = !lines.isEmpty
        page["subtotal"] = money(totals.subtotal)
        if totals.discounts < 0 { page["discounts"] = money(totals.discounts) }
        page["showVAT"] = showVAT
        page["vatLabel"] = l.text(totals.vatIncluded ? "vat_included" : "vat_added", language, ["rate": VAT.percentLabel])
        page["vat"] = money(totals.vat)
        page["dueToday"] = money(totals.dueToday)
        if let planChange, let product {
            page["planChangeLine"] = l.text("plan_change", language, ["from": planChange.from, "to": product.name])
            if planChange.atPeriodEnd, let day = totals.firstBillingDay {
                page["planChangeNote"] = l.text("plan_change_later", language, ["date": l.date(day, language)])
            }
        }
        if let plan, let recurring = totals.recurringAmount, let day = totals.firstBillingDay {
            page["planLine"] = l.text("plan_then", language, ["amount": money(recurring), "interval": l.interval(plan.interval, count: plan.intervalCount, language),
                                                              "date": l.date(day, language)])
            if plan.hasTrial, planChange == nil { page["trialLine"] = l.text("plan_trial", language, ["days": String(plan.trialDays)]) }
        }
        page["manualCapture"] = manualCapture
        let chosen = form.typed.paymentMethod ?? savedCards.first?.id ?? "new"
        page["savedCards"] = savedCards.map { card -> [String: Any] in
            ["id": card.id, "checked": chosen == card.id,
             "label": l.text("saved_card", language, ["brand": card.brand.displayName, "last4": card.last4,
                                                      "month": (card.expMonth < 10 ? "0" : "") + String(card.expMonth), "year": String(card.expYear % 100)])]
        }
        page["hasSavedCards"] = !savedCards.isEmpty
        page["newCardChecked"] = chosen == "new" || !savedCards.contains { $0.id == chosen }
        if maxInstallments > 1 {
            page["installments"] = (1...maxInstallments).map { count -> [String: Any] in
                let each = money(Installments.split(totals.dueToday, count: count).each)
                return ["value": count, "selected": count == form.typed.installments,
                        "label": count == 1 ? l.text("installments_one", language, ["amount": each])
                            : l.text("installments_many", language, ["count": String(count), "amount": each])]
            }
            page["hasInstallments"] = true
        }
        page["formAction"] = "/checkout/\(sessionID)?locale=\(language.rawValue)"
        page["csrfToken"] = csrfToken
        page["payLabel"] = totals.dueToday == 0 ? l.text("start_button", language)
            : l.text(manualCapture ? "authorize_button" : "pay_button", language, ["amount": money(totals.dueToday)])
        page["cancelAction"] = "/checkout/\(sessionID)/cancel"
        page["cancelLabel"] = l.text("cancel_link", language, ["merchant": merchantName])
        return page
    }
}
