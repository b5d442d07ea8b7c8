import ChingDomain
import ChingProviders
import ChingStore
import Crypto
import Foundation

/// A project's live provider settings at rest. With `CHING_SECRET_KEY` set they are sealed with
/// AES-GCM under a key derived from it (`sealed1:`), so a copy of the database (a backup, a
/// replica, a stolen disk) does not give away the merchant's Grow identifiers; without it they
/// are stored as JSON (`plain:`), and the server says so when it starts and when they are set.
package enum ProviderSettings {
    package static func seal(_ account: GrowAccount, secretKey: String?) throws -> String {
        let json = try JSONEncoder().encode(account)
        guard let secretKey, !secretKey.isEmpty else { return "plain:" + String(decoding: json, as: UTF8.self) }
        let box = try AES.GCM.seal(json, using: key(secretKey))
        return "sealed1:" + box.combined!.base64EncodedString()
    }

    package enum OpenError: Error, CustomStringConvertible {
        case needsSecretKey, wrongSecretKey, unreadable
        package var description: String {
            switch self {
            case .needsSecretKey: "The project's Grow settings are sealed: set CHING_SECRET_KEY to the key they were stored with."
            case .wrongSecretKey: "The project's Grow settings cannot be opened with this CHING_SECRET_KEY."
            case .unreadable: "The project's Grow settings are unreadable."
            }
        }
    }

    package static func open(_ stored: String, secretKey: String?) throws(OpenError) -> GrowAccount {
        let json: Data
        if stored.hasPrefix("plain:") {
            json = Data(stored.dropFirst(6).utf8)
        } else if stored.hasPrefix("sealed1:") {
            guard let secretKey, !secretKey.isEmpty else { throw .needsSecretKey }
            guard let combined = Data(base64Encoded: String(stored.dropFirst(8))), let box = try? AES.GCM.SealedBox(combined: combined) else {
                throw .unreadable
            }
            guard let opened = try? AES.GCM.open(box, using: key(secretKey)) else { throw .wrongSecretKey }
            json = opened
        } else {
            throw .unreadable
        }
        guard let account = try? JSONDecoder().decode(GrowAccount.self, from: json) else { throw .unreadable }
        return account
    }

    private static func key(_ secret: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: Data(secret.utf8)), info: Data("ching provider settings v1".utf8), outputByteCount: 32)
    }

    /// A value as `provider show` prints it: its last four characters.
    package static func masked(_ value: String) -> String {
        value.count <= 4 ? String(repeating: "•", count: value.count) : String(repeating: "•", count: value.count - 4) + value.suffix(4)
    }
}
