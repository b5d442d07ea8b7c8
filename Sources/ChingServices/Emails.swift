import ChingDomain
import ChingStore

/// Customer emails as `GET /emails` shows them: what was sent to whom, its state and its tries.
package enum Emails {
    /// `attempts`: every try (a single email's read); nil in lists.
    package static func json(_ email: OutgoingEmail, attempts: [EmailAttempt]? = nil) -> JSONValue {
        var object: JSONObject = [
            "id": .string(email.id),
            "object": "email",
            "kind": .string(email.kind),
            "to": email.to.isEmpty ? .null : .string(email.to),
            "locale": .string(email.locale.rawValue),
            "subject": .string(email.subject),
            "related": .string(email.relatedID),
            "status": .string(email.status.rawValue),
            "attempt_count": .int(email.attemptCount),
            "next_attempt_at": email.status == .pending ? .string(email.nextAttemptAt.iso8601) : .null,
            "last_error": .optional(email.lastError),
            "sent_at": .optional(email.sentAt?.iso8601),
            "livemode": .bool(email.caller.livemode),
            "created": .string(email.created.iso8601),
        ]
        if let attempts {
            object["attempts"] = .array(attempts.map { attempt in
                .object(["attempted_at": .string(attempt.attemptedAt.iso8601), "outcome": .string(attempt.outcome), "reply": .optional(attempt.reply)])
            })
        }
        return .object(object)
    }
}
