import ChingDomain
import ChingHTTP
import ChingServices
import ChingStore
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// The hosted pages (checkout, setup, the billing portal) and the brands' assets, with the templates and the
/// branding folders they render with.
package struct WebRoutes: Sendable {
    let pages: PageRenderer
    let branding: BrandingStore
    /// The projects' brands, for `AppServices.branding`.
    package var brands: any BrandSource { branding }

    /// Reads the templates and locales (a broken one stops the start) and opens the branding root.
    package static func load(templatesDirectory: String, brandingDirectory: String, publicURL: String, logger: Logger) async throws -> WebRoutes {
        let pages = try await PageRenderer.load(templatesDirectory: templatesDirectory, publicURL: publicURL, logger: logger)
        return WebRoutes(pages: pages, branding: BrandingStore(root: brandingDirectory, stock: pages.library, logger: logger))
    }

    package func add(to router: Router<AppRequestContext>, services: AppServices, limiter: AttemptLimiter) {
        router.get("brand/:project/:file") { _, context in
            // Logos, icons and the brand stylesheet, at content-hash URLs: cacheable for a year.
            let projectID = context.parameters.get("project") ?? "", file = context.parameters.get("file") ?? ""
            let folderName = try await services.database.read { db in
                try await db.projects.find(projectID)?.branding
            }
            guard let brand = branding.brand(projectID: projectID, folderName: folderName).brand,
                  let asset = [brand.logo, brand.icon, brand.stylesheet].compactMap({ $0 }).first(where: {
                      file == $0.hash + "." + ($0.fileName.split(separator: ".").last.map(String.init) ?? "")
                  })
            else { throw HTTPError(.notFound) }
            return Response(status: .ok, headers: [.contentType: asset.contentType, .cacheControl: "public, max-age=31536000, immutable",
                                                   HTTPField.Name("X-Content-Type-Options")!: "nosniff"],
                            body: .init(byteBuffer: ByteBuffer(bytes: asset.bytes)))
        }
        let hosted = router.group().add(middleware: HostedPageErrorMiddleware(pages: pages))
        HostedPages(flow: CheckoutFlow(services: services, pages: pages, cache: PageCache()), services: services, pages: pages, limiter: limiter)
            .addRoutes(to: hosted)
        HostedPages(flow: SetupFlow(services: services, pages: pages), services: services, pages: pages, limiter: limiter).addRoutes(to: hosted)
        PortalPages(services: services, pages: pages).addRoutes(to: hosted)
        ProviderCallbacks(services: services).addRoutes(to: router)
    }
}
