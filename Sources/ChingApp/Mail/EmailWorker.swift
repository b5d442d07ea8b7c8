import ChingDomain
import ChingMail
import ChingProviders
import ChingServices
import ChingStore
import ChingWeb
import Foundation
import Logging
import ServiceLifecycle

/// Sends the email outbox. A worker leases due rows (`lease_until`, with `FOR UPDATE SKIP LOCKED`
/// on PostgreSQL) in a short transaction, sends each outside any transaction, and records the try.
///
/// At most once per crash an email can go twice: a server that dies after the receiving server
/// accepted a message but before the row says so leaves a lease that runs out after
/// `leaseSeconds`, and the row is sent again. SMTP itself cannot rule that out; the bound here is
/// one extra copy per crash at that exact moment, with the same `Message-ID`, so a receiving server
/// or client can tell it is a copy.
struct EmailWorker: Service {
    let services: AppServices
    let sender: any MailSender
    /// The envelope and `From` address (`CHING_MAIL_FROM`).
    let from: String
    let renderer: EmailRenderer
    var projectID: String? = nil
    var pollSeconds: Int64 = 5

    /// Longer than one SMTP conversation may take (`SMTPSender.timeoutSeconds`).
    static let leaseSeconds: Int64 = 5 * 60
    static let giveUpAfterSeconds: Int64 = 3 * 86_400
    /// 1 min, 5 min, 30 min, 2 h, 6 h, then every 12 h, until 3 days after the email was written.
    static let backoffSeconds: [Int64] = [60, 300, 1800, 7200, 21_600, 43_200]

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    if try await sendDue() > 0 { continue }
                } catch {
                    services.logger.warning("Email round failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
                }
                try? await Task.sleep(for: .seconds(pollSeconds))
            }
        }
    }

    /// One round: stale emails expire, then up to `limit` due ones are sent; how many were tried.
    @discardableResult
    func sendDue(limit: Int = 20) async throws -> Int {
        let now = services.wallClock.now()
        let skipLocked = services.database.kind == .postgres
        let claimed = try await services.database.transaction { db in
            _ = try await db.emailOutbox.expire(writtenBefore: now.adding(seconds: -Self.giveUpAfterSeconds), projectID: projectID)
            return try await db.emailOutbox.claim(now: now, leaseUntil: now.adding(seconds: Self.leaseSeconds), limit: limit, projectID: projectID,
                                                  skipLocked: skipLocked)
        }
        for email in claimed { try await send(email) }
        return claimed.count
    }

    func send(_ email: OutgoingEmail) async throws {
        let outcome: MailOutcome
        do {
            outcome = await sender.send(try await compose(email))
        } catch {
            // The email cannot be put together (its document is gone): no try will do better.
            outcome = .permanent("could not be composed: \(String(reflecting: type(of: error)))")
        }
        let now = services.wallClock.now()
        let (status, next, summary): (OutgoingEmail.Status, Timestamp, (String, String?)) = switch outcome {
        case .accepted: (.sent, now, ("accepted", nil))
        case .permanent(let reply): (.failed, now, ("permanent", reply))
        case .temporary(let reply):
            // Tried again with backoff until 3 days after the email was written, then given up.
            if let next = Self.nextTry(after: email.attemptCount + 1, from: now), next < email.created.adding(seconds: Self.giveUpAfterSeconds) {
                (.pending, next, ("temporary", reply))
            } else {
                (.failed, now, ("temporary", reply))
            }
        }
        try await services.database.transaction { db in
            try await db.emailOutbox.record(email.id, attempt: EmailAttempt(attemptedAt: now, outcome: summary.0, reply: summary.1), status: status,
                                            nextAttemptAt: next)
            if status == .sent, email.kind == "receipt" || email.kind == "refund_confirmation" {
                try await db.documents.markSent(email.relatedID)
            }
        }
        if status == .failed {
            services.logger.notice("An email was not delivered", metadata: ["email": "\(email.id)", "reply": "\(summary.1 ?? "")"])
        }
    }

    static func nextTry(after attempts: Int64, from now: Timestamp) -> Timestamp? {
        now.adding(seconds: backoffSeconds[min(Int(attempts) - 1, backoffSeconds.count - 1)])
    }

    /// The message: the stored subject and text, the branded HTML, and the document's PDF for a receipt or a credit note.
    func compose(_ email: OutgoingEmail) async throws -> MailMessage {
        let (project, document) = try await services.database.read { db in
            (try await db.projects.find(email.caller.projectID),
             email.kind == "receipt" || email.kind == "refund_confirmation" ? try await db.documents.find(email.relatedID, caller: email.caller) : nil)
        }
        let brand = renderer.sender(projectID: email.caller.projectID, folderName: project?.branding)
        let merchant = brand.name ?? project?.name ?? ""
        var attachments: [MailMessage.Attachment] = []
        var link: (url: String, label: String)?
        if let document {
            let name = "\(document.kind == .creditNote ? "credit-note" : "receipt")-\(document.number).pdf"
            attachments.append(.init(fileName: name, contentType: "application/pdf", bytes: try Documents.pdf(document, services: services)))
            link = (Documents.pdfURL(document, services: services), renderer.text("email_document_link", email.locale))
        }
        if email.kind == "payment_failed" {
            // A fresh billing-portal link (its token is never stored in clear, so it is made now, not when the email was written).
            let portal = try? await BillingPortal.create(customerID: email.relatedID, returnURL: nil, caller: email.caller, services: services)
            if let url = portal?["url"]?.stringValue { link = (url, renderer.text("email_portal_link", email.locale)) }
        }
        let html = renderer.html(subject: email.subject, body: email.body, link: link, locale: email.locale, merchantName: merchant,
                                 projectID: email.caller.projectID, folderName: project?.branding)
        return MailMessage(from: from, fromName: merchant.isEmpty ? nil : merchant, to: email.to, replyTo: brand.replyTo, subject: email.subject,
                           text: email.body + (link.map { "\n\n\($0.url)" } ?? ""), html: html ?? email.body, attachments: attachments,
                           messageID: "\(email.id)@\(Self.host(of: services.publicURL))", date: email.created)
    }

    static func host(of url: String) -> String { URLComponents(string: url)?.host ?? "ching.local" }
}
