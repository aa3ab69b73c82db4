import Foundation
import Sodium

/// A ticket's code, as its QR carries it: the ticket's id and an HMAC-SHA-256 of it under a
/// server key, so that a gate can tell a forged or mistyped code from a real one without the
/// database.
///
/// Format: `T1` and 52 characters of base32 (RFC 4648, upper case, no padding) of 32 bytes: the
/// ticket id's 16 bytes, then the first 16 bytes of HMAC-SHA-256(key, "encore-ticket-v1" || id).
/// Upper-case base32 keeps to QR's compact alphanumeric mode, and reads aloud without
/// ambiguity of case. 128 bits of MAC cannot be guessed.
///
/// Keys: the first of `keys` signs; every one of them verifies, so a key can be rotated in:
/// add the new key first, keep the old one until its tickets' concerts are over.
public struct TicketCodes: Sendable {
    public let keys: [[UInt8]]

    public enum Failure: Error, Equatable {
        /// No key configured: codes can be neither made nor checked.
        case noKey
    }

    /// Keys as configured: comma-separated, each at least 32 characters (hex of 16 random bytes
    /// or more, say `openssl rand -hex 32`).
    public init(commaSeparatedKeys: String) {
        keys = commaSeparatedKeys.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.map { Array($0.utf8) }
    }

    public static let minimumKeyLength = 32
    static let prefix = "T1"
    static let context = Array("encore-ticket-v1".utf8)

    /// The code of a ticket whose id is a UUID.
    public func code(for ticketId: String) throws(Failure) -> String {
        guard let key = keys.first else { throw .noKey }
        guard let id = UUID(uuidString: ticketId) else { preconditionFailure("ticket ids are UUIDs") }
        let idBytes = withUnsafeBytes(of: id.uuid) { Array($0) }
        return Self.prefix + Base32.encode(idBytes + Self.mac(key, idBytes))
    }

    /// The ticket id a code names, if a key of ours signed it; nil for anything else. Lower
    /// case, spaces and dashes (someone typing it) are forgiven.
    public func ticketId(from code: String) -> String? {
        let cleaned = code.uppercased().filter { $0 != " " && $0 != "-" }
        let body = String(cleaned.dropFirst(Self.prefix.count))
        // Only the one spelling of the 32 bytes: the last character's spare bits are zero.
        guard cleaned.count == Self.prefix.count + 52, cleaned.hasPrefix(Self.prefix),
            let bytes = Base32.decode(body), bytes.count == 32, Base32.encode(bytes) == body
        else { return nil }
        let idBytes = Array(bytes[0..<16])
        let given = Array(bytes[16..<32])
        guard keys.contains(where: { Digest.constantTimeEqual(Self.mac($0, idBytes), given) }) else { return nil }
        let uuid = idBytes.withUnsafeBytes { $0.loadUnaligned(as: uuid_t.self) }
        return UUID(uuid: uuid).uuidString.lowercased()
    }

    static func mac(_ key: [UInt8], _ idBytes: [UInt8]) -> [UInt8] {
        Array(Digest.hmacSHA256(key: key, message: context + idBytes).prefix(16))
    }
}

/// Base32 (RFC 4648 §6), upper case, without padding.
enum Base32 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)
    static let values: [UInt8: UInt8] = Dictionary(uniqueKeysWithValues: alphabet.enumerated().map { ($1, UInt8($0)) })

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for byte in bytes {
            buffer = buffer << 8 | UInt32(byte)
            bits += 8
            while bits >= 5 {
                out.append(alphabet[Int(buffer >> UInt32(bits - 5) & 31)])
                bits -= 5
            }
        }
        if bits > 0 { out.append(alphabet[Int(buffer << UInt32(5 - bits) & 31)]) }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for character in text.utf8 {
            guard let value = values[character] else { return nil }
            buffer = buffer << 5 | UInt32(value)
            bits += 5
            if bits >= 8 {
                out.append(UInt8(buffer >> UInt32(bits - 8) & 0xff))
                bits -= 8
            }
        }
        return out
    }
}
