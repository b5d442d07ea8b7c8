/// Who is acting: an API key's project and the mode (test or live) its data lives in. Every
/// object belongs to one project and one mode, and every read is scoped to both.
public struct Caller: Sendable, Equatable {
    public let projectID: String
    public let livemode: Bool

    public init(projectID: String, livemode: Bool) {
        self.projectID = projectID
        self.livemode = livemode
    }
}
