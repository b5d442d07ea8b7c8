import ChingDomain
import ChingHTTP
import ChingServices
import ChingStore

/// The list rule every collection follows: newest first, `limit` 1 to 100 (default 100),
/// `starting_after=<id>` to page, and `has_more`. Rows of charges, refunds and subscriptions add
/// their customer's name (`customer_name`).
enum ListPage {
    /// Reads `limit` and `starting_after` from the query, then the page `read` returns; a
    /// `starting_after` that names no row of the list in the caller's scope is a 400.
    static func respond<Item: Sendable>(_ call: APICall, services: AppServices,
                                        _ read: @escaping @Sendable (Store, PageRequest) async throws -> Page<Item>,
                                        json: (Item) throws -> JSONValue) async throws -> APIResponse {
        var limit: Int64 = 100
        if let raw = call.query["limit"] {
            guard let value = Int64(raw), (1...100).contains(value) else { throw ServiceError.invalid("limit", "Must be an integer between 1 and 100.") }
            limit = value
        }
        let request = PageRequest(limit: limit, startingAfter: call.query["starting_after"])
        let page: Page<Item>
        do {
            page = try await services.database.read { db in try await read(db, request) }
        } catch let unknown as UnknownPageCursor {
            throw ServiceError.invalid("starting_after", "No such object in this list: \(unknown.id).")
        }
        return APIResponse(.array(try page.items.map(json)), extra: ["has_more": .bool(page.hasMore)])
    }

    /// An object as a list row shows it: with `customer_name` added.
    static func withCustomerName(_ object: JSONValue, _ name: String?) -> JSONValue {
        var object = object.objectValue ?? JSONObject()
        object["customer_name"] = .optional(name)
        return .object(object)
    }
}
