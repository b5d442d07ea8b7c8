import ChingDomain
import HTTPTypes
import Hummingbird
import NIOCore

/// The request context of every route.
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The client's IP address, for per-address attempt limits ("unknown" in in-process tests).
    public let clientAddress: String

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        clientAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }
    /// Bodies over 1 MiB are refused before they are read.
    public var maxUploadSize: Int { 1 << 20 }
}

/// Why a request's body could not be read.
package enum BodyRefusal: Error {
    case tooLarge
    /// A broken chunked encoding, or a client gone mid-body: the client's fault, not an error of ours to log.
    case unreadable
}

extension Request {
    /// The whole body, at most `limit` bytes; the API answers the refusal with its envelope, a page with a page.
    package func collectBody(upTo limit: Int) async throws(BodyRefusal) -> ByteBuffer {
        do {
            return try await body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw .tooLarge
        } catch {
            throw .unreadable
        }
    }
}

