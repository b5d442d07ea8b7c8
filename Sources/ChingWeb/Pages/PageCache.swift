import ChingHTTP
import ChingServices
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// Rendered pages, kept while nothing they show has changed. PAGES.md keeps the pages free of
/// per-response nonces for exactly this: a pending session's page is the same bytes for every
/// visit until the session, its cards, its totals or the brand change, and rendering it (Mustache
/// lookups, escaping) is most of the cost of a page view. Each entry keeps the view model it was
/// rendered from; a different model is a miss. At most `capacity` pages are kept (about 7 KB
/// each); when full, the oldest half is dropped.
final class PageCache<Model: Equatable & Sendable>: Sendable {
    struct Entry: Sendable {
        let model: Model
        let headers: HTTPFields
        let body: ByteBuffer
        let order: Int
    }

    let capacity: Int
    private let state = Mutex<(entries: [String: Entry], counter: Int)>(([:], 0))

    init(capacity: Int = 2_000) { self.capacity = capacity }

    func response(for key: String, model: Model) -> Response? {
        guard let entry = state.withLock({ $0.entries[key] }), entry.model == model else { return nil }
        return Response(status: .ok, headers: entry.headers, body: .init(byteBuffer: entry.body))
    }

    func store(_ key: String, model: Model, headers: HTTPFields, body: ByteBuffer) {
        state.withLock { state in
            if state.entries.count >= capacity {
                let cutoff = state.counter - capacity / 2
                state.entries = state.entries.filter { $0.value.order > cutoff }
            }
            state.counter += 1
            state.entries[key] = Entry(model: model, headers: headers, body: body, order: state.counter)
        }
    }
}
