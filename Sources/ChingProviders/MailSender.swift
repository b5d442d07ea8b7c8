import ChingDomain

/// One email as it leaves: envelope, headers, a plain-text and an HTML part, and attachments.
public struct MailMessage: Sendable, Equatable {
    public struct Attachment: Sendable, Equatable {
        public let fileName: String
        public let contentType: String
        public let bytes: [UInt8]
        public init(fileName: String, contentType: String, bytes: [UInt8]) { self.fileName = fileName; self.contentType = contentType; self.bytes = bytes }
    }

    /// The envelope sender and the `From` address.
    public var from: String
    /// The `From` display name (the brand's).
    public var fromName: String?
    public var to: String
    public var replyTo: String?
    public var subject: String
    public var text: String
    public var html: String
    public var attachments: [Attachment]
    /// `Message-ID` without its angle brackets: the same on every try, so a receiver can tell a resend.
    public var messageID: String
    public var date: Timestamp

    public init(from: String, fromName: String?, to: String, replyTo: String?, subject: String, text: String, html: String,
                attachments: [Attachment] = [], messageID: String, date: Timestamp) {
        self.from = from; self.fromName = fromName; self.to = to; self.replyTo = replyTo; self.subject = subject; self.text = text
        self.html = html; self.attachments = attachments; self.messageID = messageID; self.date = date
    }
}

/// What the receiving server answered.
public enum MailOutcome: Sendable, Equatable {
    /// The server took the message (250 after DATA).
    case accepted
    /// Try again later: a 4xx reply, or the connection failed.
    case temporary(String)
    /// The server refused it for good: a 5xx reply.
    case permanent(String)
}

/// Sends email (SMTP on a live server; a recording fake in tests).
public protocol MailSender: Sendable {
    func send(_ message: MailMessage) async -> MailOutcome
}
