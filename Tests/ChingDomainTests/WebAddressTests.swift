import ChingDomain
import Testing

@Suite("WebAddress: the ASCII form of merchant URLs")
struct WebAddressTests {
    /// The normalized URL, or nil when refused.
    static func accepted(_ url: String, allowHTTP: Bool = false) -> String? {
        try? WebAddress.normalized(url, allowHTTP: allowHTTP).get()
    }

    /// The refusal message, or nil when accepted.
    static func refusal(_ url: String, allowHTTP: Bool = false) -> String? {
        guard case .failure(let refusal) = WebAddress.normalized(url, allowHTTP: allowHTTP) else { return nil }
        return refusal.message
    }

    @Test("An accepted URL comes out in ASCII, with scheme and host in lowercase", arguments: [
        ("https://例え.jp/ok", "https://xn--r8jz45g.jp/ok"),
        ("https://Shop.Example/caf\u{e9}?q=\u{5e9}", "https://shop.example/caf%C3%A9?q=%D7%A9"),
        ("https://bücher.de", "https://xn--bcher-kva.de"),
        ("HTTPS://SHOP.EXAMPLE.COM/Thanks", "https://shop.example.com/Thanks"),
        ("https://пример.рф/корзина", "https://xn--e1afmkfd.xn--p1ai/%D0%BA%D0%BE%D1%80%D0%B7%D0%B8%D0%BD%D0%B0"),
        ("https://חנות.example", "https://xn--9dbd1a4b.example"),
        ("https://straße.de/", "https://xn--strae-oqa.de/"),
        // Decomposed "u" + U+0308 is the same host as a composed "ü".
        ("https://u\u{308}ber.example/", "https://xn--ber-goa.example/"),
        // IDNA's full stops and full-width ASCII.
        ("https://例え。jp/", "https://xn--r8jz45g.jp/"),
        ("https://ｓｈｏｐ．ｅｘａｍｐｌｅ/", "https://shop.example/"),
        ("https://shop.example./", "https://shop.example/"),
        ("https://192.0.2.1/x", "https://192.0.2.1/x"),
    ])
    func normalizes(url: String, expected: String) {
        #expect(Self.accepted(url) == expected)
    }

    @Test("An ASCII URL with nothing to encode is unchanged", arguments: [
        "https://shop.example/ok?session={CHECKOUT_SESSION_ID}",
        "https://shop.example/done?setup={SETUP_SESSION_ID}#top",
        "https://shop.example/%E2%82%AC",
        "https://shop.example/%e2%82%ac",
        "https://shop.example/a?b=c?d&e=/f",
        "https://shop.example/!$&'()*+,;=:@~-._",
        "https://shop.example:443",
        "https://shop.example:8443/x",
        "https://[::1]:8443/x",
        "https://[::ffff:192.0.2.1]/",
        "https://[1:2:3:4:5:6:7:8]/",
        "https://" + String(repeating: "a", count: 63) + ".example/",
    ])
    func unchanged(url: String) {
        #expect(Self.accepted(url) == url)
    }

    @Test("Path, query and fragment are percent-encoded byte by byte", arguments: [
        ("https://shop.example/100%", "https://shop.example/100%25"),
        ("https://shop.example/%zz%4", "https://shop.example/%25zz%254"),
        ("https://shop.example/a|b^c`d<e>f\"g\\h[i]", "https://shop.example/a%7Cb%5Ec%60d%3Ce%3Ef%22g%5Ch%5Bi%5D"),
        ("https://shop.example/p#frag?x/y#z", "https://shop.example/p#frag?x/y%23z"),
        ("https://shop.example/€?€#€", "https://shop.example/%E2%82%AC?%E2%82%AC#%E2%82%AC"),
        ("https://shop.example?q=\u{5e9}", "https://shop.example?q=%D7%A9"),
    ])
    func percentEncodes(url: String, expected: String) {
        #expect(Self.accepted(url) == expected)
    }

