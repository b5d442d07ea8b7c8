import ChingDomain
import ChingHTTP
import ChingServices
import Crypto
import Foundation
import Mustache

/// A project's look and page settings, read from `brand.json` in its branding folder and checked.
struct Brand: Sendable {
    struct Asset: Sendable {
        let fileName: String
        let contentType: String
        let bytes: [UInt8]
        /// The first 16 hex digits of the SHA-256: the URL changes when the file does, so it can be cached for a year.
        let hash: String
    }

    struct Colors: Sendable, Equatable {
        var primary = "#1a56db", background = "#ffffff", text = "#1f2937", accent = "#047857"
        /// Text on the primary colour (the pay button): white or near-black, whichever reads.
        var onPrimary = "#ffffff"
    }

    var folder: String
    /// Changes whenever any file of the folder does (the store's stamp): caches of rendered pages key on it.
    var version = ""
    var displayName: String?
    var logo: Asset?
    var icon: Asset?
    var colors = Colors()
    var font = Brand.fonts["system"]!
    var cornerRadius = "8px"
    var defaultLocale: Language?
    var supportEmail: String?
    var supportPhone: String?
    var termsURL: String?
    var privacyURL: String?
    var requireIsraeliID: Bool?
    var maxInstallments: Int64?
    var showVATLine = true
    /// The merchant's templates (`checkout.mustache`, `setup.mustache`, partials), already checked.
    var templates: [String: MustacheTemplate] = [:]
    /// The brand stylesheet (colours, font, corners), served at a content-hash URL.
    var stylesheet: Asset?

    /// The font stacks a brand may choose; a name outside this list is a problem, not a web font.
    static let fonts: [String: String] = [
        "system": #"system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans Hebrew", Arial, sans-serif"#,
        "sans": #"Arial, "Helvetica Neue", "Noto Sans Hebrew", sans-serif"#,
        "serif": #"Georgia, "Times New Roman", "Frank Ruehl CLM", serif"#,
        "rounded": #"ui-rounded, "Varela Round", "Noto Sans Hebrew", system-ui, sans-serif"#,
        "mono": #"ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace"#,
    ]
    static let corners = ["rounded": "8px", "square": "0", "pill": "999px"]
}

/// One thing wrong in a branding folder, named by file and field (and line and column for templates).
package struct BrandProblem: Sendable, Equatable, CustomStringConvertible {
    let file: String
    let field: String
    let message: String
    /// A warning was adjusted automatically (a low-contrast colour); the rest is served as-is.
    package var isWarning = false

    package var description: String { "\(isWarning ? "warning" : "error"): \(file): \(field): \(message)" }
}

/// Reads and checks one branding folder. Errors make the whole folder unusable (the last good
/// brand or the stock look is served instead); warnings are fixed on the fly and reported.
enum BrandLoader {
    static let fields: Set<String> = ["project", "display_name", "logo", "icon", "colors", "font", "corner_style", "default_locale",
                                      "support_email", "support_phone", "terms_url", "privacy_url", "require_israeli_id",
                                      "max_installments", "show_vat_line"]
    /// Templates a merchant may override, and the names its templates may include or extend.
    static let overridable: Set<String> = ["checkout", "setup", "email"]
    static let includable: Set<String> = ["layout", "checkout_page", "setup_page", "card_fields", "form_errors"]

