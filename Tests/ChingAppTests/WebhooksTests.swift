import ChingApp
import ChingDomain
import ChingStore
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Synchronization
import Testing

/// A merchant's webhook endpoint on a loopback port: records what arrives, answers with the
/// statuses it is told (200 once the list runs out).
final class WebhookReceiver: Sendable {
    struct Received: Sendable {
        let body: [UInt8]
        let signature: String?
        let contentType: String?
        var json: JSONValue { (try? JSONValue.parse(body)) ?? .null }
    }

    private let state = Mutex<(received: [Received], statuses: [Int])>(([], []))
    var received: [Received] { state.withLock { $0.received } }
    func answer(_ statuses: [Int]) { state.withLock { $0.statuses = statuses } }

    func run<T: Sendable>(_ body: @Sendable (_ url: String) async throws -> T) async throws -> T {
        let router = Router()
        router.post("hook") { [self] request, _ -> Response in
            let bytes = try await request.body.collect(upTo: 1 << 20)
            let status = state.withLock { state -> Int in
                state.received.append(Received(body: Array(bytes.readableBytesView), signature: request.headers[HTTPField.Name("Ching-Signature")!],
                                               contentType: request.headers[.contentType]))
                return state.statuses.isEmpty ? 200 : state.statuses.removeFirst()
            }
            var headers: HTTPFields = [:]
            if status == 302 { headers[.location] = "http://127.0.0.1:1/elsewhere" }
            return Response(status: .init(code: status), headers: headers)
        }
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        // The receiver is stopped by cancelling its task, which Hummingbird logs as an error
        // ("Waiting on child channel: CancellationError"): only critical messages are wanted here.
        var logger = Logger(label: "receiver")
        logger.logLevel = .critical
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) }, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService(gracefulShutdownSignals: []) }
            let port = await ports.first { _ in true } ?? 0
            defer { group.cancelAll() }
            return try await body("http://127.0.0.1:\(port)/hook")
        }
    }
}

extension TestApp {
    /// Runs `body` with the app and an in-process webhook receiver at `url`, which answers
    /// `answers` first and 200 after.
    func runWithReceiver(answering answers: [Int] = [], _ body: @Sendable (API, WebhookReceiver, _ url: String) async throws -> Void) async throws {
        let receiver = WebhookReceiver()
        receiver.answer(answers)
        try await receiver.run { url in try await run { api in try await body(api, receiver, url) } }
    }

    @discardableResult
    func deliver(_ projectID: String, stopAfterClaim: Bool = false) async throws -> Int {
        try await deliverWebhooks(configuration, projectID: projectID, stopAfterClaim: stopAfterClaim)
    }
}

