import ChingDomain
import ChingServices
import ChingStore

/// The billing portal's view model: every string from the locale files, every action a form.
struct PortalPageModel {
    let portal: PortalPages.Portal
    let publicURL: String
    let localization: Localization

    /// The banners an action can leave, and whether each reports a refusal.
    static let notices: [String: Bool] = [
        "canceled_now": false, "cancels_at_period_end": false, "resumed": false, "default_changed": false, "card_removed": false,
        "card_added": false, "plan_paid": false,
        "card_not_added": true, "plan_still_unpaid": true, "card_needed": true, "busy": true, "plan_changed": true, "not_found": true, "failed": true,
    ]

    /// The banner for a refusal of one of the portal's actions.
    static func refusalNotice(_ refusal: ServiceError) -> String {
        switch refusal.code {
        case "card_needed_for_plan": "card_needed"
        case "subscription_renewing", "subscription_changed_meanwhile": "busy"
        case "subscription_not_cancelable", "subscription_not_canceling", "subscription_not_past_due", "payment_method_inactive": "plan_changed"
        default: refusal.kind == .notFound ? "not_found" : "failed"
        }
    }

    private var locale: Language { portal.locale }
    private func t(_ key: String, _ values: [String: String] = [:]) -> String { localization.text(key, locale, values) }
    private func money(_ agorot: Int64) -> String { localization.money(agorot, locale) }
    private func date(_ time: Timestamp) -> String { localization.date(time, locale) }

    func context(notice: String?) -> [String: Any] {
        let view = portal.view
        var context: [String: Any] = [
            "customerName": view.customer.name,
            "plans": view.plans.map(planContext),
            "cards": view.cards.map(cardContext),
            "documents": view.documents.map(documentContext),
            "hasCards": !view.cards.isEmpty,
            "hasDocuments": !view.documents.isEmpty,
            "csrfToken": view.session.csrfToken,
            "newCardAction": portal.path("/cards/new"),
        ]
        if let email = view.customer.email { context["customerEmail"] = email }
        if let notice, let isError = Self.notices[notice] {
            context["notice"] = t("portal_notice_\(notice)")
            context["noticeRole"] = isError ? "alert" : "status"
            if isError { context["noticeError"] = true }
        }
        if let back = view.session.returnURL {
            context["returnURL"] = back
            context["returnLabel"] = t("portal_back", ["merchant": portal.merchantName])
        }
        return context
    }

    func planContext(_ plan: BillingPortal.Plan) -> [String: Any] {
        let subscription = plan.subscription
        var status = t("portal_status_\(subscription.status.rawValue)")
        var next: String?
        if subscription.cancelAtPeriodEnd {
            let end = subscription.currentPeriodEnd.map(date) ?? ""
            status = t("portal_status_canceling", ["date": end])
            next = t("portal_access_until", ["date": end])
        } else {
            switch subscription.status {
            case .trialing:
                status = t("portal_status_trialing", ["date": subscription.trialEnd.map(date) ?? ""])
                next = nextPayment(plan)
            case .active:
                next = nextPayment(plan)
            case .pastDue:
                next = subscription.nextRetryAt.map { t("portal_next_retry", ["date": date($0)]) }
            case .canceled, .incomplete, .incompleteExpired:
                break
            }
        }
        let values: [String: Any?] = [
            "id": subscription.id,
            "name": plan.productName,
            "priceLine": plan.price?.plan.flatMap { price in
                plan.periodAmount.map { t("portal_price_line", ["amount": money($0), "interval": localization.interval(price.interval, count: price.intervalCount, locale)]) }
            },
            "status": status,
            "nextLine": next,
            "changeLine": subscription.pendingEffectiveAt.map { t("portal_change_pending", ["date": date($0)]) },
            "failedLine": plan.failedCharge.map { charge in
                t("portal_failed_payment", ["amount": money(charge.amount), "date": date(charge.created),
                                            "reason": localization.declineText(charge.failureCode, locale)])
            },
            "payAction": subscription.status == .pastDue ? portal.path("/subscriptions/\(subscription.id)/pay") : nil,
            "resumeAction": subscription.cancelAtPeriodEnd ? portal.path("/subscriptions/\(subscription.id)/resume") : nil,
            "cancelURL": subscription.cancelAtPeriodEnd ? nil : portal.path("/subscriptions/\(subscription.id)/cancel"),
        ]
        return HostedPageKit.present(values)
    }

    /// "Next payment: ₪49.00 on 24 December 2026"
    private func nextPayment(_ plan: BillingPortal.Plan) -> String? {
        guard let amount = plan.periodAmount, let end = plan.subscription.currentPeriodEnd else { return nil }
        return t("portal_next_payment", ["amount": money(amount), "date": date(end)])
    }

    func cardContext(_ card: PaymentMethod) -> [String: Any] {
        let label = t("saved_card", ["brand": (CardBrand(rawValue: card.brand) ?? .unknown).displayName, "last4": card.last4,
                                     "month": card.expMonth < 10 ? "0\(card.expMonth)" : String(card.expMonth), "year": String(card.expYear)])
        return HostedPageKit.present([
            "id": card.id,
            "label": label,
            "isDefault": card.isDefault ? true : nil,
            "defaultAction": card.isDefault ? nil : portal.path("/cards/\(card.id)/default"),
            "removeAction": portal.path("/cards/\(card.id)/remove"),
            "removeLabel": t("portal_remove_card", ["card": label]),
            "defaultLabel": t("portal_make_default", ["card": label]),
        ])
    }

    func documentContext(_ document: Document) -> [String: Any] {
        [
            "label": t("portal_document", ["type": t("portal_doc_\(document.kind.rawValue)"), "number": String(document.number)]),
            "date": date(document.issuedAt),
            "amount": money(document.kind == .creditNote ? -document.amount : document.amount),
            "pdfURL": "\(publicURL)/documents/\(document.id).pdf?key=\(document.accessKey)",
        ]
    }

    /// The confirmation step of a cancel: at the period end (while a period runs) or now.
    func cancelContext(_ plan: BillingPortal.Plan) -> [String: Any] {
        let subscription = plan.subscription
        let action = portal.path("/subscriptions/\(subscription.id)/cancel")
        var context: [String: Any] = [
            "heading": t("portal_cancel_title", ["plan": plan.productName]),
            "action": action,
            "csrfToken": portal.session.csrfToken,
            "nowBody": t(subscription.status == .trialing ? "portal_cancel_now_trial_body" : "portal_cancel_now_body"),
            "keepURL": portal.path(),
        ]
        // A past-due plan's period end is the unpaid renewal's date: only a paid-up plan has a period to finish.
        if SubscriptionStatus.paidUp.contains(subscription.status), let end = subscription.currentPeriodEnd {
            context["atPeriodEndBody"] = t("portal_cancel_at_end_body", ["date": date(end)])
        }
        return context
    }
}
