import ChingDomain
import Testing

@Suite("IDGenerator")
struct IDGeneratorTests {
    static let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")

    /// Hands out 0, 1, 2, … so that each output character shows which byte picked it.
    static let counting = IDGenerator { count in (0..<count).map { UInt8(truncatingIfNeeded: $0) } }

    @Test("The alphabet is exactly the 64 characters [A-Za-z0-9_-]")
    func alphabet() {
        #expect(IDGenerator.alphabet.count == 64)
        #expect(Set(IDGenerator.alphabet) == Self.allowed)
    }

    @Test("Every id starts with its prefix and carries 12 characters, or 24 for hosted-page sessions",
          arguments: IDPrefix.allCases)
    func prefixAndLength(prefix: IDPrefix) {
        let id = IDGenerator.random.make(prefix)
        #expect(id.hasPrefix(prefix.rawValue))
        let tail = id.dropFirst(prefix.rawValue.count)
        let expectedLength = (prefix == .checkoutSession || prefix == .setupSession) ? 24 : 12
        #expect(tail.count == expectedLength)
        #expect(tail.allSatisfy { Self.allowed.contains($0) })
    }

    @Test("The prefixes are the ones the API lists", arguments: [
        (IDPrefix.project, "proj_"), (.customer, "cus_"), (.paymentMethod, "pm_"), (.charge, "ch_"),
        (.refund, "re_"), (.checkoutSession, "co_"), (.setupSession, "seti_"), (.product, "prod_"),
        (.price, "price_"), (.subscription, "sub_"), (.subscriptionItem, "si_"), (.event, "evt_"),
        (.document, "doc_"), (.email, "em_"),
    ])
    func prefixes(prefix: IDPrefix, rawValue: String) {
        #expect(prefix.rawValue == rawValue)
    }

    @Test("A deterministic generator gives a known ordinary id")
    func deterministicOrdinaryID() {
        #expect(Self.counting.make(.customer) == "cus_ABCDEFGHIJKL")
    }

    @Test("A deterministic generator gives a known 24-character session id")
    func deterministicSessionID() {
        #expect(Self.counting.make(.checkoutSession) == "co_ABCDEFGHIJKLMNOPQRSTUVWX")
        #expect(Self.counting.make(.setupSession) == "seti_ABCDEFGHIJKLMNOPQRSTUVWX")
    }

    @Test("Each byte picks a character by its low six bits")
    func lowSixBits() {
        let bytes: [UInt8] = [0, 25, 26, 51, 52, 61, 62, 63, 64, 127, 128, 255]
        let generator = IDGenerator { count in Array(bytes.prefix(count)) }
        #expect(generator.make(.charge) == "ch_AZaz09_-A-A-")
    }

    @Test("hex(byteCount: 32) is 64 lowercase hex characters")
    func hex32() {
        let hex = IDGenerator.random.hex(byteCount: 32)
        #expect(hex.count == 64)
        #expect(hex.allSatisfy { "0123456789abcdef".contains($0) })
    }

    @Test("hex pads each byte to two digits")
    func hexPads() {
        let bytes: [UInt8] = [0x00, 0x0F, 0x10, 0xAB, 0xFF]
        let generator = IDGenerator { _ in bytes }
        #expect(generator.hex(byteCount: 5) == "000f10abff")
    }

    @Test("1000 random ids are all different")
    func randomIDsAreDistinct() {
        let ids = (0..<1000).map { _ in IDGenerator.random.make(.charge) }
        #expect(Set(ids).count == 1000)
    }

    @Test("Random ids use more than a handful of the 64 characters")
    func randomIDsSpreadOverAlphabet() {
        let characters = (0..<200).flatMap { _ in IDGenerator.random.make(.event).dropFirst(4) }
        #expect(Set(characters).count > 50)
    }
}
