import ChingDomain
import ChingHTTP
import ChingPDF
import ChingServices
import ChingStore
import HTTPTypes
import Hummingbird
import NIOCore

/// `/documents`: Israeli tax documents, numbered per project and mode without gaps or reuse.
struct DocumentsAPI: Sendable {
    let services: AppServices

    func addRoutes(to group: RouterGroup<AppRequestContext>, endpoint: EndpointWrapper) {
        group.get("documents", use: endpoint(list))
        group.get("documents/:id", use: endpoint(retrieve))
        group.get("documents/:id/pdf") { request, context in
            do {
                let caller = try await EndpointWrapper.authenticate(request, services: services)
                let id = context.parameters.get("id") ?? ""
                let document = try await services.database.read { db in try await db.documents.find(id, caller: caller) }
                guard let document else { throw ServiceError.notFound("document", id) }
                return try Self.pdfResponse(document, services: services)
            } catch {
                return RenderedResponse(error: error, logger: context.logger).response
            }
        }
    }

    /// The customer's link (no API key): `/documents/<id>.pdf?key=<access key>`.
    static func addPublicRoute(to router: Router<AppRequestContext>, services: AppServices) {
        router.get("documents/:file") { request, context in
            let file = context.parameters.get("file") ?? ""
            let key = request.uri.queryParameters["key"].map(String.init) ?? ""
            guard file.hasSuffix(".pdf"), !key.isEmpty else { throw HTTPError(.notFound) }
            let id = String(file.dropLast(4))
            let document = try await services.database.read { db in try await db.documents.find(id, accessKey: key) }
            guard let document else { throw HTTPError(.notFound) }
            return try pdfResponse(document, services: services)
        }
    }

    static func pdfResponse(_ document: Document, services: AppServices) throws -> Response {
        let bytes = try Documents.pdf(document, services: services)
        return Response(
            status: .ok,
            headers: [.contentType: "application/pdf", .cacheControl: "private, no-store",
                      .contentDisposition: "inline; filename=\"\(document.id).pdf\""],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// GET /documents/:id
    @Sendable func retrieve(_ call: APICall) async throws -> APIResponse {
        let document = try await services.database.read { db in try await Documents.load(call.id, caller: call.caller, on: db, services: services) }
        guard let document else { throw ServiceError.notFound("document", call.id) }
        return APIResponse(document)
    }

    /// GET /documents
    @Sendable func list(_ call: APICall) async throws -> APIResponse {
        try await ListPage.respond(call, services: services, { db, page in try await db.documents.list(caller: call.caller, page) },
                                   json: { Documents.json($0, services: services) })
    }

}
