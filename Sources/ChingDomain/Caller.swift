/// Who is acting: an API key's project and the mode (test or live) its data lives in. Every
/// object belongs to one project and one mode, and every read is scoped to both.
public struct Caller: Sendable, Equatable {
    public let projectID: String
    public let livemode: Bool
    /// 0 or 1, as the store keeps modes.
    public var mode: Int64 { livemode ? 1 : 0 }

    public init(projectID: String, livemode: Bool) {
        self.projectID = projectID
        self.livemode = livemode
    }
}
