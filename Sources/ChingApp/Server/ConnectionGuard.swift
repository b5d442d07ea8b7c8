import ChingAPI
import ChingHTTP
import ChingServices
import ChingWeb
import Glibc
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import Synchronization

/// How long a connection may hold the server's resources without using them, and how many may be
/// open at once. Without these, idle or half-sent connections pile up until the process runs out
/// of file descriptors and stops answering everyone (issue 12).
public struct ConnectionLimits: Sendable, Equatable {
    /// Open connections at most. Past it, a new connection first evicts the connection that has
    /// waited longest for a request; when every connection is busy, it is answered 503 and closed.
    public var maxConnections: Int
    /// How long a kept-alive connection may wait, after a response, for the whole next request head.
    public var idleTimeout: Duration
    /// How long a new connection may take to send its first request head.
    public var headerTimeout: Duration
    /// How long a request body may take to arrive, from the end of its head.
    public var bodyTimeout: Duration
    /// How long a connection must have waited for a request before a new one may evict it: a
    /// connection just opened (or just answered) probably has its next request on the way.
    public var evictableAfter: Duration

    public init(maxConnections: Int = 4096, idleTimeout: Duration = .seconds(30), headerTimeout: Duration = .seconds(10),
                bodyTimeout: Duration = .seconds(30), evictableAfter: Duration = .seconds(1)) {
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
        self.headerTimeout = headerTimeout
        self.bodyTimeout = bodyTimeout
        self.evictableAfter = evictableAfter
    }

    /// Descriptors kept back from connections: the database, its WAL, log files, webhook and
    /// PostgreSQL clients.
    static let reservedDescriptors = 256

    /// 4,096, or fewer when the descriptor limit would not leave room for the reserve.
    public static func defaultMaxConnections(descriptorLimit: Int = FileDescriptorLimit.current) -> Int {
        max(16, min(4096, descriptorLimit - reservedDescriptors))
    }
}

/// The process's open-file limit (`RLIMIT_NOFILE`).
public enum FileDescriptorLimit {
    public static var current: Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        return Int(clamping: limit.rlim_cur)
    }

    /// Raises the soft limit to the hard one (allowed without privileges); returns the limit now in force.
    @discardableResult
    public static func raiseToHardLimit() -> Int {
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        return current
    }
}

/// Every open connection, and which of them are waiting for a request (and so may be evicted).
final class ConnectionRegistry: Sendable {
    private struct Entry {
        let channel: any Channel
        /// When it started waiting for a request head; nil while a request is read or answered.
        var waitingSince: NIODeadline?
    }

    private struct State {
        var entries: [UInt64: Entry] = [:]
        var nextID: UInt64 = 0
    }

    let limit: Int
    let evictableAfter: TimeAmount
    private let state = Mutex(State())

    init(_ limits: ConnectionLimits) {
        limit = max(1, limits.maxConnections)
        evictableAfter = TimeAmount(limits.evictableAfter)
    }

    /// Registers a new connection, evicting the longest-waiting idle one when full; nil when full of
    /// busy or just-opened connections (the caller refuses the new one).
    func admit(_ channel: any Channel) -> UInt64? {
        let now = NIODeadline.now()
        let (id, evicted): (UInt64?, (any Channel)?) = state.withLock { state in
            var evicted: (any Channel)?
            if state.entries.count >= limit {
                var oldest: (id: UInt64, since: NIODeadline)?
                for (id, entry) in state.entries {
                    if let since = entry.waitingSince, since < oldest?.since ?? .distantFuture { oldest = (id, since) }
                }
                guard let oldest, oldest.since + evictableAfter <= now else { return (nil, nil) }
                evicted = state.entries.removeValue(forKey: oldest.id)?.channel
            }
            return (Self.insert(channel, waitingSince: now, into: &state), evicted)
        }
        // The connection decides on its own event loop whether it may still go.
        evicted?.pipeline.fireUserInboundEventTriggered(Eviction())
        return id
    }

    /// Asks an evicted connection to close if it is still idle.
    struct Eviction: Sendable {}

    /// Registers a busy connection outside the cap: one chosen for eviction that had a request by then.
    func registerBusy(_ channel: any Channel) -> UInt64 {
        state.withLock { state in Self.insert(channel, waitingSince: nil, into: &state) }
    }

    private static func insert(_ channel: any Channel, waitingSince: NIODeadline?, into state: inout State) -> UInt64 {
        state.nextID += 1
        state.entries[state.nextID] = Entry(channel: channel, waitingSince: waitingSince)
        return state.nextID
    }

    func setWaiting(_ id: UInt64, _ waiting: Bool) {
        let since: NIODeadline? = waiting ? .now() : nil
        state.withLock { state in state.entries[id]?.waitingSince = since }
    }

    func remove(_ id: UInt64) {
        _ = state.withLock { state in state.entries.removeValue(forKey: id) }
    }
}

