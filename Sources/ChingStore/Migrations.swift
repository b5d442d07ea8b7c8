import SQLKit

/// The schema, as numbered migrations. The same SQL runs on SQLite and PostgreSQL; the only
/// difference is how an auto-incrementing `seq` column is spelled (it orders lists newest first
/// even when two rows share a millisecond).
public enum Migrations {
    static func all(for kind: Database.Kind) -> [(version: Int64, statements: [String])] {
        let seq = kind == .sqlite ? "seq INTEGER PRIMARY KEY AUTOINCREMENT" : "seq BIGSERIAL PRIMARY KEY"
        // Columns every API object has.
        let common = "\(seq), id TEXT NOT NULL UNIQUE, project_id TEXT NOT NULL, livemode BIGINT NOT NULL"
        return [
            (1, [
                """
                CREATE TABLE projects (id TEXT PRIMARY KEY, name TEXT NOT NULL, legal_name TEXT, vat_number TEXT,
                  address TEXT, max_installments BIGINT NOT NULL DEFAULT 12, live_provider TEXT, created BIGINT NOT NULL)
                """,
                """
                CREATE TABLE api_keys (key_hash TEXT PRIMARY KEY, project_id TEXT NOT NULL REFERENCES projects(id),
                  livemode BIGINT NOT NULL, created BIGINT NOT NULL)
                """,
                """
                CREATE TABLE customers (\(common), name TEXT NOT NULL, email TEXT, phone TEXT, locale TEXT NOT NULL,
                  tax_id TEXT, metadata TEXT NOT NULL, default_payment_method TEXT, deleted BIGINT NOT NULL DEFAULT 0,
                  created BIGINT NOT NULL)
                """,
                "CREATE INDEX customers_scope ON customers (project_id, livemode, seq)",
                // One live customer per email in a project and mode; deleted ones free their address.
                "CREATE UNIQUE INDEX customers_email ON customers (project_id, livemode, email) WHERE deleted = 0 AND email IS NOT NULL",
                """
                CREATE TABLE payment_methods (\(common), customer_id TEXT NOT NULL, status TEXT NOT NULL,
                  provider TEXT NOT NULL, token TEXT NOT NULL, brand TEXT NOT NULL, last4 TEXT NOT NULL,
                  exp_month BIGINT NOT NULL, exp_year BIGINT NOT NULL, issuer_country TEXT NOT NULL,
                  supports_installments BIGINT NOT NULL, supports_recurring BIGINT NOT NULL,
                  metadata TEXT NOT NULL, created BIGINT NOT NULL)
                """,
                "CREATE INDEX payment_methods_customer ON payment_methods (customer_id, status)",
                """
                CREATE TABLE products (\(common), name TEXT NOT NULL, description TEXT, image_url TEXT,
                  features TEXT NOT NULL, active BIGINT NOT NULL, metadata TEXT NOT NULL, created BIGINT NOT NULL)
                """,
                "CREATE INDEX products_scope ON products (project_id, livemode, seq)",
                """
                CREATE TABLE prices (\(common), product_id TEXT NOT NULL, unit_amount BIGINT NOT NULL, currency TEXT NOT NULL,
                  type TEXT NOT NULL, recurring_interval TEXT, interval_count BIGINT, trial_period_days BIGINT,
                  tax_mode TEXT NOT NULL, active BIGINT NOT NULL, metadata TEXT NOT NULL, created BIGINT NOT NULL)
                """,
                "CREATE INDEX prices_scope ON prices (project_id, livemode, seq)",
                """
                CREATE TABLE charges (\(common), customer_id TEXT NOT NULL, payment_method_id TEXT, amount BIGINT NOT NULL,
                  currency TEXT NOT NULL, status TEXT NOT NULL, description TEXT, installments BIGINT NOT NULL,
                  captured BIGINT NOT NULL, amount_captured BIGINT NOT NULL, refunded_amount BIGINT NOT NULL,
                  failure_code TEXT, failure_message TEXT, document_id TEXT, checkout_session_id TEXT, line_items TEXT,
                  subscription_id TEXT, provider_reference TEXT, capturable_until BIGINT, cancellation_reason TEXT,
                  metadata TEXT NOT NULL, created BIGINT NOT NULL)
                """,
                "CREATE INDEX charges_scope ON charges (project_id, livemode, seq)",
                "CREATE INDEX charges_customer ON charges (customer_id, seq)",
                """
                CREATE TABLE refunds (\(common), charge_id TEXT NOT NULL, amount BIGINT NOT NULL, currency TEXT NOT NULL,
                  reason TEXT, status TEXT NOT NULL, document_id TEXT, provider_reference TEXT, metadata TEXT NOT NULL,
                  created BIGINT NOT NULL)
                """,
                "CREATE INDEX refunds_scope ON refunds (project_id, livemode, seq)",
                """
                CREATE TABLE documents (\(common), type TEXT NOT NULL, number BIGINT NOT NULL, amount BIGINT NOT NULL,
                  currency TEXT NOT NULL, vat_amount BIGINT NOT NULL, charge_id TEXT, refund_id TEXT, customer_id TEXT NOT NULL,
                  allocation_number TEXT, content TEXT NOT NULL, access_key TEXT NOT NULL, sent_to_customer BIGINT NOT NULL, metadata TEXT NOT NULL,
                  issued_at BIGINT NOT NULL, created BIGINT NOT NULL, UNIQUE (project_id, livemode, number))
                """,
                """
                CREATE TABLE document_counters (project_id TEXT NOT NULL, livemode BIGINT NOT NULL,
                  last_number BIGINT NOT NULL, PRIMARY KEY (project_id, livemode))
                """,
                """
                CREATE TABLE events (\(common), type TEXT NOT NULL, data TEXT NOT NULL, created BIGINT NOT NULL)
                """,
                "CREATE INDEX events_scope ON events (project_id, livemode, seq)",
                """
                CREATE TABLE email_outbox (\(common), kind TEXT NOT NULL, to_address TEXT NOT NULL, locale TEXT NOT NULL,
                  subject TEXT NOT NULL, body TEXT NOT NULL, related_id TEXT NOT NULL, status TEXT NOT NULL,
                  created BIGINT NOT NULL)
                """,
                """
                CREATE TABLE idempotency_keys (project_id TEXT NOT NULL, livemode BIGINT NOT NULL, key TEXT NOT NULL,
                  request_hash TEXT NOT NULL, state TEXT NOT NULL, response_status BIGINT, response_body TEXT,
                  created BIGINT NOT NULL, PRIMARY KEY (project_id, livemode, key))
                """,
                """
                CREATE TABLE subscriptions (\(common), customer_id TEXT NOT NULL, status TEXT NOT NULL,
                  metadata TEXT NOT NULL, created BIGINT NOT NULL)
                """,
                "CREATE INDEX subscriptions_customer ON subscriptions (customer_id, status)",
            ]),
            (2, [
                """
                CREATE TABLE checkout_sessions (\(common), customer_id TEXT NOT NULL, kind TEXT NOT NULL, price_id TEXT,
                  line_items TEXT, success_url TEXT NOT NULL, cancel_url TEXT NOT NULL, create_document BIGINT NOT NULL,
                  capture_method TEXT NOT NULL, locale TEXT, status TEXT NOT NULL, csrf_token TEXT NOT NULL,
                  failed_attempts BIGINT NOT NULL DEFAULT 0, locked_until BIGINT, attempt_started_at BIGINT,
                  charge_id TEXT, subscription_id TEXT, payment_method_id TEXT, metadata TEXT NOT NULL,
                  expires_at BIGINT NOT NULL, completed_at BIGINT, created BIGINT NOT NULL)
                """,
                "CREATE INDEX checkout_sessions_scope ON checkout_sessions (project_id, livemode, seq)",
                "CREATE INDEX checkout_sessions_expiry ON checkout_sessions (status, expires_at)",
                // A card that must pass 3-D Secure waits here (as the provider's token) between the form and the challenge.
                """
                CREATE TABLE authentication_attempts (id TEXT PRIMARY KEY, session_id TEXT NOT NULL, token TEXT NOT NULL,
                  brand TEXT NOT NULL, last4 TEXT NOT NULL, exp_month BIGINT NOT NULL, exp_year BIGINT NOT NULL,
                  issuer_country TEXT NOT NULL, supports_installments BIGINT NOT NULL, installments BIGINT NOT NULL,
                  status TEXT NOT NULL, created BIGINT NOT NULL)
                """,
                "ALTER TABLE subscriptions ADD COLUMN price_id TEXT",
                "ALTER TABLE subscriptions ADD COLUMN item_id TEXT",
                "ALTER TABLE subscriptions ADD COLUMN default_payment_method TEXT",
                "ALTER TABLE subscriptions ADD COLUMN billing_cycle_anchor BIGINT",
                "ALTER TABLE subscriptions ADD COLUMN current_period_start BIGINT",
                "ALTER TABLE subscriptions ADD COLUMN current_period_end BIGINT",
                "ALTER TABLE subscriptions ADD COLUMN trial_end BIGINT",
                "ALTER TABLE subscriptions ADD COLUMN cancel_at_period_end BIGINT NOT NULL DEFAULT 0",
                "ALTER TABLE subscriptions ADD COLUMN canceled_at BIGINT",
                "ALTER TABLE subscriptions ADD COLUMN latest_charge TEXT",
                "ALTER TABLE subscriptions ADD COLUMN checkout_session_id TEXT",
                "ALTER TABLE projects ADD COLUMN require_israeli_id BIGINT NOT NULL DEFAULT 0",
                "CREATE INDEX charges_capturable ON charges (status, capturable_until)",
                // The card as the document prints it, for charges made with a card that was not saved.
                "ALTER TABLE charges ADD COLUMN card_brand TEXT NOT NULL DEFAULT 'unknown'",
                "ALTER TABLE charges ADD COLUMN card_last4 TEXT NOT NULL DEFAULT ''",
            ]),
            (3, [
                """
                CREATE TABLE setup_sessions (\(common), customer_id TEXT NOT NULL, status TEXT NOT NULL, success_url TEXT NOT NULL,
                  cancel_url TEXT NOT NULL, csrf_token TEXT NOT NULL, failed_attempts BIGINT NOT NULL DEFAULT 0, locked_until BIGINT,
                  attempt_started_at BIGINT, payment_method_id TEXT, metadata TEXT NOT NULL, expires_at BIGINT NOT NULL,
                  completed_at BIGINT, created BIGINT NOT NULL)
                """,
                "CREATE INDEX setup_sessions_scope ON setup_sessions (project_id, livemode, seq)",
                "CREATE INDEX setup_sessions_expiry ON setup_sessions (status, expires_at)",
                // The branding folder (under the branding root) a project uses when none is named by its id.
                "ALTER TABLE projects ADD COLUMN branding TEXT",
            ]),
            (4, [
                // Webhook endpoint ids are integers (API.md).
                """
                CREATE TABLE webhook_endpoints (\(kind == .sqlite ? "id INTEGER PRIMARY KEY AUTOINCREMENT" : "id BIGSERIAL PRIMARY KEY"),
                  project_id TEXT NOT NULL, livemode BIGINT NOT NULL, url TEXT NOT NULL, events TEXT NOT NULL, secret TEXT NOT NULL,
                  deleted BIGINT NOT NULL DEFAULT 0, created BIGINT NOT NULL)
                """,
                "CREATE INDEX webhook_endpoints_scope ON webhook_endpoints (project_id, livemode, deleted)",
                // One row per event and endpoint, written in the event's transaction; the worker leases due rows.
                """
                CREATE TABLE webhook_deliveries (\(seq), event_id TEXT NOT NULL, endpoint_id BIGINT NOT NULL, project_id TEXT NOT NULL,
                  livemode BIGINT NOT NULL, status TEXT NOT NULL, attempt_count BIGINT NOT NULL, next_attempt_at BIGINT NOT NULL,
                  lease_until BIGINT, created BIGINT NOT NULL)
                """,
                "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at)",
                "CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id)",
                """
                CREATE TABLE webhook_attempts (\(seq), delivery_seq BIGINT NOT NULL, attempted_at BIGINT NOT NULL, status_code BIGINT,
                  duration_ms BIGINT NOT NULL, error TEXT)
                """,
                "CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_seq)",
            ]),
            (5, [
                // Each running server's heartbeat; an attempt lease names the server that holds it.
                "CREATE TABLE server_instances (id TEXT PRIMARY KEY, started BIGINT NOT NULL, heartbeat_at BIGINT NOT NULL)",
                "ALTER TABLE checkout_sessions ADD COLUMN attempt_owner TEXT",
                "ALTER TABLE setup_sessions ADD COLUMN attempt_owner TEXT",
            ]),
            (6, [
                // What real CHING clients read (issue 14): how a charge was captured and when.
                "ALTER TABLE charges ADD COLUMN capture_method TEXT NOT NULL DEFAULT 'automatic'",
                "ALTER TABLE charges ADD COLUMN authorized_at BIGINT",
                "ALTER TABLE charges ADD COLUMN captured_at BIGINT",
                "UPDATE charges SET capture_method = 'manual' WHERE capturable_until IS NOT NULL",
                "UPDATE charges SET authorized_at = created WHERE status <> 'failed'",
                "UPDATE charges SET captured_at = created WHERE status = 'succeeded' AND capture_method = 'automatic'",
                // Sold by id, left out of GET /products unless asked for.
                "ALTER TABLE products ADD COLUMN unlisted BIGINT NOT NULL DEFAULT 0",
                // Keys the official CLI lists: an id, a name, a masked preview (the key itself is never kept), last use.
                "ALTER TABLE api_keys ADD COLUMN id TEXT",
                "ALTER TABLE api_keys ADD COLUMN name TEXT",
                "ALTER TABLE api_keys ADD COLUMN preview TEXT",
                "ALTER TABLE api_keys ADD COLUMN active BIGINT NOT NULL DEFAULT 1",
                "ALTER TABLE api_keys ADD COLUMN last_used BIGINT",
                "UPDATE api_keys SET id = 'key_' || substr(key_hash, 1, 12), name = CASE livemode WHEN 1 THEN 'Live key' ELSE 'Test key' END, preview = CASE livemode WHEN 1 THEN 'ck_live_…' ELSE 'ck_test_…' END",
                // The project's owner, as GET /auth/me answers it.
                "ALTER TABLE projects ADD COLUMN owner_email TEXT",
                "ALTER TABLE projects ADD COLUMN owner_first_name TEXT",
                "ALTER TABLE projects ADD COLUMN owner_last_name TEXT",
                // GET /customers?phone= and ?taxId= (and upsert by them) without a scan of the project.
                "CREATE INDEX customers_phone ON customers (project_id, livemode, phone)",
                "CREATE INDEX customers_tax_id ON customers (project_id, livemode, tax_id)",
            ]),
            (7, [
                // subscription.updated carries the changed fields' old values beside data.
                "ALTER TABLE events ADD COLUMN previous_attributes TEXT",
                // A downgrade waits for the period end (issue 15).
                "ALTER TABLE subscriptions ADD COLUMN pending_price TEXT",
                "ALTER TABLE subscriptions ADD COLUMN pending_effective_at BIGINT",
                // The sweeper ends subscriptions that cancel at their period end.
                "CREATE INDEX subscriptions_period_end ON subscriptions (status, current_period_end)",
            ]),
            (8, [
                // Renewals: which period is next (from the anchor), the lease of a renewal in flight,
                // and dunning (failures since the first one, when to retry).
                "ALTER TABLE subscriptions ADD COLUMN periods_billed BIGINT NOT NULL DEFAULT 0",
                "ALTER TABLE subscriptions ADD COLUMN renewal_owner TEXT",
                "ALTER TABLE subscriptions ADD COLUMN renewal_started_at BIGINT",
                "ALTER TABLE subscriptions ADD COLUMN failed_attempts BIGINT NOT NULL DEFAULT 0",
                "ALTER TABLE subscriptions ADD COLUMN first_failed_at BIGINT",
                "ALTER TABLE subscriptions ADD COLUMN next_retry_at BIGINT",
                "ALTER TABLE subscriptions ADD COLUMN trial_will_end_sent BIGINT NOT NULL DEFAULT 0",
                "CREATE INDEX subscriptions_retry ON subscriptions (status, next_retry_at)",
            ]),
            (9, [
                // Test clocks: a customer on one lives on its frozen time (issue 15).
                """
                CREATE TABLE test_clocks (\(common), name TEXT, frozen_time BIGINT NOT NULL, status TEXT NOT NULL,
                  deleted BIGINT NOT NULL DEFAULT 0, created BIGINT NOT NULL)
                """,
                "CREATE INDEX test_clocks_scope ON test_clocks (project_id, livemode, seq)",
                "ALTER TABLE customers ADD COLUMN test_clock TEXT",
                "CREATE INDEX customers_test_clock ON customers (test_clock)",
            ]),
            (10, [
                // When an advance began (real time): one whose server died is taken over after a while.
                "ALTER TABLE test_clocks ADD COLUMN advance_started_at BIGINT",
            ]),
            (11, [
                // Billing portal sessions (issue 16). A session's links' tokens are stored only as their SHA-256;
                // coming back from the card form adds a link, and every link of a session works until it expires.
                """
                CREATE TABLE billing_portal_sessions (\(common), customer_id TEXT NOT NULL, return_url TEXT, csrf_token TEXT NOT NULL,
                  expires_at BIGINT NOT NULL, created BIGINT NOT NULL)
                """,
                "CREATE TABLE billing_portal_tokens (token_hash TEXT PRIMARY KEY, session_id TEXT NOT NULL, created BIGINT NOT NULL)",
                // A setup session the portal opened (to add a card, or to pay a failed renewal with a new one) leads back to it, once.
                "ALTER TABLE setup_sessions ADD COLUMN portal_session_id TEXT",
                "ALTER TABLE setup_sessions ADD COLUMN portal_intent TEXT",
                "ALTER TABLE setup_sessions ADD COLUMN portal_returned BIGINT NOT NULL DEFAULT 0",
                "CREATE INDEX documents_customer ON documents (customer_id, seq)",
            ]),
            (12, [
                // Sending the email outbox (issue 17): each row's tries, its lease while a sender has it, its outcome.
                "ALTER TABLE email_outbox ADD COLUMN attempt_count BIGINT NOT NULL DEFAULT 0",
                "ALTER TABLE email_outbox ADD COLUMN next_attempt_at BIGINT NOT NULL DEFAULT 0",
                "ALTER TABLE email_outbox ADD COLUMN lease_until BIGINT",
                "ALTER TABLE email_outbox ADD COLUMN last_error TEXT",
                "ALTER TABLE email_outbox ADD COLUMN sent_at BIGINT",
                "CREATE INDEX email_outbox_due ON email_outbox (status, next_attempt_at)",
                """
                CREATE TABLE email_attempts (\(seq), email_id TEXT NOT NULL, attempted_at BIGINT NOT NULL, outcome TEXT NOT NULL, reply TEXT)
                """,
                "CREATE INDEX email_attempts_email ON email_attempts (email_id, seq)",
            ]),
            (13, [
                // Live mode with Grow (issue 18). A project's provider settings, sealed with CHING_SECRET_KEY when it is set.
                "ALTER TABLE projects ADD COLUMN provider_settings TEXT",
                // Grow's transactionUniqueIdentifier: a number unique per business forever, one per idempotency key.
                "CREATE TABLE provider_keys (\(seq), project_id TEXT NOT NULL, key TEXT NOT NULL, created BIGINT NOT NULL, UNIQUE (project_id, key))",
                // A token charge whose outcome is not known yet: `pending`, reconciled by asking Grow with its key.
                "ALTER TABLE charges ADD COLUMN provider_key TEXT",
                "CREATE INDEX charges_pending ON charges (status, created) WHERE status = 'pending'",
                "CREATE INDEX charges_provider_key ON charges (provider_key) WHERE provider_key IS NOT NULL",
                // The payment processes opened on Grow's page for a hosted session. `id` is in the notify URL;
                // the process token never leaves the server and must match the callback's.
                """
                CREATE TABLE provider_processes (\(common), session_kind TEXT NOT NULL, session_id TEXT NOT NULL, process_id TEXT NOT NULL,
                  process_token TEXT NOT NULL, url TEXT NOT NULL, amount BIGINT NOT NULL, installments BIGINT NOT NULL, recurring BIGINT NOT NULL,
                  status TEXT NOT NULL, transaction_reference TEXT, checked_at BIGINT, created BIGINT NOT NULL)
                """,
                "CREATE INDEX provider_processes_session ON provider_processes (session_id, seq)",
                "CREATE INDEX provider_processes_open ON provider_processes (status, checked_at) WHERE status = 'open'",
            ]),
        ]
    }

    /// Applies the migrations not yet applied, each in its own transaction. On PostgreSQL an
    /// advisory lock keeps two starting servers from migrating at once; on SQLite the immediate
    /// transaction does the same.
    public static func run(on database: Database) async throws {
        try await database.transaction { db in
            if database.kind == .postgres {
                try await db.raw("SELECT pg_advisory_xact_lock(4242)").run()
            }
            try await db.raw("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)").run()
            let applied = try await db.raw("SELECT version FROM schema_migrations").all().map { try $0.decode(column: "version", as: Int64.self) }
            for migration in all(for: database.kind) where !applied.contains(migration.version) {
                for statement in migration.statements {
                    try await db.raw(SQLQueryString(statement)).run()
                }
                try await db.raw("INSERT INTO schema_migrations (version, applied_at) VALUES (\(bind: migration.version), 0)").run()
            }
        }
    }
}
