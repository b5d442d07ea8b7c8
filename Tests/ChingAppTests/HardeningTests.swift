import ChingApp
import ChingDomain
import ChingStore
import Configuration
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOPosix
import SQLKit
import Synchronization
import Testing

/// What a hostile tester found (issue 12), each as the customer, merchant or operator would see it.
@Suite("Hardening")
struct HardeningTests {
    static let cart: JSONValue = [["name": "Coffee beans", "amount_agorot": 4500]]

    // MARK: - Connections

    @Test("Past the connection cap, idle connections are evicted and /healthz still answers at once")
    func idleConnectionsAreEvictedAtTheCap() async throws {
        try await TestApp().runLive(limits: ConnectionLimits(maxConnections: 8, idleTimeout: .seconds(60), headerTimeout: .seconds(60),
                                                             evictableAfter: .zero)) { port, _ in
            // Twenty connections that never send a byte: more than the cap.
            var idle: [RawConnection] = []
            for _ in 0..<20 { idle.append(try await RawConnection.open(port: port)) }
            let health = try await RawConnection.open(port: port)
            let answer = try await health.exchange("GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
            #expect(answer.hasPrefix("HTTP/1.1 200 OK"), "\(answer)")
            #expect(answer.contains(#"{"status":"ok""#))
            // The server keeps at most 8 open: at least 13 of the idle ones were closed (the newest 7 may stay).
            let closed = try await withThrowingTaskGroup(of: Bool.self) { group in
                for connection in idle { group.addTask { try await connection.waitForClose(within: .seconds(2)) != nil } }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(closed >= 13)
        }
    }

    @Test("When every connection is busy, a new one is refused with 503 and Retry-After, and the busy ones are still answered")
    func busyConnectionsAreNotStarved() async throws {
        // Nothing is evictable here. The test framework's own client holds one of the five places;
        // a request through it makes sure it does.
        try await TestApp().runLive(limits: ConnectionLimits(maxConnections: 5, bodyTimeout: .seconds(60), evictableAfter: .seconds(3600))) { port, client in
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
            // Four connections, each answered once (so the server has surely counted it), then sending
            // a request whose body is still arriving, fill the cap.
            var busy: [RawConnection] = []
            for _ in 0..<4 {
                let connection = try await RawConnection.open(port: port)
                let first = try await connection.exchangeKeepingOpen("GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
                #expect(first.hasPrefix("HTTP/1.1 200 OK"), "\(first)")
                try await connection.send("POST /v1/checkout_sessions/co_000000000000000000000000/confirm HTTP/1.1\r\nHost: test\r\n"
                                          + "Content-Type: application/json\r\nConnection: close\r\nContent-Length: 20\r\n\r\n{\"card\":")
                busy.append(connection)
            }
            // Refused as soon as it is accepted, before it could send anything.
            let refusal = try await RawConnection.open(port: port).waitForClose(within: .seconds(10)) ?? "still open"
            #expect(refusal.hasPrefix("HTTP/1.1 503"), "\(refusal)")
            #expect(refusal.contains("Retry-After: 1"))
            // The first busy request finishes its body and gets its answer (400: a null card is no card).
            try await busy[0].send(" null}      ")
            let answer = try await busy[0].waitForClose(within: .seconds(10)) ?? "still open"
            #expect(answer.contains("HTTP/1.1 400"), "\(answer)")
            #expect(answer.contains(#""path":"card""#))
            // The server waits for requests in progress before it stops.
            for connection in busy { connection.channel.close(promise: nil) }
        }
    }

    @Test("A kept-alive connection is closed after the idle timeout; a half-sent head after the header timeout")
    func idleAndHalfSentConnectionsAreClosed() async throws {
        try await TestApp().runLive(limits: ConnectionLimits(idleTimeout: .milliseconds(300), headerTimeout: .milliseconds(300))) { port, _ in
            // A stylesheet, not /healthz: with every suite running on PostgreSQL, a pool wait could outlast the deadline.
            let keptAlive = try await RawConnection.open(port: port)
            try await keptAlive.send("GET /assets/checkout.css HTTP/1.1\r\nHost: test\r\n\r\n")
            let received = try await keptAlive.waitForClose(within: .seconds(10))
            #expect(received?.hasPrefix("HTTP/1.1 200 OK") == true, "\(received ?? "still open")")

            let halfSent = try await RawConnection.open(port: port)
            try await halfSent.send("GET /healthz HTTP/1.1\r\nHost: te")
            #expect(try await halfSent.waitForClose(within: .seconds(10)) == "")
        }
    }

    @Test("A request answered before its body ended, and a pipelined request after Connection: close, do not keep a connection open")
    func answeredConnectionsStillTimeOut() async throws {
        try await TestApp().runLive(limits: ConnectionLimits(idleTimeout: .milliseconds(300), headerTimeout: .seconds(60), bodyTimeout: .seconds(60))) { port, _ in
            // No API key: answered 401 at once, while the body is still coming; then the body ends.
            let early = try await RawConnection.open(port: port)
            let refused = try await early.exchangeKeepingOpen("POST /v1/customers HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n{\"name\"")
            #expect(refused.hasPrefix("HTTP/1.1 401"), "\(refused)")
            try await early.send(":\"Tal\"}")
            #expect(try await early.waitForClose(within: .seconds(10)) != nil)

            // A stylesheet, not /healthz: with every suite running on PostgreSQL, a pool wait could outlast the deadline.
            let pipelined = try await RawConnection.open(port: port)
            try await pipelined.send("GET /assets/checkout.css HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\nGET /assets/checkout.css HTTP/1.1\r\nHost: t\r\n\r\n")
            let answer = try await pipelined.waitForClose(within: .seconds(10))
            #expect(answer?.hasPrefix("HTTP/1.1 200") == true, "\(answer ?? "still open")")
        }
    }

    @Test("A body that trickles in slower than the body timeout is cut off")
    func slowBodyIsCutOff() async throws {
        try await TestApp().runLive(limits: ConnectionLimits(bodyTimeout: .milliseconds(300))) { port, _ in
            let connection = try await RawConnection.open(port: port)
            try await connection.send("POST /v1/customers HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\n{")
            #expect(try await connection.waitForClose(within: .seconds(10)) != nil)
        }
    }

    @Test("Malformed requests get 4xx answers, never a 5xx, and write nothing at error level")
    func malformedRequestsAreQuiet() async throws {
        let app = TestApp()
        try await app.runLive(limits: ConnectionLimits()) { port, _ in
            let requests = [
                "GARBAGE\r\n\r\n",
                "GET / HTTP/9.9\r\n\r\n",
                "\u{1}\u{2}\u{3}\r\n\r\n",
                "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
                "GET /a%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                "POST /checkout/co_000000000000000000000000 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n",
                "POST /v1/checkout_sessions/co_000000000000000000000000/confirm HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n",
            ]
            for text in requests {
                let answer = try await RawConnection.open(port: port).exchange(text)
                #expect(answer.hasPrefix("HTTP/1.1 4"), "\(text.debugDescription) → \(answer)")
            }
        }
        let errors = app.logs.text.split(separator: "\n").filter { $0.hasPrefix("error") || $0.hasPrefix("critical") }
        #expect(errors.isEmpty, "\(errors)")
    }

    @Test("Flags and CHING_* variables set the connection limits; the default cap stays below the descriptor limit")
    func limitsAreConfigurable() {
        let configuration = AppConfiguration(reader: ConfigReader(providers: [
            InMemoryProvider(values: [AbsoluteConfigKey(["ching", "max", "connections"]): 100]),
            EnvironmentVariablesProvider(environmentVariables: [
                "CHING_MAX_CONNECTIONS": "50", "CHING_IDLE_TIMEOUT": "7", "CHING_HEADER_TIMEOUT": "3", "CHING_BODY_TIMEOUT": "9",
            ]),
        ]))
        #expect(configuration.connectionLimits == ConnectionLimits(maxConnections: 100, idleTimeout: .seconds(7), headerTimeout: .seconds(3), bodyTimeout: .seconds(9)))
        #expect(ConnectionLimits.defaultMaxConnections(descriptorLimit: 1024) == 768)
        #expect(ConnectionLimits.defaultMaxConnections(descriptorLimit: 1_048_576) == 4096)
    }

    // MARK: - Cart rules

    @Test("\"line_items\": null with no price is refused like an empty cart, and nothing is created")
    func nullCartIsRefused() async throws {
        try await TestApp().run { api in
            let result = try await api.checkoutSession(["line_items": .null])
            #expect(result.status == 400, "\(result.text)")
            #expect(result.errorCode == "INVALID_FIELD")
            #expect(result.issuePaths == ["price"])
            #expect(try await api.get("/checkout_sessions").data == [])
        }
    }

    // MARK: - Redirect URLs

    @Test("A redirect URL with a non-ASCII host and path is stored, redirected to and named in the CSP as ASCII")
    func nonASCIIRedirectsAreNormalized() async throws {
        try await TestApp().run { api in
            let session = try await api.checkoutSession(["line_items": Self.cart, "success_url": "https://例え.jp/ok/café?session={CHECKOUT_SESSION_ID}",
                                                         "cancel_url": "https://Bücher.de/עגלה"])
            #expect(session.status == 200, "\(session.text)")
            #expect(session.data["success_url"] == "https://xn--r8jz45g.jp/ok/caf%C3%A9?session={CHECKOUT_SESSION_ID}")
            #expect(session.data["cancel_url"] == "https://xn--bcher-kva.de/%D7%A2%D7%92%D7%9C%D7%94")
            let page = try await api.page("/checkout/\(session.id)")
            let csp = try #require(page.headers[HTTPField.Name("Content-Security-Policy")!])
            #expect(csp.hasSuffix("form-action 'self' https://xn--bcher-kva.de https://xn--r8jz45g.jp"))
            let paid = try await api.pay(session.id)
            #expect(paid.status == 303)
            #expect(paid.location == "https://xn--r8jz45g.jp/ok/caf%C3%A9?session=\(session.id)")
            for field in page.headers + paid.headers {
                #expect(field.value.utf8.allSatisfy { (0x20..<0x7F).contains($0) }, "\(field.name): \(field.value)")
            }
        }
    }

    // MARK: - Payments abandoned by a crash

    @Test("A payment attempt left by a server that died is taken over within 15 s; one by a live server is not")
    func abandonedAttemptIsTakenOver() async throws {
        try await TestApp().run { api in
            let dead = try await api.checkoutSession(["line_items": Self.cart])
            let alive = try await api.checkoutSession(["line_items": Self.cart])
            // Two other servers each hold an attempt; the first is then killed (it stops beating).
            try await api.leaseAttempt(on: [dead.id], owner: "srv_killed")
            try await api.leaseAttempt(on: [alive.id], owner: "srv_running")
            api.app.clock.advance(seconds: 5)
            try await api.beat("srv_running")
            #expect(try await api.pay(dead.id).status == 409, "within the heartbeat window the attempt may still be running")
            api.app.clock.advance(seconds: 11)
            try await api.beat("srv_running")
            let retried = try await api.pay(dead.id)
            #expect(retried.status == 303, "\(retried.html)")
            #expect(retried.location == "https://shop.example.com/thanks?session=\(dead.id)")
            #expect(try await api.pay(alive.id).status == 409)
            let charges = try await api.get("/charges").data.arrayValue ?? []
            #expect(charges.count == 1)
            #expect(charges.first?["checkout_session"] == .string(dead.id))
        }
    }

    @Test("An attempt whose server was judged dead while the provider charged is undone, not recorded; the new holder keeps the session")
    func takenOverAttemptIsUndone() async throws {
        let provider = ScriptedProvider()
        var app = TestApp()
        app.cardProvider = provider
        try await app.run { api in
            let session = try await api.checkoutSession(["line_items": Self.cart])
            // While the provider works, this server stalls past 15 s and another takes the session over.
            provider.whileCharging {
                api.app.clock.advance(seconds: 16)
                try await api.leaseAttempt(on: [session.id], owner: "srv_other")
            }
            let page = try await api.pay(session.id)
            #expect(page.status == 409, "\(page.html)")
            #expect(provider.calls.contains(.refund("scr_txn_2", 4500)), "\(provider.calls)")
            #expect(try await api.get("/charges").data == [])
            #expect(try await api.get("/checkout_sessions/\(session.id)").data["status"] == "pending")
            #expect(api.app.logs.text.contains("lost its session to another server"))
        }
    }

    @Test("The merchant can expire a session whose attempt was abandoned by a dead server")
    func abandonedSessionCanBeExpired() async throws {
        try await TestApp().run { api in
            let session = try await api.checkoutSession(["line_items": Self.cart])
            try await api.leaseAttempt(on: [session.id], owner: "srv_killed")
            #expect(try await api.post("/checkout_sessions/\(session.id)/expire").status == 409)
            api.app.clock.advance(seconds: 16)
            let expired = try await api.post("/checkout_sessions/\(session.id)/expire")
            #expect(expired.status == 200, "\(expired.text)")
            #expect(expired.data["status"] == "canceled")
        }
    }

    // MARK: - Request bodies

    @Test("Invalid UTF-8 in a JSON body is refused with INVALID_FIELD at its offset, and nothing is stored")
    func invalidUTF8IsRefused() async throws {
        try await TestApp().run { api in
            let bytes = Array(#"{"name": "Dana "#.utf8) + [0xFF] + Array(#""}"#.utf8)
            let response = try await api.client.execute(uri: "/v1/customers", method: .post,
                                                        headers: [.authorization: "Bearer \(api.key)", .contentType: "application/json"],
                                                        body: ByteBuffer(bytes: bytes))
            let json = try JSONValue.parse(String(buffer: response.body))
            #expect(response.status == .badRequest)
            #expect(json["error"]?["code"] == "INVALID_FIELD")
            #expect(json["error"]?["message"] == "Malformed JSON at byte 15: invalid UTF-8.")
            #expect(try await api.get("/customers").data == [])
        }
    }

    @Test("Names made of or holding control characters are refused, so no NUL reaches a tax document")
    func controlCharactersInNamesAreRefused() async throws {
        try await TestApp().run { api in
            for name in ["\u{0}\u{0}\u{0}", "Dana\u{0}Cohen", "Dana\u{1B}[31m"] {
                let result = try await api.post("/customers", ["name": .string(name)])
                #expect(result.status == 400)
                #expect(result.issuePaths == ["name"])
            }
            let product = try await api.post("/products", ["name": "Beans", "description": "dark\u{0}roast"])
            #expect(product.issuePaths == ["description"])
            let customer = try await api.customer()
            let paymentMethod = try await api.testCard(customer: customer)
            let charge = try await api.charge(customer: customer, paymentMethod: paymentMethod, amount: 100, extra: ["description": "a\u{7}b"])
            #expect(charge.issuePaths == ["description"])
            #expect(try await api.get("/customers").data.arrayValue?.count == 1)
        }
    }

    @Test("A hosted-page POST over the size limit gets the branded error page in the customer's language", arguments: ["he", "en"])
    func oversizePagePostGetsAnHTMLPage(locale: String) async throws {
        try await TestApp().run { api in
            let session = try await api.checkoutSession(["line_items": Self.cart, "locale": .string(locale)])
            let setup = try await api.setupSession()
            let oversize = [("csrf", "x"), ("name", String(repeating: "a", count: 70_000))]
            for path in ["/checkout/\(session.id)", "/checkout/\(session.id)/3ds/auth_x", "/setup/\(setup.id)?locale=\(locale)"] {
                let page = try await api.submit(path, oversize)
                #expect(page.status == 413, "\(path)")
                #expect(page.headers[.contentType] == "text/html; charset=utf-8")
                #expect(page.contains(locale == "he" ? "הטופס גדול מדי" : "The form was too large"), "\(path)")
                #expect(page.contains("Test Shop"))
                #expect(page.headers[HTTPField.Name("Content-Security-Policy")!] != nil)
            }
        }
    }
}

extension API {
    /// Marks the sessions as held by an attempt of another server, which beat at the test clock's time.
    /// (Server ids carry the project's, since tests on PostgreSQL share one database.)
    func leaseAttempt(on sessionIDs: [String], owner name: String) async throws {
        let now = app.clock.clock.now().milliseconds, owner = name + "_" + projectID
        try await app.withDatabase { database in
            try await database.transaction { db in
                try await db.raw("INSERT INTO server_instances (id, started, heartbeat_at) VALUES (\(bind: owner), \(bind: now), \(bind: now))").run()
                for id in sessionIDs {
                    try await db.raw("""
                        UPDATE checkout_sessions SET attempt_started_at = \(bind: now), attempt_owner = \(bind: owner) WHERE id = \(bind: id)
                        """).run()
                }
            }
        }
    }

    /// The other server's heartbeat, at the test clock's time.
    func beat(_ name: String) async throws {
        let now = app.clock.clock.now().milliseconds, owner = name + "_" + projectID
        try await app.withDatabase { database in
            try await database.transaction { db in
                try await db.raw("UPDATE server_instances SET heartbeat_at = \(bind: now) WHERE id = \(bind: owner)").run()
            }
        }
    }
}

extension TestApp {
    /// Runs the application on a real loopback port, with the given connection limits.
    func runLive(limits: ConnectionLimits, _ body: @Sendable (_ port: Int, _ client: any TestClientProtocol) async throws -> Void) async throws {
        _ = try await createProject()
        var configuration = configuration
        configuration.connectionLimits = limits
        configuration.port = 0
        let app = try await buildApplication(configuration)
        defer { removeDatabaseFiles() }
        try await app.test(.live) { client in try await body(try #require(client.port), client) }
    }
}

/// A TCP connection that speaks raw bytes, for requests no HTTP client would send.
struct RawConnection: Sendable {
    let channel: any Channel
    let collector: Collector

    /// Keeps what arrives, and completes when the server closes the connection.
    final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        private let received = Mutex((text: "", headSeen: false))
        let closed: EventLoopPromise<String>
        /// Completes when a whole response head has arrived.
        let head: EventLoopPromise<Void>

        init(closed: EventLoopPromise<String>, head: EventLoopPromise<Void>) { self.closed = closed; self.head = head }
        var text: String { received.withLock { $0.text } }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = String(buffer: unwrapInboundIn(data))
            received.withLock { $0.text += bytes }
            if text.contains("\r\n\r\n") { headArrived() }
        }

        func channelInactive(context: ChannelHandlerContext) {
            closed.succeed(text)
            headArrived()
        }

        private func headArrived() {
            if received.withLock({ state in defer { state.headSeen = true }; return !state.headSeen }) { head.succeed() }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }

    static func open(port: Int) async throws -> RawConnection {
        let group = MultiThreadedEventLoopGroup.singleton
        let loop = group.any()
        let collector = Collector(closed: loop.makePromise(of: String.self), head: loop.makePromise(of: Void.self))
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) } }
            .connect(host: "127.0.0.1", port: port).get()
        return RawConnection(channel: channel, collector: collector)
    }

    func send(_ text: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: text)).get()
    }

