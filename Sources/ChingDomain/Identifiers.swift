/// Makes object ids: a prefix and random characters from `[A-Za-z0-9_-]`.
///
/// Ordinary ids carry 12 characters (72 bits). Hosted-page session ids are bearer capabilities,
/// so they carry 24 (144 bits).
public struct IDGenerator: Sendable {
    public static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
    private let randomBytes: @Sendable (Int) -> [UInt8]

    /// Uses the system's cryptographically secure generator.
    public static let random = IDGenerator { count in
        // Eight bytes per call: each call is a getrandom(2) system call.
        var generator = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count + 7)
        while bytes.count < count {
            withUnsafeBytes(of: generator.next() as UInt64) { bytes.append(contentsOf: $0) }
        }
        return Array(bytes.prefix(count))
    }

    public init(randomBytes: @escaping @Sendable (Int) -> [UInt8]) {
        self.randomBytes = randomBytes
    }

    public func make(_ prefix: IDPrefix) -> String {
        let length = prefix.isCapability ? 24 : 12
        // 64 symbols: the low six bits of each byte pick one without bias.
        return prefix.rawValue + String(randomBytes(length).map { Self.alphabet[Int($0 & 63)] })
    }

    /// Lowercase hex, for API keys and webhook secrets.
    public func hex(byteCount: Int) -> String {
        randomBytes(byteCount).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}

public enum IDPrefix: String, Sendable, CaseIterable {
    case project = "proj_", customer = "cus_", paymentMethod = "pm_", charge = "ch_", refund = "re_"
    case checkoutSession = "co_", setupSession = "seti_", product = "prod_", price = "price_"
    case subscription = "sub_", subscriptionItem = "si_", event = "evt_", document = "doc_"
    case email = "em_", apiKey = "key_", testClock = "clock_", portalSession = "bps_"

    var isCapability: Bool { self == .checkoutSession || self == .setupSession }
}

/// Lowercase hex of a digest or any bytes.
public func hexString(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var output: [UInt8] = []
    for byte in bytes { output.append(digits[Int(byte >> 4)]); output.append(digits[Int(byte & 15)]) }
    return String(decoding: output, as: UTF8.self)
}
