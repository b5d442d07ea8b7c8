import ChingHTTP
import ChingServices

/// What `ching branding init` writes: a valid starter `brand.json`, a logo, and a README that
/// explains every field (JSON has no comments, so the explanations live beside it).
public enum BrandingStarter {
    public static let brandJSON = """
        {
          "display_name": "My Shop",
          "logo": "logo.svg",
          "colors": { "primary": "#1a56db", "background": "#ffffff", "text": "#1f2937", "accent": "#047857" },
          "font": "system",
          "corner_style": "rounded",
          "default_locale": "he",
          "support_email": "support@example.com",
          "terms_url": "https://example.com/terms",
          "privacy_url": "https://example.com/privacy",
          "require_israeli_id": false,
          "max_installments": 12,
          "show_vat_line": true
        }

        """

    public static let logo = """
        <svg xmlns="http://www.w3.org/2000/svg" width="160" height="40" viewBox="0 0 160 40"><rect width="40" height="40" rx="8" fill="#1a56db"/><text x="52" y="27" font-family="sans-serif" font-size="20" fill="#1f2937">My Shop</text></svg>

        """

    public static let readme = """
        # Branding folder

        The hosted checkout and setup pages of one project. Changes show on the next page load; run
        `ching branding check` before deploying. A file with an error is never served: the last good
        version (or the stock look) is, and the server logs the problem once.

        brand.json fields (all optional):
        - display_name: the name in the page header and title (default: the project's name).
        - logo, icon: file names in this folder (.svg, .png or .webp, at most 512 KiB).
        - colors: primary (buttons, links), background, text, accent (discounts), as #rrggbb.
          Text that would fail WCAG AA contrast (4.5:1) on the background is darkened or lightened.
        - font: system, sans, serif, rounded or mono (system font stacks; no web fonts are loaded).
        - corner_style: rounded, square or pill.
        - default_locale: he or en (when neither the session nor the customer sets one).
        - support_email, support_phone, terms_url, privacy_url: shown in the page footer.
        - require_israeli_id: ask for the customer's Israeli ID number on the card form.
        - max_installments: 1 to 12, the most installments a one-time payment offers.
        - show_vat_line: false hides the "includes VAT" line.

        Templates: a checkout.mustache or setup.mustache here replaces the stock page for this project
        only. Extend the stock page and override just the blocks you need:

            {{<checkout_page}}
            {{$header}}<strong>{{merchantName}}</strong>{{/header}}
            {{/checkout_page}}

        Blocks: header, summary, form, footer. Templates may only include layout, checkout_page,
        setup_page, card_fields, form_errors and other templates in this folder; {{{ }}}, {{& }},
        pragmas and delimiter changes are refused, because every value is escaped HTML.

        """
}
