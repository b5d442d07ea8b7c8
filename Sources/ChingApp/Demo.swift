import ChingAPI
import ChingDomain
import ChingHTTP
import ChingServices
import ChingStore
import ChingWeb
import Hummingbird

/// What the first start on an empty database makes, so the README's one command ends with pages to
/// open (see `DemoSessions`).
public enum Demo {
    public struct Links: Sendable {
        public let checkoutURL: String
        public let setupURL: String
    }

    public static func createSessions(projectID: String, configuration: AppConfiguration, database: Database) async throws -> Links {
        let (checkout, setup) = try await DemoSessions.create(projectID: projectID, services: makeServices(configuration, database: database))
        return Links(checkoutURL: checkout, setupURL: setup)
    }
}
