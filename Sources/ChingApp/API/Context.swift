import ChingDomain
import HTTPTypes
import Hummingbird

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