    static func load(folder: String) -> (brand: Brand?, problems: [BrandProblem]) {
        var problems: [BrandProblem] = []
        let file = "\(folder)/brand.json"
        guard let data = FileManager.default.contents(atPath: file) else {
            return (nil, [BrandProblem(file: file, field: "", message: "brand.json is missing.")])
        }
        let json: JSONValue
        do {
            json = try JSONValue.parse(Array(data))
        } catch {
            return (nil, [BrandProblem(file: file, field: "", message: "Not valid JSON at byte \(error.offset): \(error.message).")])
        }
        var reader = FieldReader(body: json)
        reader.rejectUnknownFields(allowing: fields)
        var brand = Brand(folder: folder)
        brand.displayName = reader.string("display_name", maxLength: 100)
        _ = reader.string("project", maxLength: 64)
        brand.defaultLocale = reader.choice("default_locale")
        brand.supportEmail = reader.email("support_email")
        brand.supportPhone = reader.string("support_phone", maxLength: 32)
        brand.termsURL = reader.url("terms_url", allowHTTP: false)
        brand.privacyURL = reader.url("privacy_url", allowHTTP: false)
        brand.requireIsraeliID = reader.boolean("require_israeli_id")
        brand.maxInstallments = reader.integer("max_installments", in: 1...12)
        brand.showVATLine = reader.boolean("show_vat_line") ?? true
        if let font = reader.string("font", maxLength: 40) {
            if let stack = Brand.fonts[font] { brand.font = stack } else {
                reader.fail("font", "Unknown font; use one of \(Brand.fonts.keys.sorted().joined(separator: ", ")).")
            }
        }
        if let corner = reader.string("corner_style", maxLength: 20) {
            if let radius = Brand.corners[corner] { brand.cornerRadius = radius } else {
                reader.fail("corner_style", "Must be one of rounded, square, pill.")
            }
        }
        for (key, keyPath) in [("logo", \Brand.logo), ("icon", \Brand.icon)] {
            guard let name = reader.string(key, maxLength: 100) else { continue }
            switch asset(named: name, in: folder) {
            case .success(let asset): brand[keyPath: keyPath] = asset
            case .failure(let problem): reader.fail(key, problem.message)
            }
        }
        if var colors = reader.nested("colors") {
            colors.rejectUnknownFields(allowing: ["primary", "background", "text", "accent"])
            for (key, keyPath) in [("primary", \Brand.Colors.primary), ("background", \Brand.Colors.background),
                                   ("text", \Brand.Colors.text), ("accent", \Brand.Colors.accent)] {
                guard let value = colors.string(key, maxLength: 7) else { continue }
                if Color(hex: value) == nil { colors.fail(key, "Must be a CSS hex colour like #1a56db.") } else { brand.colors[keyPath: keyPath] = value.lowercased() }
            }
            reader.merge(colors)
        }
        problems += reader.issues.map { BrandProblem(file: file, field: $0.path, message: $0.message) }
        problems += adjustContrast(&brand.colors, file: file)
        let (templates, templateProblems) = loadTemplates(folder: folder)
        brand.templates = templates
        problems += templateProblems
        brand.stylesheet = stylesheet(for: brand)
        return (problems.contains { !$0.isWarning } ? nil : brand, problems)
    }

    /// Why a logo or icon file cannot be used.
    struct AssetProblem: Error { let message: String }

    static func asset(named name: String, in folder: String) -> Result<Brand.Asset, AssetProblem> {
        let types = ["svg": "image/svg+xml", "png": "image/png", "webp": "image/webp"]
        guard !name.contains("/"), !name.hasPrefix("."), let type = types[(name.split(separator: ".").last).map { String($0).lowercased() } ?? ""] else {
            return .failure(AssetProblem(message: "Must be a file name in this folder ending in .svg, .png or .webp."))
        }
        guard let data = FileManager.default.contents(atPath: "\(folder)/\(name)") else { return .failure(AssetProblem(message: "The file \(name) is missing.")) }
        guard data.count <= 512 * 1024 else { return .failure(AssetProblem(message: "The file \(name) is larger than 512 KiB.")) }
        let bytes = Array(data)
        return .success(Brand.Asset(fileName: name, contentType: type, bytes: bytes, hash: String(hexString(SHA256.hash(data: bytes)).prefix(16))))
    }

