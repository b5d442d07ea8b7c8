/// Checks and normalizes the URLs merchants hand us for redirects, images and webhooks.
///
/// A URL we accept is sent back in `Location` headers and CSP sources, whose bytes browsers read as
/// Latin-1, so the stored form must be plain ASCII: the host in IDNA (punycode) form and everything
/// after it percent-encoded.
public enum WebAddress {
    /// Why a URL was refused; `message` is meant for a `FieldIssue`.
    public struct Refusal: Error, Equatable, Sendable {
        public let message: String
        init(_ message: String) { self.message = message }

        static let notHTTPS = Refusal("Must be an https:// URL.")
        static let notAbsolute = Refusal("Must be an absolute https:// URL.")
        static let noHostOrSpaces = Refusal("Must be an absolute URL with a host and no spaces.")
        static let credentials = Refusal("Must not contain a user name or password.")
        static let port = Refusal("Must have a port between 1 and 65535.")
        static let host = Refusal("Must have a valid host name.")
    }

    /// The URL as it must be stored and sent: ASCII only (punycode host, percent-encoded path, query
    /// and fragment), lowercase scheme and host, the port without leading zeros. Or why it is refused.
    public static func normalized(_ string: String, allowHTTP: Bool) -> Result<String, Refusal> {
        let scheme: String
        if hasASCIIPrefix(string, "https://") {
            scheme = "https"
        } else if hasASCIIPrefix(string, "http://") {
            guard allowHTTP || isLocalhost(string.lowercased()) else { return .failure(.notHTTPS) }
            scheme = "http"
        } else {
            return .failure(.notAbsolute)
        }
        // Spaces and controls are refused rather than encoded: they are almost always a paste error.
        guard !string.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.properties.generalCategory == .control })
        else { return .failure(.noHostOrSpaces) }

        let scalars = Array(string.unicodeScalars.dropFirst(scheme.count + 3))
        let authorityEnd = scalars.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? scalars.endIndex
        let authority = scalars[..<authorityEnd]
        guard !authority.isEmpty else { return .failure(.noHostOrSpaces) }
        // Credentials would be shown to the customer and are a classic way to disguise the real host.
        guard !authority.contains("@") else { return .failure(.credentials) }
        // Browsers read "\" as "/" here, so the host they see would not be the one we checked.
        guard !authority.contains("\\") else { return .failure(.host) }

        // A literal IPv6 host has colons of its own: the port comes after its "]".
        var hostPart = authority
        var portPart: ArraySlice<Unicode.Scalar>?
        let colon = authority.first == "["
            ? authority.firstIndex(of: "]").map { authority.index(after: $0) }
            : authority.firstIndex(of: ":")
        if let colon, colon < authority.endIndex {
            guard authority[colon] == ":" else { return .failure(.host) }
            hostPart = authority[..<colon]
            portPart = authority[(colon + 1)...]
        }
        guard let host = host(hostPart) else { return .failure(.host) }
        var port = ""
        if let portPart {
            guard let number = portNumber(portPart) else { return .failure(.port) }
            port = ":\(number)"
        }
        return .success(scheme + "://" + host + port + percentEncoded(scalars[authorityEnd...]))
    }

    /// The scheme, host and port of an absolute URL, as `normalized` splits them (brackets kept
    /// around an IPv6 host). The one place that finds a URL's host: redirects' CSP sources, the
    /// pages' `Origin` check and the webhook loopback rule all read it here.
    public struct Authority: Sendable, Equatable {
        public let scheme: String
        public let host: String
        public let port: Int?
        /// `https://shop.example.com:8443`, as browsers send it in `Origin` and CSP names it.
        public var origin: String { scheme + "://" + host + (port.map { ":\($0)" } ?? "") }
    }

    /// nil when `url` has no scheme and host, or has credentials.
    public static func authority(of url: String) -> Authority? {
        guard let colon = url.firstIndex(of: ":"), url[colon...].hasPrefix("://") else { return nil }
        let scheme = url[..<colon].lowercased()
        let authority = url[url.index(colon, offsetBy: 3)...].prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !scheme.isEmpty, !authority.isEmpty, !authority.contains("@") else { return nil }
        var host = Substring(authority), port: Int?
        let portColon = authority.hasPrefix("[") ? authority.firstIndex(of: "]").flatMap { authority.index(after: $0) } : authority.firstIndex(of: ":")
        if let portColon, portColon < authority.endIndex, authority[portColon] == ":" {
            host = authority[..<portColon]
            port = Int(authority[authority.index(after: portColon)...])
        }
        guard !host.isEmpty else { return nil }
        return Authority(scheme: scheme, host: host.lowercased(), port: port)
    }

    /// `https://shop.example.com` from `https://shop.example.com/thanks?x=1`.
    public static func origin(of url: String) -> String? { authority(of: url)?.origin }

    /// Whether the URL's host is localhost, 127.0.0.1 or [::1], where plain http is fine.
    public static func isLocalhost(_ url: String) -> Bool {
        ["localhost", "127.0.0.1", "[::1]"].contains(authority(of: url)?.host ?? "")
    }

    /// Whether the URL names this machine in any spelling (a live webhook may not): localhost,
    /// 127/8, 0.0.0.0, and in IPv6 `::1`, `::` and those IPv4 addresses mapped (`::ffff:127.0.0.1`).
    public static func isLoopback(_ url: String) -> Bool {
        guard let authority = authority(of: url) else { return false }
        let host = authority.host
        if host.hasPrefix("["), let bytes = ipv6Bytes(host.dropFirst().dropLast()) {
            let mappedIPv4 = bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF
            return bytes[0..<15].allSatisfy { $0 == 0 } && bytes[15] <= 1
                || mappedIPv4 && (bytes[12] == 127 || bytes[12...15].allSatisfy { $0 == 0 })
        }
        return host == "localhost" || host.hasSuffix(".localhost") || host.hasPrefix("127.") || host == "0.0.0.0"
    }

    /// The sixteen bytes of a valid IPv6 address (as `isIPv6` accepts it), else nil.
    static func ipv6Bytes(_ text: Substring) -> [UInt8]? {
        guard isIPv6(text) else { return nil }
        func groups(_ part: Substring) -> [UInt16] {
            part.split(separator: ":").flatMap { piece -> [UInt16] in
                if piece.contains(".") {
                    let octets = piece.split(separator: ".").compactMap { UInt16($0) }
                    return [octets[0] << 8 | octets[1], octets[2] << 8 | octets[3]]
                }
                return [UInt16(piece, radix: 16) ?? 0]
            }
        }
        let halves = text.split(separator: "::", omittingEmptySubsequences: false)
        let head = groups(halves[0]), tail = halves.count == 2 ? groups(halves[1]) : []
        let all = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }

    /// Punycode (RFC 3492) of one label, without the "xn--" prefix; the code points are taken as given.
    public static func punycode(_ label: String) -> String {
        punycode(Array(label.unicodeScalars))
    }

    // MARK: - Scheme and port

    private static func hasASCIIPrefix(_ string: String, _ prefix: String) -> Bool {
        let head = Array(string.utf8.prefix(prefix.utf8.count))
        // Only A–Z are folded: the rest of the string may not even be ASCII.
        return head.count == prefix.utf8.count && zip(head, prefix.utf8).allSatisfy { byte, expected in
            ((65...90).contains(byte) ? byte + 32 : byte) == expected
        }
    }

    /// 1…65535 written in ASCII digits, returned without leading zeros.
    private static func portNumber(_ digits: ArraySlice<Unicode.Scalar>) -> Int? {
        guard !digits.isEmpty, digits.allSatisfy(isASCIIDigit) else { return nil }
        let significant = digits.drop { $0 == "0" }
        guard significant.count <= 5 else { return nil }
        let value = significant.reduce(0) { $0 * 10 + Int($1.value - 48) }
        return (1...65535).contains(value) ? value : nil
    }

    // MARK: - Host

    /// The host in lowercase ASCII (brackets kept around IPv6), or nil when it is not a valid one.
    private static func host(_ raw: ArraySlice<Unicode.Scalar>) -> String? {
        if raw.first == "[" {
            guard raw.count > 2, raw.last == "]" else { return nil }
            let inner = string(raw.dropFirst().dropLast()).lowercased()
            return isIPv6(inner[...]) ? "[" + inner + "]" : nil
        }
        // As IDNA does: ideographic and half-width full stops are dots, full-width ASCII is ASCII.
        var mapped = raw.map { scalar -> Unicode.Scalar in
            switch scalar.value {
            case 0x3002, 0xFF61: "."
            case 0xFF01...0xFF5E: Unicode.Scalar(scalar.value - 0xFEE0)!
            default: scalar
            }
        }
        if mapped.count > 1, mapped.last == "." { mapped.removeLast() }
        var labels: [String] = []
        for raw in mapped.split(separator: ".", omittingEmptySubsequences: false) {
            guard let label = label(raw) else { return nil }
            labels.append(label)
        }
        let name = labels.joined(separator: ".")
        guard name.utf8.count <= 253 else { return nil }
        // Browsers parse a host whose last label is a number as an IPv4 address, so it must be one.
        let last = labels[labels.count - 1]
        let isNumber = last.allSatisfy(\.isASCIIDigit)
            || (last.hasPrefix("0x") && last.dropFirst(2).allSatisfy { $0.isASCII && $0.isHexDigit })
        guard !isNumber || isIPv4(name[...]) else { return nil }
        return name
    }

    /// One label in lowercase ASCII, as "xn--…" when it has other characters; nil when invalid.
    private static func label(_ raw: ArraySlice<Unicode.Scalar>) -> String? {
        var lower = string(raw).lowercased()
        // IDNA hosts are in NFC: "u" + U+0308 and "ü" must give the same host.
        if !lower.utf8.allSatisfy({ $0 < 0x80 }) { lower = String(decoding: lower._nfcCodeUnits, as: UTF8.self) }
        let scalars = Array(lower.unicodeScalars)
        guard let first = scalars.first, let last = scalars.last, first != "-", last != "-", scalars.count <= 63,
            scalars.allSatisfy(isLabelScalar)
        else { return nil }
        if scalars.allSatisfy(\.isASCII) { return lower }
        // A label may not start with a combining mark (IDNA2008, RFC 5891 §5.4).
        guard !isMark(first) else { return nil }
        let encoded = "xn--" + punycode(scalars)
        return encoded.utf8.count <= 63 ? encoded : nil
    }

    private static func isLabelScalar(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII {
            // No "_": a CSP source cannot name such a host, so the redirect after the form would be blocked.
            return isASCIIDigit(scalar) || ("a"..."z").contains(scalar) || scalar == "-"
        }
        let properties = scalar.properties
        // Compatibility forms (other full-width letters, superscripts, ligatures) would need NFKC, which
        // we don't have; refusing them beats silently naming a different host.
        if properties.changesWhenNFKCCaseFolded && !properties.changesWhenCaseFolded { return false }
        switch properties.generalCategory {
        case .lowercaseLetter, .uppercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
            .decimalNumber, .letterNumber:
            return true
        default:
            return isMark(scalar)
        }
    }

    private static func isMark(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark: true
        default: false
        }
    }

    /// Dotted decimal, four parts of 0…255. A leading zero is refused: browsers read "010" as octal.
    private static func isIPv4(_ text: Substring) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { part in
            (1...3).contains(part.count) && part.allSatisfy(\.isASCIIDigit) && (part == "0" || part.first != "0")
                && Int(part)! <= 255
        }
    }

    /// Eight groups of 1–4 hex digits, at most one "::" standing for the missing ones, and an IPv4
    /// address allowed as the last two groups.
    private static func isIPv6(_ text: Substring) -> Bool {
        let halves = text.split(separator: "::", omittingEmptySubsequences: false)
        guard halves.count <= 2 else { return false }
        var groups = 0
        for (halfIndex, half) in halves.enumerated() where !half.isEmpty {
            let parts = half.split(separator: ":", omittingEmptySubsequences: false)
            for (index, part) in parts.enumerated() {
                if part.contains(".") {
                    guard halfIndex == halves.count - 1, index == parts.count - 1, isIPv4(part) else { return false }
                    groups += 2
                } else {
                    guard (1...4).contains(part.count), part.allSatisfy({ $0.isASCII && $0.isHexDigit }) else { return false }
                    groups += 1
                }
            }
        }
        return halves.count == 2 ? groups <= 7 : groups == 8
    }

    // MARK: - Path, query and fragment

    /// RFC 3986 unreserved and sub-delims, ":", "@", "/", "?", plus "{" and "}" so that a template
    /// such as `{CHECKOUT_SESSION_ID}` stays readable for the later replacement.
    private static let allowedBytes = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/?{}".utf8)

    /// Every other byte of the UTF-8 as %XX; a valid %XX is kept, a stray "%" becomes "%25", and
    /// only the first "#" starts the fragment.
    private static func percentEncoded(_ scalars: ArraySlice<Unicode.Scalar>) -> String {
        let bytes = Array(string(scalars).utf8)
        let hex = Array("0123456789ABCDEF".utf8)
        var output: [UInt8] = []
        var inFragment = false
        for (index, byte) in bytes.enumerated() {
            let keep: Bool
            switch byte {
            case UInt8(ascii: "%"):
                keep = index + 2 < bytes.count && isHexByte(bytes[index + 1]) && isHexByte(bytes[index + 2])
            case UInt8(ascii: "#"):
                keep = !inFragment
                inFragment = true
            default:
                keep = allowedBytes.contains(byte)
            }
            output += keep ? [byte] : [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
        }
        return String(decoding: output, as: UTF8.self)
    }

    // MARK: - Punycode (RFC 3492 §6.3)

    private static let base = 36, tMin = 1, tMax = 26

    /// The caller keeps labels to 63 code points, so none of the arithmetic can overflow.
    private static func punycode(_ input: [Unicode.Scalar]) -> String {
        var output = input.filter(\.isASCII).map { UInt8($0.value) }
        let basicCount = output.count
        if basicCount > 0 { output.append(UInt8(ascii: "-")) }
        var n = 128, delta = 0, bias = 72, handled = basicCount
        while handled < input.count {
            let m = input.lazy.map { Int($0.value) }.filter { $0 >= n }.min()!
            delta += (m - n) * (handled + 1)
            n = m
            for scalar in input {
                let code = Int(scalar.value)
                if code < n { delta += 1 }
                guard code == n else { continue }
                // delta as a variable-length integer, least significant digit first.
                var q = delta
                var k = base
                while true {
                    let t = k <= bias ? tMin : (k >= bias + tMax ? tMax : k - bias)
                    if q < t { break }
                    output.append(punycodeDigit(t + (q - t) % (base - t)))
                    q = (q - t) / (base - t)
                    k += base
                }
                output.append(punycodeDigit(q))
                bias = adapt(delta, points: handled + 1, first: handled == basicCount)
                delta = 0
                handled += 1
            }
            delta += 1
            n += 1
        }
        return String(decoding: output, as: UTF8.self)
    }

    private static func adapt(_ delta: Int, points: Int, first: Bool) -> Int {
        var delta = first ? delta / 700 : delta / 2
        delta += delta / points
        var k = 0
        while delta > ((base - tMin) * tMax) / 2 {
            delta /= base - tMin
            k += base
        }
        return k + (base - tMin + 1) * delta / (delta + 38)
    }

    /// 0–25 → "a"–"z", 26–35 → "0"–"9".
    private static func punycodeDigit(_ digit: Int) -> UInt8 {
        UInt8(digit < 26 ? 97 + digit : 22 + digit)
    }

    // MARK: - Helpers

    private static func string(_ scalars: some Sequence<Unicode.Scalar>) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }

    private static func isASCIIDigit(_ scalar: Unicode.Scalar) -> Bool { ("0"..."9").contains(scalar) }

    private static func isHexByte(_ byte: UInt8) -> Bool {
        (48...57).contains(byte) || (65...70).contains(byte) || (97...102).contains(byte)
    }
}