    @Test("The host is lowercased and the port loses its leading zeros", arguments: [
        ("https://[2001:DB8::1]/", "https://[2001:db8::1]/"),
        ("https://shop.example:0080/", "https://shop.example:80/"),
        ("https://shop.example:65535", "https://shop.example:65535"),
        ("https://\u{212A}.example/", "https://k.example/"),
    ])
    func hostAndPort(url: String, expected: String) {
        #expect(Self.accepted(url) == expected)
    }

    @Test("Whatever is accepted is printable ASCII without spaces", arguments: [
        "https://例え.jp/ok", "https://Shop.Example/caf\u{e9}?q=\u{5e9}#\u{1F600}", "https://bücher.de/ü?ü#ü#ü",
        "https://shop.example/\u{202E}evil", "https://shop.example/\u{200B}",
    ])
    func outputIsASCII(url: String) throws {
        let normalized = try #require(Self.accepted(url))
        #expect(normalized.utf8.allSatisfy { (0x21...0x7E).contains($0) })
    }

    @Test("A bad port is refused", arguments: [
        "https://shop.example:99999/", "https://shop.example:65536/", "https://shop.example:-1/",
        "https://shop.example:0/", "https://shop.example:000/", "https://shop.example:/", "https://shop.example:80a/",
        "https://shop.example:1:2/", "https://shop.example:８０/", "https://[::1]:/x",
    ])
    func badPort(url: String) {
        #expect(Self.refusal(url) == "Must have a port between 1 and 65535.")
    }

    @Test("Credentials in the authority are refused", arguments: [
        "https://user:pass@shop.example/", "https://user@shop.example/", "https://@shop.example/",
        "https://shop.example\\@evil.example/",
    ])
    func credentials(url: String) {
        #expect(Self.refusal(url) == "Must not contain a user name or password.")
    }

    @Test("A bad host is refused", arguments: [
        "https://.../", "https://a..b/", "https://.a/", "https://./", "https://:80/",
        "https://-shop.example/", "https://shop-.example/", "https://shop!.example/", "https://ex<ample.com/",
        "https://shop.example\\evil.example/", "https://shop\u{FF3C}evil.example/",
        "https://caf\u{e9}\u{2603}.example/", "https://x\u{B2}.example/", "https://\u{301}a.example/",
        "https://" + String(repeating: "a", count: 64) + ".example/",
        "https://" + Array(repeating: String(repeating: "a", count: 63), count: 4).joined(separator: ".") + "/",
        "https://1.2.3/", "https://256.1.1.1/", "https://01.2.3.4/", "https://shop.123/", "https://shop.0x1f/",
        "https://[]/", "https://[::1/", "https://[::1]x/", "https://[1::2::3]/", "https://[g::1]/",
        "https://[1:2:3:4:5:6:7:8:9]/", "https://[1.2.3.4]/", "https://[::1%25eth0]/",
        // A CSP source cannot name a host with "_": the redirect after the form would be blocked.
        "https://my_shop.example/",
    ])
    func badHost(url: String) {
        #expect(Self.refusal(url) == "Must have a valid host name.")
    }

    @Test("Spaces and control characters are refused anywhere", arguments: [
        "https://münchen.de:8443/a b", "https://exa mple.com/", "https://shop.example/a\tb", "https://shop.example/\u{7}",
        "https://shop.example/\u{7F}", "https://shop.example/\u{85}", "https://shop.example/\u{A0}", "https://shop.example/?q=\u{2028}",
        "https://", "https:///path", "https://?q", "https://#top",
    ])
    func spacesAndControls(url: String) {
        #expect(Self.refusal(url) == "Must be an absolute URL with a host and no spaces.")
    }