    /// WCAG AA: body text needs 4.5:1 on the background, and the pay button's text 4.5:1 on the primary colour.
    static func adjustContrast(_ colors: inout Brand.Colors, file: String) -> [BrandProblem] {
        var problems: [BrandProblem] = []
        guard let background = Color(hex: colors.background), let primary = Color(hex: colors.primary), let text = Color(hex: colors.text) else { return [] }
        if text.contrast(with: background) < 4.5 {
            let adjusted = text.adjusted(toContrast: 4.5, on: background)
            problems.append(BrandProblem(file: file, field: "colors.text",
                message: "\(colors.text) on \(colors.background) has a contrast of \(text.contrastString(with: background)):1, below WCAG AA's 4.5:1; \(adjusted.hex) is used instead.",
                isWarning: true))
            colors.text = adjusted.hex
        }
        let white = Color(red: 255, green: 255, blue: 255), dark = Color(red: 17, green: 24, blue: 39)
        colors.onPrimary = white.contrast(with: primary) >= dark.contrast(with: primary) ? white.hex : dark.hex
        if Color(hex: colors.onPrimary)!.contrast(with: primary) < 4.5 {
            let adjusted = primary.adjusted(toContrast: 4.5, on: Color(hex: colors.onPrimary)!)
            problems.append(BrandProblem(file: file, field: "colors.primary",
                message: "No text colour reads on \(colors.primary) at WCAG AA's 4.5:1; the button uses \(adjusted.hex) instead.", isWarning: true))
            colors.primary = adjusted.hex
        }
        return problems
    }

    /// Loads the merchant's templates, refusing what could print raw HTML, reach outside the
    /// allowlist, or recurse. No cycle is possible: a page override (`checkout`, `setup`) may
    /// include system templates and this folder's partials; a partial may include system
    /// templates only; and no file may take a system template's name.
    static func loadTemplates(folder: String) -> ([String: MustacheTemplate], [BrandProblem]) {
        var templates: [String: MustacheTemplate] = [:], problems: [BrandProblem] = []
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        let names = Set(files.filter { $0.hasSuffix(".mustache") }.map { String($0.dropLast(".mustache".count)) })
        let partials = names.subtracting(overridable)
        for name in names.sorted() {
            let file = "\(folder)/\(name).mustache"
            if PageRenderer.templateNames.contains(name) && !overridable.contains(name) {
                problems.append(BrandProblem(file: file, field: "", message: "\(name) is a system template and cannot be replaced; override blocks of checkout or setup instead."))
                continue
            }
            guard let text = FileManager.default.contents(atPath: file).map({ String(decoding: $0, as: UTF8.self) }) else { continue }
            let allowed = overridable.contains(name) ? includable.union(partials) : includable
            let found = TemplateSafety.problems(in: text, allowedIncludes: allowed)
            if !found.isEmpty {
                problems += found.map { BrandProblem(file: file, field: "line \($0.line), column \($0.column)", message: $0.message) }
                continue
            }
            do {
                templates[name] = try MustacheTemplate(string: text)
            } catch {
                problems.append(BrandProblem(file: file, field: "", message: "Not a valid Mustache template: \(error)"))
            }
        }
        return (templates, problems)
    }

    static func stylesheet(for brand: Brand) -> Brand.Asset {
        let c = brand.colors
        let css = """
            :root { --primary: \(c.primary); --on-primary: \(c.onPrimary); --background: \(c.background); --text: \(c.text); \
            --discount: \(c.accent); --radius: \(brand.cornerRadius); --font: \(brand.font); }
            .merchant-logo { max-height: 40px; width: auto; }

            """
        let bytes = Array(css.utf8)
        return Brand.Asset(fileName: "brand.css", contentType: "text/css; charset=utf-8", bytes: bytes,
                           hash: String(hexString(SHA256.hash(data: bytes)).prefix(16)))
    }
}

/// A checked merchant template problem, with its position.
struct TemplateProblem: Sendable, Equatable {
    let line: Int
    let column: Int
    let message: String
}

