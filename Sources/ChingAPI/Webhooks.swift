import ChingDomain
import ChingHTTP
import ChingServices
import ChingStore
import Crypto
import Foundation
import HTTPTypes
import Hummingbird

/// `/webhooks`: where a merchant's server hears about events, and the queueing of deliveries.
struct WebhooksAPI: Sendable {
    let services: AppServices

    func addRoutes(to group: RouterGroup<AppRequestContext>, endpoint: EndpointWrapper) {
        group.post("webhooks", use: endpoint(create))
        group.get("webhooks", use: endpoint(list))
        group.delete("webhooks/:id", use: endpoint(delete))
    }

    /// POST /webhooks: the `whsec_` secret is returned here and never again.
    @Sendable func create(_ call: APICall) async throws -> APIResponse {
        var reader = call.reader(allowing: ["url", "events"])
        let url = reader.url("url", required: true, allowHTTP: !call.caller.livemode)
        var events: [String] = []
        if let list = reader.object["events"] {
            if case .array(let values) = list, !values.isEmpty, values.count <= 50 {
                for (index, value) in values.enumerated() {
                    guard let type = value.stringValue, type == "*" || Webhooks.eventTypes.contains(type) else {
                        reader.fail("events.\(index)", "Unknown event type; use one of API.md's event types, or \"*\".")
                        continue
                    }
                    events.append(type)
                }
            } else {
                reader.fail("events", "Must be a non-empty list of event types, or [\"*\"].")
            }
        } else {
            reader.fail("events", "This field is required.")
        }
        if let url, call.caller.livemode, WebAddress.isLoopback(url) {
            reader.fail("url", "Live endpoints cannot point at this machine's loopback address.")
        }
        try reader.throwIfInvalid()
        return APIResponse(try await Webhooks.createEndpoint(url: url!, events: events, caller: call.caller, services: services))
    }

    /// GET /webhooks (without secrets)
    @Sendable func list(_ call: APICall) async throws -> APIResponse {
        let endpoints = try await services.database.read { db in try await db.webhookEndpoints.active(caller: call.caller) }
        return APIResponse(.array(endpoints.map(Webhooks.endpointJSON)))
    }

    /// DELETE /webhooks/:id answers `{"success": true}`; pending deliveries to it stop.
    @Sendable func delete(_ call: APICall) async throws -> APIResponse {
        guard let id = Int64(call.id) else { throw ServiceError.notFound("webhook endpoint", call.id) }
        try await Webhooks.deleteEndpoint(id, caller: call.caller, services: services)
        return APIResponse(.null, bare: true)
    }

}