/// One per connection, right after the HTTP codec: admits the connection against the cap, and
/// closes it when the head, the body or the next request takes longer than its deadline. While a
/// request is being answered there is no deadline: the server, not the client, is working.
final class ConnectionGuardHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private enum Admission { case pending, admitted(UInt64), refused }

    private let registry: ConnectionRegistry
    private let limits: ConnectionLimits
    private let logger: Logger
    private var admission = Admission.pending
    /// Requests whose head has arrived and whose response has not ended.
    private var requestsInProgress = 0
    private var readingBody = false
    /// When the connection is closed unless something happens first, and why; nil while a
    /// response is being worked on. Moving it costs only a clock read: one timer per connection
    /// checks it when it fires, and is set again for a deadline that moved later.
    private var deadline: (at: NIODeadline, reason: String)?
    private var timer: (task: Scheduled<Void>, at: NIODeadline)?

    init(registry: ConnectionRegistry, limits: ConnectionLimits, logger: Logger) {
        self.registry = registry
        self.limits = limits
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { admit(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        admit(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        leave()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        leave()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // A refused connection's request never reaches the application.
        guard case .admitted(let id) = admission else { return }
        switch unwrapInboundIn(data) {
        case .head:
            if requestsInProgress == 0 { registry.setWaiting(id, false) }
            requestsInProgress += 1
            readingBody = true
            schedule(context, after: limits.bodyTimeout, reason: "body")
        case .body:
            break
        case .end:
            readingBody = false
            // Answered before its body ended (a 401, a 413): waiting for the next request from now.
            if requestsInProgress == 0 { waitForRequest(context, id: id) } else { cancelDeadline() }
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), case .admitted(let id) = admission {
            // A 400 for an unparsable head ends a response no head began.
            requestsInProgress = max(0, requestsInProgress - 1)
            if requestsInProgress == 0, !readingBody { waitForRequest(context, id: id) }
        }
        context.write(data, promise: promise)
    }

    /// Once the output is closed (`Connection: close`), the client has a moment to read the
    /// answer and hang up; one that keeps the socket open holds a place for nothing.
    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode == .output { schedule(context, after: limits.idleTimeout, reason: "linger") }
        context.close(mode: mode, promise: promise)
    }

    /// A client that does not read its answers stalls our writes: it gets as long as a body may take.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if !context.channel.isWritable {
            schedule(context, after: limits.bodyTimeout, reason: "write")
        } else if deadline?.reason == "write" {
            cancelDeadline()
        }
        context.fireChannelWritabilityChanged()
    }

    /// Another connection wants this one's place: it goes only if it is still waiting for a request
    /// (a head may have arrived since the registry chose it); otherwise it takes a place again.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ConnectionRegistry.Eviction else { return context.fireUserInboundEventTriggered(event) }
        guard case .admitted = admission else { return }
        if requestsInProgress == 0, !readingBody {
            logger.debug("Connection closed: evicted at the connection cap")
            admission = .refused
            context.close(promise: nil)
        } else {
            admission = .admitted(registry.registerBusy(context.channel))
        }
    }

    private func waitForRequest(_ context: ChannelHandlerContext, id: UInt64) {
        registry.setWaiting(id, true)
        schedule(context, after: limits.idleTimeout, reason: "idle")
    }

    private func admit(_ context: ChannelHandlerContext) {
        guard case .pending = admission else { return }
        if let id = registry.admit(context.channel) {
            admission = .admitted(id)
            schedule(context, after: limits.headerTimeout, reason: "header")
        } else {
            admission = .refused
            logger.debug("Connection refused: at the connection cap", metadata: ["limit": "\(registry.limit)"])
            let head = HTTPResponse(status: .serviceUnavailable, headerFields: [.connection: "close", .contentLength: "0", .retryAfter: "1"])
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
    }

    private func leave() {
        stopTimer()
        if case .admitted(let id) = admission { registry.remove(id) }
        admission = .refused
    }

    private func schedule(_ context: ChannelHandlerContext, after timeout: Duration, reason: String) {
        let at = NIODeadline.now() + TimeAmount(timeout)
        deadline = (at, reason)
        // A timer due before the new deadline checks again when it fires; one due after it is too late.
        if let timer, timer.at <= at { return }
        timer?.task.cancel()
        startTimer(context, firingAt: at)
    }

    private func startTimer(_ context: ChannelHandlerContext, firingAt at: NIODeadline) {
        let task = context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(deadline: at) { [self] in
            timer = nil
            guard let deadline else { return }
            if deadline.at > .now() { return startTimer(context, firingAt: deadline.at) }
            logger.debug("Connection closed: \(deadline.reason) timeout")
            context.close(promise: nil)
        }
        timer = (task, at)
    }

    private func cancelDeadline() {
        deadline = nil
    }

    private func stopTimer() {
        timer?.task.cancel()
        timer = nil
        deadline = nil
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with the connection cap and deadlines of `limits`.
    static func guardedHTTP1(limits: ConnectionLimits, logger: Logger) -> HTTPServerBuilder {
        let registry = ConnectionRegistry(limits)
        return .http1(configuration: .init(additionalChannelHandlers: [ConnectionGuardHandler(registry: registry, limits: limits, logger: logger)]))
    }
}