/// The checks BRANDING.md asks of merchant templates: no raw output (`{{{`, `{{&`), no pragmas
/// (`{{%`), no delimiter changes (`{{=`, which would hide the rest from this check), and partials
/// and parents only from the allowlist (so no template can include itself or reach files).
enum TemplateSafety {
    static func problems(in text: String, allowedIncludes: Set<String>) -> [TemplateProblem] {
        var problems: [TemplateProblem] = []
        let characters = Array(text)
        var index = 0, line = 1, column = 1
        while index < characters.count {
            if characters[index] == "{", index + 1 < characters.count, characters[index + 1] == "{" {
                let sigil = index + 2 < characters.count ? characters[index + 2] : " "
                var end = index + 2
                while end + 1 < characters.count, !(characters[end] == "}" && characters[end + 1] == "}") { end += 1 }
                let body = String(characters[min(index + 3, characters.count)..<min(end, characters.count)]).trimmingWhitespace()
                switch sigil {
                case "{": problems.append(TemplateProblem(line: line, column: column, message: "Triple mustaches print raw HTML; use {{name}}."))
                case "&": problems.append(TemplateProblem(line: line, column: column, message: "{{& ...}} prints raw HTML; use {{name}}."))
                case "%": problems.append(TemplateProblem(line: line, column: column, message: "Pragmas are not allowed."))
                case "=": problems.append(TemplateProblem(line: line, column: column, message: "Changing delimiters is not allowed."))
                case ">", "<":
                    if body.hasPrefix("*") || !allowedIncludes.contains(body) {
                        problems.append(TemplateProblem(line: line, column: column,
                            message: "\"\(body)\" is not a template that can be included here (allowed: \(allowedIncludes.sorted().joined(separator: ", ")))."))
                    }
                default: break
                }
            }
            if characters[index] == "\n" { line += 1; column = 1 } else { column += 1 }
            index += 1
        }
        return problems
    }
}

/// An sRGB colour, for WCAG contrast.
struct Color: Sendable, Equatable {
    let red: Int, green: Int, blue: Int

    init(red: Int, green: Int, blue: Int) { self.red = red; self.green = green; self.blue = blue }

    /// `#rgb` or `#rrggbb`.
    init?(hex: String) {
        guard hex.hasPrefix("#") else { return nil }
        var digits = String(hex.dropFirst())
        if digits.count == 3 { digits = digits.map { "\($0)\($0)" }.joined() }
        guard digits.count == 6, let value = Int(digits, radix: 16) else { return nil }
        red = value >> 16 & 255; green = value >> 8 & 255; blue = value & 255
    }

    var hex: String { "#" + [red, green, blue].map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }

    var luminance: Double {
        func channel(_ value: Int) -> Double {
            let c = Double(value) / 255
            return c <= 0.03928 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4)
        }
        return 0.2126 * channel(red) + 0.7152 * channel(green) + 0.0722 * channel(blue)
    }

    func contrast(with other: Color) -> Double {
        let (a, b) = (luminance, other.luminance)
        return (max(a, b) + 0.05) / (min(a, b) + 0.05)
    }

    func contrastString(with other: Color) -> String { String(Double(Int(contrast(with: other) * 100)) / 100) }

    /// This colour moved towards black or white (whichever the background leaves room for) until it reaches `ratio`.
    func adjusted(toContrast ratio: Double, on background: Color) -> Color {
        let towardsBlack = background.luminance > 0.18
        var step = 0.0
        var candidate = self
        while candidate.contrast(with: background) < ratio && step < 1 {
            step += 0.02
            let target = towardsBlack ? 0.0 : 255.0
            func mix(_ value: Int) -> Int { Int((Double(value) + (target - Double(value)) * step).rounded()) }
            candidate = Color(red: mix(red), green: mix(green), blue: mix(blue))
        }
        return candidate
    }
}