    /// Everything received before the server closed the connection; nil if it is still open after `limit`.
    func waitForClose(within limit: Duration) async throws -> String? {
        try await first(collector.closed.futureResult, within: limit)
    }

    /// Sends `text` and returns the answer: all that arrived until the server closed the connection
    /// or, with `expectClose: false`, what arrived by the end of the first response head (within 10 s).
    func exchange(_ text: String, expectClose: Bool = true) async throws -> String {
        guard expectClose else {
            defer { channel.close(promise: nil) }
            return try await exchangeKeepingOpen(text)
        }
        try await send(text)
        return try await waitForClose(within: .seconds(10)) ?? "(still open) " + collector.text
    }

    /// Sends `text` and returns what arrived by the end of the first response head (within 10 s), leaving the connection open.
    func exchangeKeepingOpen(_ text: String) async throws -> String {
        try await send(text)
        _ = try await first(collector.head.futureResult.map { "" }, within: .seconds(10), thenClose: false)
        return collector.text
    }

    /// The future's value, or nil when `limit` passes first (the connection is then closed, which
    /// also ends the wait on `future`); after an answer the connection is closed if `thenClose`.
    private func first(_ future: EventLoopFuture<String>, within limit: Duration, thenClose: Bool = true) async throws -> String? {
        let timeout = channel.eventLoop.scheduleTask(in: TimeAmount(limit)) {}
        return try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask { try await future.get() }
            group.addTask { try? await timeout.futureResult.get(); return nil }
            let result = try await group.next() ?? nil
            // A cancelled timeout fails its future; a closed channel completes `future`.
            timeout.cancel()
            if result == nil || thenClose { channel.close(promise: nil) }
            return result
        }
    }
}
