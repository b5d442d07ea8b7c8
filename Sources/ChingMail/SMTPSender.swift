import ChingDomain
import ChingProviders
import Foundation
import NIOCore
import NIOExtras
import NIOPosix
import NIOSSL

/// Where and how to send: `smtp://[user:pass@]host[:port][?starttls=required]` (STARTTLS when the
/// server offers it, required with the query) or `smtps://...` (TLS from the first byte).
public struct SMTPConfiguration: Sendable, Equatable {
    public enum Security: Sendable, Equatable { case startTLSIfOffered, startTLSRequired, implicitTLS }

    public let host: String
    public let port: Int
    public let security: Security
    public let username: String?
    public let password: String?
    /// A PEM file of certificates to trust besides the system's (a relay with its own CA; tests).
    public var extraTrustRootsFile: String?

    public init(url: String, extraTrustRootsFile: String? = nil) throws {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(), scheme == "smtp" || scheme == "smtps",
              let host = components.host, !host.isEmpty else {
            throw ConfigurationProblem("CHING_SMTP_URL must look like smtp://user:pass@host:port or smtps://host:port.")
        }
        let required = components.queryItems?.first { $0.name == "starttls" }?.value
        if let required, required != "required" { throw ConfigurationProblem("CHING_SMTP_URL: the only starttls value is \"required\".") }
        self.host = host
        self.security = scheme == "smtps" ? .implicitTLS : required == nil ? .startTLSIfOffered : .startTLSRequired
        self.port = components.port ?? (scheme == "smtps" ? 465 : 587)
        self.username = components.user?.removingPercentEncoding
        self.password = components.password?.removingPercentEncoding
        self.extraTrustRootsFile = extraTrustRootsFile
    }

    /// The URL without its password, for the log.
    public var redacted: String { "\(security == .implicitTLS ? "smtps" : "smtp")://\(username.map { "\($0)@" } ?? "")\(host):\(port)" }
}

public struct ConfigurationProblem: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A small SMTP client on SwiftNIO (no SMTP package is on this machine): one connection per
/// message, EHLO, STARTTLS (NIOSSL), AUTH PLAIN when a user is given, MAIL, RCPT, DATA, QUIT. A
/// 4xx reply or a failed connection is temporary; a 5xx reply is permanent.
public struct SMTPSender: MailSender {
    public let configuration: SMTPConfiguration
    /// The name this client gives in EHLO.
    public let helloName: String
    /// The longest one message may take, connection included.
    public var timeoutSeconds: Int64 = 60

    public init(configuration: SMTPConfiguration, helloName: String) {
        self.configuration = configuration
        self.helloName = helloName
    }

    public func send(_ message: MailMessage) async -> MailOutcome {
        do {
            return try await withThrowingTaskGroup(of: MailOutcome.self) { group in
                group.addTask { try await deliver(message) }
                group.addTask {
                    try await Task.sleep(for: .seconds(timeoutSeconds))
                    return .temporary("timed out after \(timeoutSeconds) s")
                }
                let first = try await group.next() ?? .temporary("no outcome")
                group.cancelAll()
                return first
            }
        } catch let reply as SMTPReply {
            return reply.code >= 500 ? .permanent(reply.text) : .temporary(reply.text)
        } catch {
            return .temporary("connection failed: \(String(describing: type(of: error)))")
        }
    }

    private func tlsContext() throws -> NIOSSLContext {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let file = configuration.extraTrustRootsFile { tls.additionalTrustRoots = [.file(file)] }
        return try NIOSSLContext(configuration: tls)
    }

    private func deliver(_ message: MailMessage) async throws -> MailOutcome {
        let host = configuration.host, implicitTLS = configuration.security == .implicitTLS
        let context = try tlsContext()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(10))
            .connect(host: host, port: configuration.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if implicitTLS {
                        try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: context, serverHostname: Self.sniName(host)))
                    }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineBasedFrameDecoder()))
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var lines = inbound.makeAsyncIterator()
            func reply() async throws -> SMTPReply {
                var text: [String] = []
                while let buffer = try await lines.next() {
                    let line = String(buffer: buffer).trimmingCharacters(in: .init(charactersIn: "\r"))
                    text.append(line)
                    // "250-..." continues, "250 ..." (or a bare code) ends the reply.
                    if line.count < 4 || line[line.index(line.startIndex, offsetBy: 3)] != "-" {
                        return SMTPReply(code: Int(line.prefix(3)) ?? 0, lines: text)
                    }
                }
                throw SMTPReply(code: 421, lines: text + ["connection closed"])
            }
            func command(_ line: String, expect: Int) async throws -> SMTPReply {
                try await outbound.write(ByteBuffer(string: line + "\r\n"))
                let answer = try await reply()
                guard answer.code / 100 == expect / 100 else { throw answer }
                return answer
            }
            let greeting = try await reply()
            guard greeting.code == 220 else { throw greeting }
            var capabilities = try await command("EHLO \(helloName)", expect: 250)
            if !implicitTLS {
                if capabilities.offers("STARTTLS") {
                    _ = try await command("STARTTLS", expect: 220)
                    try await channel.channel.eventLoop.submit {
                        try channel.channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: context, serverHostname: Self.sniName(host)),
                                                                               position: .first)
                    }.get()
                    capabilities = try await command("EHLO \(helloName)", expect: 250)
                } else if configuration.security == .startTLSRequired {
                    throw SMTPReply(code: 530, lines: ["the server does not offer STARTTLS, which CHING_SMTP_URL requires"])
                }
            }
            if let user = configuration.username {
                let secret = Data(([0] + Array(user.utf8) + [0] + Array((configuration.password ?? "").utf8))).base64EncodedString()
                _ = try await command("AUTH PLAIN \(secret)", expect: 235)
            }
            _ = try await command("MAIL FROM:<\(message.from)>", expect: 250)
            _ = try await command("RCPT TO:<\(message.to)>", expect: 250)
            _ = try await command("DATA", expect: 354)
            // Dot-stuffing: a line that starts with "." gets another.
            let body = MIME.render(message).replacingOccurrences(of: "\r\n.", with: "\r\n..")
            _ = try await command((body.hasPrefix(".") ? "." : "") + body + ".", expect: 250)
            _ = try? await command("QUIT", expect: 221)
            return .accepted
        }
    }

    /// TLS names a host, not an address.
    private static func sniName(_ host: String) -> String? {
        host.allSatisfy { $0.isNumber || $0 == "." || $0 == ":" } ? nil : host
    }
}

/// A reply that ended the conversation: its code and text.
struct SMTPReply: Error {
    let code: Int
    let lines: [String]
    var text: String { lines.joined(separator: " ") }

    func offers(_ capability: String) -> Bool {
        lines.dropFirst().contains { $0.dropFirst(4).uppercased().hasPrefix(capability) }
    }
}
