import ChingDomain
import ChingHTTP
import ChingPDF
import ChingServices
import ChingStore
import HTTPTypes
import Hummingbird
import NIOCore
import SQLKit

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
                let row = try await services.database.read { db in try await Documents.row(id, caller: caller, on: db) }
                guard let row else { throw ServiceError.notFound("document", id) }
                return try Self.pdfResponse(row, services: services)
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
            let row = try await services.database.read { db in
                try await db.raw("SELECT * FROM documents WHERE id = \(bind: id) AND access_key = \(bind: key)").first()
            }
            guard let row else { throw HTTPError(.notFound) }
            return try pdfResponse(row, services: services)
        }
    }

    static func pdfResponse(_ row: any SQLRow, services: AppServices) throws -> Response {
        let bytes = try Documents.pdf(row, services: services)
        return Response(
            status: .ok,
            headers: [.contentType: "application/pdf", .cacheControl: "private, no-store",
                      .contentDisposition: "inline; filename=\"\(try row.string("id")).pdf\""],
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
        try await services.database.read { db in
            let page = try await ListPage.read(call, table: "documents", on: db)
            let rows = try await page.rows(on: db)
            return page.response(try rows.map { try Documents.json($0, services: services) })
        }
    }

}