@Suite("Webhooks")
struct WebhooksTests {
    /// The signature computed here with a plain HMAC, not the product's function.
    static func expectedSignature(_ body: [UInt8], secret: String) -> String {
        HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.utf8))).map { String(format: "%02x", $0) }.joined()
    }

    @Test("An endpoint is created with its secret once, listed without it, and deleted")
    func endpoints() async throws {
        let app = TestApp()
        try await app.run { api in
            let created = try await api.post("/webhooks", ["url": "https://shop.example.com/hooks", "events": ["charge.succeeded", "refund.created"]])
            #expect(created.status == 200, "\(created.text)")
            let id = try #require(created.data["id"]?.intValue)
            let secret = try #require(created.data["secret"]?.stringValue)
            #expect(secret.hasPrefix("whsec_") && secret.count == 70 && secret.dropFirst(6).allSatisfy { $0.isHexDigit && !$0.isUppercase })
            #expect(created.data["events"] == ["charge.succeeded", "refund.created"])
            let list = try await api.get("/webhooks")
            #expect(list.data.arrayValue?.count == 1)
            #expect(!list.text.contains("whsec_"))
            let other = api.with(key: try await app.createProject(name: "Other").testKey)
            #expect(try await other.request(.delete, "/webhooks/\(id)").status == 404)
            let deleted = try await api.request(.delete, "/webhooks/\(id)")
            #expect(deleted.status == 200)
            #expect(deleted.text == #"{"success":true}"#)
            #expect(try await api.request(.delete, "/webhooks/\(id)").status == 404)
            #expect(try await api.get("/webhooks").data == [])
        }
    }

    @Test("Invalid endpoints are refused at their field", arguments: [
        (JSONValue.object(["events": ["*"]]), "url"),
        (["url": "ftp://shop.example.com", "events": ["*"]], "url"),
        (["url": "https://shop.example.com/hooks"], "events"),
        (["url": "https://shop.example.com/hooks", "events": []], "events"),
        (["url": "https://shop.example.com/hooks", "events": ["charge.exploded"]], "events.0"),
        (["url": "https://shop.example.com/hooks", "events": "*"], "events"),
    ] as [(JSONValue, String)])
    func invalid(body: JSONValue, path: String) async throws {
        try await TestApp().run { api in
            let result = try await api.post("/webhooks", body)
            #expect(result.errorCode == "INVALID_FIELD")
            #expect(result.issuePaths == [path])
        }
    }

    @Test("Live endpoints must be https and may not point at this machine; test ones may")
    func liveRules() async throws {
        let app = TestApp()
        try await app.run { api in
            let liveKey = try await app.withDatabase { database in
                try await Projects.configureLiveProvider("sandbox", projectID: api.projectID, database: database)
                return try await Projects.createLiveKey(projectID: api.projectID, database: database, ids: .random, clock: app.clock.clock)
            }
            let live = api.with(key: liveKey)
            #expect(try await live.post("/webhooks", ["url": "http://shop.example.com/hooks", "events": ["*"]]).issuePaths == ["url"])
            #expect(try await live.post("/webhooks", ["url": "https://127.0.0.1/hooks", "events": ["*"]]).issuePaths == ["url"])
            #expect(try await live.post("/webhooks", ["url": "https://localhost:8443/hooks", "events": ["*"]]).issuePaths == ["url"])
            #expect(try await live.post("/webhooks", ["url": "https://shop.example.com/hooks", "events": ["*"]]).status == 200)
            #expect(try await api.post("/webhooks", ["url": "http://127.0.0.1:9999/hooks", "events": ["*"]]).status == 200)
        }
    }

    @Test("A delivery is signed, carries the event as GET returns it, is retried after a 500, and succeeds with the same event id")
    func deliveryAndRetry() async throws {
        let app = TestApp()
        try await app.runWithReceiver(answering: [500]) { api, receiver, url in
            let endpoint = try await api.post("/webhooks", ["url": .string(url), "events": ["customer.created"]])
            let secret = endpoint.data["secret"]?.stringValue ?? ""
            _ = try await api.customer()
            let eventID = try #require(try await api.get("/events?type=customer.created").data[0]?["id"]?.stringValue)
            #expect(try await app.deliver(api.projectID) == 1)
            #expect(receiver.received.count == 1)
            var event = try await api.get("/events/\(eventID)").data
            let delivery = try #require(event["delivery_attempts"]?[0])
            #expect(delivery["status"] == "pending")
            #expect(delivery["attempts"]?[0]?["status_code"] == 500)
            #expect(try await app.deliver(api.projectID) == 0, "the retry waits for its backoff")
            app.clock.advance(seconds: 6)
            #expect(try await app.deliver(api.projectID) == 1)
            #expect(receiver.received.count == 2)
            event = try await api.get("/events/\(eventID)").data
            #expect(event["delivery_attempts"]?[0]?["status"] == "delivered")
            #expect(event["delivery_attempts"]?[0]?["attempts"]?.arrayValue?.count == 2)
            for request in receiver.received {
                #expect(request.signature == Self.expectedSignature(request.body, secret: secret))
                #expect(request.contentType == "application/json")
                #expect(request.json["id"] == .string(eventID))
                #expect(request.json["type"] == "customer.created")
                #expect(request.json["data"] == event["data"])
            }
            #expect(receiver.received[0].body == receiver.received[1].body)
            app.clock.advance(seconds: 86_400)
            #expect(try await app.deliver(api.projectID) == 0, "a delivered event is not sent again")
        }
    }

    @Test("Endpoints get only the event types they listen for")
    func filtering() async throws {
        let app = TestApp()
        try await app.runWithReceiver { api, receiver, url in
            try await api.post("/webhooks", ["url": .string(url), "events": ["charge.succeeded"]])
            _ = try await api.paidCharge()
            try await app.deliver(api.projectID)
            #expect(receiver.received.map { $0.json["type"] } == ["charge.succeeded"])
        }
    }

    @Test("A worker that dies between claim and send leaves the event to be delivered once its lease runs out")
    func crashBetweenClaimAndSend() async throws {
        let app = TestApp()
        try await app.runWithReceiver { api, receiver, url in
            try await api.post("/webhooks", ["url": .string(url), "events": ["*"]])
            _ = try await api.customer()
            #expect(try await app.deliver(api.projectID, stopAfterClaim: true) == 0)
            #expect(receiver.received.isEmpty)
            #expect(try await app.deliver(api.projectID) == 0, "the lease still holds")
            app.clock.advance(seconds: 61)
            #expect(try await app.deliver(api.projectID) == 1)
            #expect(receiver.received.count == 1)
        }
    }

    @Test("A redirect is not followed and counts as a failure; a refused connection is recorded and retried; after 3 days it fails")
    func failures() async throws {
        let app = TestApp()
        try await app.runWithReceiver(answering: [302]) { api, receiver, url in
            try await api.post("/webhooks", ["url": .string(url), "events": ["customer.created"]])
            try await api.post("/webhooks", ["url": "http://127.0.0.1:1/closed", "events": ["customer.created"]])
            _ = try await api.customer()
            #expect(try await app.deliver(api.projectID) == 2)
            #expect(receiver.received.count == 1)
            let eventID = try await api.get("/events").data[0]?["id"]?.stringValue ?? ""
            let deliveries = try await api.get("/events/\(eventID)").data["delivery_attempts"]?.arrayValue ?? []
            #expect(deliveries.count == 2)
            #expect(deliveries[0]["attempts"]?[0]?["status_code"] == 302)
            #expect(deliveries[1]["attempts"]?[0]?["status_code"] == .null)
            #expect(deliveries[1]["attempts"]?[0]?["error"]?.stringValue?.isEmpty == false)
            #expect(deliveries.allSatisfy { $0["status"] == "pending" })
            app.clock.advance(seconds: 3 * 86_400)
            receiver.answer([500])
            #expect(try await app.deliver(api.projectID) == 2)
            let final = try await api.get("/events/\(eventID)").data["delivery_attempts"]?.arrayValue ?? []
            #expect(final.allSatisfy { $0["status"] == "failed" })
        }
    }

    @Test("Resend queues a new delivery of the same event")
    func resend() async throws {
        let app = TestApp()
        try await app.runWithReceiver { api, receiver, url in
            try await api.post("/webhooks", ["url": .string(url), "events": ["*"]])
            _ = try await api.customer()
            try await app.deliver(api.projectID)
            let eventID = try await api.get("/events").data[0]?["id"]?.stringValue ?? ""
            let resent = try await api.post("/events/\(eventID)/resend")
            #expect(resent.data["delivery_attempts"]?.arrayValue?.count == 2)
            try await app.deliver(api.projectID)
            #expect(receiver.received.count == 2)
            #expect(receiver.received.allSatisfy { $0.json["id"] == .string(eventID) })
            #expect(try await api.post("/events/evt_nothere12345/resend").status == 404)
        }
    }

    @Test("Two workers deliver 200 events between them, each exactly once")
    func twoWorkers() async throws {
        let app = TestApp()
        try await app.runWithReceiver { api, receiver, url in
            try await api.post("/webhooks", ["url": .string(url), "events": ["customer.created"]])
            for index in 0..<200 { _ = try await api.post("/customers", ["name": .string("Customer \(index)")]) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<2 {
                    group.addTask {
                        var idleRounds = 0
                        while idleRounds < 2 {
                            idleRounds = try await app.deliver(api.projectID) == 0 ? idleRounds + 1 : 0
                        }
                    }
                }
                try await group.waitForAll()
            }
            let ids = receiver.received.compactMap { $0.json["id"]?.stringValue }
            #expect(ids.count == 200)
            #expect(Set(ids).count == 200)
        }
    }
}