    @Test("Plain http is for local hosts unless allowed", arguments: [
        ("http://localhost:3000/ok", false, "http://localhost:3000/ok"),
        ("HTTP://LOCALHOST:3000/ok", false, "http://localhost:3000/ok"),
        ("http://127.0.0.1:3000/", false, "http://127.0.0.1:3000/"),
        ("http://[::1]:3000/done", false, "http://[::1]:3000/done"),
        ("http://shop.example/ok", true, "http://shop.example/ok"),
        ("http://shop.example/ok", false, nil),
        ("http://localhost.shop.example/", false, nil),
    ] as [(String, Bool, String?)])
    func plainHTTP(url: String, allowHTTP: Bool, expected: String?) {
        #expect(Self.accepted(url, allowHTTP: allowHTTP) == expected)
        if expected == nil { #expect(Self.refusal(url, allowHTTP: allowHTTP) == "Must be an https:// URL.") }
    }

    @Test("A local-looking http URL whose host is really elsewhere is refused, with or without http allowed")
    func localhostWithCredentials() {
        #expect(Self.refusal("http://localhost:80@evil.example/") == "Must be an https:// URL.")
        #expect(Self.refusal("http://localhost:80@evil.example/", allowHTTP: true) == "Must not contain a user name or password.")
    }

    @Test("Punycode matches the RFC 3492 §7.1 samples", arguments: [
        ("\u{644}\u{64A}\u{647}\u{645}\u{627}\u{628}\u{62A}\u{643}\u{644}\u{645}\u{648}\u{634}\u{639}\u{631}\u{628}\u{64A}\u{61F}",
         "egbpdaj6bu4bxfgehfvwxn"),  // (A) Arabic
        ("他们为什么不说中文", "ihqwcrb4cv8a8dqg056pqjye"),  // (B) Chinese, simplified
        ("Pro\u{10D}prost\u{11B}nemluv\u{ED}\u{10D}esky", "Proprostnemluvesky-uyb24dma41a"),  // (D) Czech
        ("למההםפשוטלאמדבריםעברית", "4dbcagdahymbxekheh6e0a7fei0b"),  // (E) Hebrew
        ("3年B組金八先生", "3B-ww4c5e180e575a65lsy2b"),  // (L)
        ("安室奈美恵-with-SUPER-MONKEYS", "-with-SUPER-MONKEYS-pc58ag80a8qai00g7n9n"),  // (M)
        ("パフィーdeルンバ", "de-jg4avhby1noc0d"),  // (Q)
        ("-> $1.00 <-", "-> $1.00 <--"),  // (S) all basic code points
    ])
    func punycode(input: String, expected: String) {
        #expect(WebAddress.punycode(input) == expected)
    }
}

@Suite("WebAddress: a URL's scheme, host and port")
struct WebAddressAuthorityTests {
    @Test("The origin is the scheme, the host and a port when one is given", arguments: [
        ("https://shop.example.com/thanks?x=1", "https://shop.example.com"),
        ("https://Shop.Example.com:8443#frag", "https://shop.example.com:8443"),
        ("http://[::1]:3000/ok", "http://[::1]:3000"),
        ("https://xn--r8jz45g.jp", "https://xn--r8jz45g.jp"),
    ])
    func origin(url: String, origin: String) {
        #expect(WebAddress.origin(of: url) == origin)
    }

    @Test("A URL without a host, or with credentials, has no origin", arguments: ["https://", "/thanks", "shop.example.com", "https://user@shop.example.com/"])
    func noOrigin(url: String) {
        #expect(WebAddress.origin(of: url) == nil)
    }

    @Test("Loopback hosts in every spelling are this machine; others are not", arguments: [
        ("https://localhost/x", true), ("https://api.localhost/x", true), ("https://127.0.0.2:8443/", true), ("https://[::1]/", true),
        ("https://0.0.0.0/", true), ("https://[0:0:0:0:0:0:0:1]/", true), ("https://localhost.example.com/", false),
        ("https://shop.example.com/127.0.0.1", false), ("https://localhost@shop.example.com/", false),
        ("https://[::ffff:127.0.0.1]/", true), ("https://[::ffff:7f00:1]/", true), ("https://[0::1]/", true), ("https://[::]/", true),
        ("https://[0:0:0:0:0:ffff:0.0.0.0]/", true), ("https://[2001:db8::1]/", false), ("https://[::ffff:8.8.8.8]/", false),
    ])
    func loopback(url: String, expected: Bool) {
        #expect(WebAddress.isLoopback(url) == expected)
    }
}

