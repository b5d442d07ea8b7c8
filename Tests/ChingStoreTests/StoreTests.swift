import ChingDomain
import Foundation
import Logging
import Testing
@testable import ChingStore

/// The stores on their own: lists, and the conditions that keep two changes of one row apart.
@Suite("Stores")
struct StoreTests {
    let caller = Caller(projectID: "proj_store", livemode: false)

    func withDatabase(_ work: @Sendable (Database) async throws -> Void) async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ching-store-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        try await Database.withMigrated(path, logger: Logger(label: "test"), work)
    }

    func customer(_ n: Int, email: String? = nil) -> Customer {
        Customer(id: "cus_\(n)", caller: caller, name: "Customer \(n)", email: email, phone: nil, locale: "he", taxID: nil, testClock: nil,
                 metadata: .object([:]), created: Timestamp(milliseconds: Int64(n)))
    }

    @Test("Layers: no source file above ChingStore imports SQLKit or writes SQL")
    func onlyTheStoreHasSQL() throws {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources")
        var offenders: [String] = []
        let files = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)!.compactMap { $0 as? URL }
        for file in files where file.pathExtension == "swift" && !file.path.contains("/Sources/ChingStore/") {
            // Comments may name SQL (a doc comment explaining a conditional UPDATE); code may not.
            let text = try String(contentsOf: file, encoding: .utf8).split(separator: "\n")
                .filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("//") }.joined(separator: "\n")
            for marker in ["import SQLKit", "import SQLiteKit", "import PostgresKit", ".raw(", "SELECT ", "UPDATE ", "INSERT INTO"] where text.contains(marker) {
                offenders.append("\(file.lastPathComponent): \(marker)")
            }
        }
        #expect(files.count > 50, "the sources were found")
        #expect(offenders == [])
    }

    @Test("A list runs newest first in pages that say whether more follow; a cursor from outside the list is refused")
    func pages() async throws {
        try await withDatabase { database in
            try await database.transaction { db in
                for n in 1...3 { try await db.customers.insert(customer(n)) }
                try await db.customers.insert(Customer(id: "cus_other", caller: Caller(projectID: "proj_other", livemode: false), name: "Other",
                                                       email: nil, phone: nil, locale: "en", taxID: nil, testClock: nil, metadata: .object([:]),
                                                       created: Timestamp(milliseconds: 9)))
            }
            let first = try await database.read { db in try await db.customers.list(caller: caller, PageRequest(limit: 2, startingAfter: nil), matching: []) }
            #expect(first.items.map(\.id) == ["cus_3", "cus_2"])
            #expect(first.hasMore)
            let second = try await database.read { db in try await db.customers.list(caller: caller, PageRequest(limit: 2, startingAfter: "cus_2"), matching: []) }
            #expect(second.items.map(\.id) == ["cus_1"])
            #expect(!second.hasMore)
            await #expect(throws: UnknownPageCursor.self) {
                _ = try await database.read { db in try await db.customers.list(caller: caller, PageRequest(limit: 2, startingAfter: "cus_other"), matching: []) }
            }
        }
    }

    @Test("A change waits while a renewal holds the subscription, and goes through once that renewal's lease is stale")
    func renewalHoldsChanges() async throws {
        try await withDatabase { database in
            let start = Timestamp(milliseconds: 1_000_000)
            try await database.transaction { db in
                try await db.subscriptions.insert(.init(
                    id: "sub_1", caller: caller, customerID: "cus_1", status: .active, priceID: "price_1", itemID: "si_1", defaultPaymentMethod: nil,
                    billingCycleAnchor: start, periodsBilled: 1, currentPeriodStart: start, currentPeriodEnd: start.adding(seconds: 60),
                    trialEnd: nil, latestCharge: nil, checkoutSessionID: nil, metadata: .object([:]), created: start))
            }
            let due = start.adding(seconds: 61)
            let taken = try await database.transaction { db in
                try await db.subscriptions.takeForRenewal("sub_1", owner: "server-a", now: due, staleRenewal: due.adding(seconds: -300))
            }
            #expect(taken?.periodsBilled == 1)
            let again = try await database.transaction { db in
                try await db.subscriptions.takeForRenewal("sub_1", owner: "server-b", now: due, staleRenewal: due.adding(seconds: -300))
            }
            #expect(again == nil, "a second renewal cannot take it")
            let blocked = try await database.transaction { db in try await db.subscriptions.setCancelAtPeriodEnd("sub_1", true, staleRenewal: due.adding(seconds: -300)) }
            #expect(!blocked)
            let later = due.adding(seconds: 301)
            let allowed = try await database.transaction { db in try await db.subscriptions.setCancelAtPeriodEnd("sub_1", true, staleRenewal: later.adding(seconds: -300)) }
            #expect(allowed)
            let stored = try await database.read { db in try await db.subscriptions.find("sub_1", caller: caller) }
            #expect(stored?.cancelAtPeriodEnd == true)
        }
    }
}
