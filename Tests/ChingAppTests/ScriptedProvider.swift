import ChingDomain
import ChingProviders
import Synchronization

/// A card provider for tests: it saves every card, answers charges from a script (approve when the
/// script is empty), and records every call, so a test can say how often money was asked for.
final class ScriptedProvider: CardFormProvider {
    let name = "scripted"
    enum Call: Equatable { case saveCard(last4: String), charge(token: String, amount: Int64), capture(String), void(String), refund(String, Int64) }

    /// The idempotency keys charges were asked with, in order (nil for unkeyed ones).
    var chargeKeys: [String?] { state.withLock { $0.keys } }

    private let state = Mutex((script: [ProviderResult](), calls: [Call](), next: 0, keys: [String?]()))
    /// Runs inside the next charge, before it answers (what happens elsewhere while the provider works).
    private let duringCharge = Mutex<(@Sendable () async throws -> Void)?>(nil)

    func whileCharging(_ work: @escaping @Sendable () async throws -> Void) { duringCharge.withLock { $0 = work } }

    /// Queues the answers of the next charges, in order.
    func script(_ results: ProviderResult...) { state.withLock { $0.script += results } }
    var calls: [Call] { state.withLock { $0.calls } }
    var charges: [Call] { calls.filter { if case .charge = $0 { true } else { false } } }

    private func record(_ call: Call) -> Int {
        state.withLock { state in
            state.calls.append(call)
            state.next += 1
            return state.next
        }
    }

    func saveCard(_ card: CardInput) async -> Result<ProviderCard, Decline> {
        let n = record(.saveCard(last4: card.last4))
        return .success(ProviderCard(token: "scr_tok_\(n)", brand: card.brand, last4: card.last4, expMonth: card.expMonth, expYear: card.expYear,
                                     issuerCountry: "IL", supportsInstallments: true, supportsRecurring: true))
    }

    func requiresAuthentication(_ card: ProviderCard) -> Bool { false }

    func charge(token: String, amount: Int64, installments: Int, capture: Bool, idempotencyKey: String?) async -> ProviderResult {
        let n = record(.charge(token: token, amount: amount))
        state.withLock { $0.keys.append(idempotencyKey) }
        if let work = duringCharge.withLock({ work in defer { work = nil }; return work }) { try? await work() }
        return state.withLock { $0.script.isEmpty ? nil : $0.script.removeFirst() } ?? .approved(reference: "scr_txn_\(n)")
    }

    func capture(reference: String, amount: Int64) async -> ProviderResult { _ = record(.capture(reference)); return .approved(reference: reference) }
    func void(reference: String) async -> ProviderResult { _ = record(.void(reference)); return .approved(reference: reference) }
    func refund(reference: String, amount: Int64) async -> ProviderResult {
        let n = record(.refund(reference, amount))
        return .approved(reference: "scr_rfd_\(n)")
    }
}
