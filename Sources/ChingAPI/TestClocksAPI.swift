import ChingDomain
import ChingHTTP
import ChingServices
import ChingStore
import Hummingbird

/// `/test_helpers/test_clocks`: test mode only (a live key gets `403 livemode_not_allowed`).
struct TestClocksAPI: Sendable {
    let services: AppServices

    func addRoutes(to group: RouterGroup<AppRequestContext>, endpoint: EndpointWrapper) {
        group.post("test_helpers/test_clocks", use: endpoint(testModeOnly(create)))
        group.get("test_helpers/test_clocks", use: endpoint(testModeOnly(list)))
        group.get("test_helpers/test_clocks/:id", use: endpoint(testModeOnly(retrieve)))
        group.delete("test_helpers/test_clocks/:id", use: endpoint(testModeOnly(delete)))
        group.post("test_helpers/test_clocks/:id/advance", use: endpoint(testModeOnly(advance)))
    }

    private func testModeOnly(_ handler: @escaping @Sendable (APICall) async throws -> APIResponse) -> @Sendable (APICall) async throws -> APIResponse {
        { call in
            guard !call.caller.livemode else {
                throw ServiceError.rule("livemode_not_allowed", "Test clocks exist only in test mode.", kind: .forbidden)
            }
            return try await handler(call)
        }
    }

    /// POST /test_helpers/test_clocks: `frozen_time` (ISO 8601 or seconds since 1970), `name`.
    @Sendable func create(_ call: APICall) async throws -> APIResponse {
        var reader = call.reader(allowing: ["frozen_time", "name"])
        let frozenTime = reader.timestamp("frozen_time", required: true)
        let name = reader.string("name", maxLength: 255)
        try reader.throwIfInvalid()
        return APIResponse(try await TestClocks.create(frozenTime: frozenTime!, name: name, caller: call.caller, services: services))
    }

    @Sendable func list(_ call: APICall) async throws -> APIResponse {
        try await ListPage.respond(call, services: services, { db, page in try await db.testClocks.list(caller: call.caller, page) },
                                   json: TestClocks.json)
    }

    @Sendable func retrieve(_ call: APICall) async throws -> APIResponse {
        let clock = try await services.database.read { db in try await TestClocks.existing(call.id, caller: call.caller, on: db) }
        return APIResponse(TestClocks.json(clock))
    }

    /// DELETE /test_helpers/test_clocks/:id: cancels the clock's subscriptions.
    @Sendable func delete(_ call: APICall) async throws -> APIResponse {
        APIResponse(try await TestClocks.delete(call.id, caller: call.caller, services: services))
    }

    /// POST /test_helpers/test_clocks/:id/advance: `frozen_time`, later than the clock's; answers `advancing` at once.
    @Sendable func advance(_ call: APICall) async throws -> APIResponse {
        var reader = call.reader(allowing: ["frozen_time"])
        let frozenTime = reader.timestamp("frozen_time", required: true)
        try reader.throwIfInvalid()
        return APIResponse(try await TestClocks.advance(call.id, to: frozenTime!, caller: call.caller, services: services))
    }
}
