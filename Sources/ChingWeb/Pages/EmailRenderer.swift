import ChingDomain
import ChingServices
import Foundation
import Mustache

/// The HTML part of a customer email: the `email` template (the stock one, or the brand's override)
/// with the project's brand (its name, colours and logo, by absolute URL since a mail client has
/// no page to resolve it against).
package struct EmailRenderer: Sendable {
    let pages: PageRenderer
    let branding: BrandingStore

    /// What an email shows of the brand: the sender's display name and where replies go.
    package struct Sender: Sendable {
        package let name: String?
        package let replyTo: String?
    }

    package func sender(projectID: String, folderName: String?) -> Sender {
        let brand = branding.brand(projectID: projectID, folderName: folderName).brand
        return Sender(name: brand?.displayName, replyTo: brand?.supportEmail)
    }

    /// A string of the locale files.
    package func text(_ key: String, _ locale: Language) -> String { pages.localization.text(key, locale) }

    /// `body` is plain text: each line a paragraph, escaped; `link` (a document's PDF) a button.
    package func html(subject: String, body: String, link: (url: String, label: String)?, locale: Language, merchantName: String,
                      projectID: String, folderName: String?) -> String? {
        let brand = branding.projectBrand(projectID: projectID, folderName: folderName) as? BrandContext
        var context = pages.base(locale: locale, title: subject, merchantName: merchantName, testMode: false, switchURL: nil, brand: brand)
        // The brand's colours (checked as #rrggbb when its brand.json was read).
        let colors = brand?.brand.colors ?? Brand.Colors()
        context["primaryColor"] = colors.primary
        context["onPrimaryColor"] = colors.onPrimary
        // The page's asset paths are relative to this server; a mail client needs them whole.
        for key in ["logoURL", "iconURL", "brandStylesheet"] {
            if let path = context[key] as? String { context[key] = pages.publicURL + path }
        }
        context["heading"] = subject
        context["paragraphs"] = body.split(separator: "\n").map(String.init)
        if let link { context["linkURL"] = link.url; context["linkLabel"] = link.label }
        // A brand's own `email.mustache` (checked like its page overrides) replaces the stock one.
        return (brand?.library ?? pages.library).render(context, withTemplate: "email")
    }
}

extension WebRoutes {
    package var emails: EmailRenderer { EmailRenderer(pages: pages, branding: branding) }
    /// The locale files' strings, for the services' emails.
    package var texts: any TextSource { pages.localization }

    /// The same strings without the rest of the web layer (a one-off sweep); nil when the files cannot be read.
    package static func texts(templatesDirectory: String) -> (any TextSource)? { try? Localization.load(directory: templatesDirectory) }
}

extension Localization: TextSource {}
