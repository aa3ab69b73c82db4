import CSodium

/// libsodium, initialised once per process before first use.
enum SodiumLibrary {
    static let initialized: Bool = {
        precondition(sodium_init() >= 0, "libsodium could not be initialised")
        return true
    }()
}

/// Password hashing with Argon2id (libsodium's `crypto_pwhash_str`).
///
/// Parameters: libsodium's INTERACTIVE limits, 2 passes over 64 MiB, one lane: above OWASP's
/// minimum for Argon2id (19 MiB, 2 passes), and quick enough for a sign-in (measured:
/// bench/FINDINGS.md, session 13). The encoded hash carries its own salt and parameters, so
/// raising them later needs no migration: `needsRehash` tells when a stored hash is weaker than
/// today's settings.
public enum PasswordHasher {
    static let opsLimit = UInt64(crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE)
    static let memLimit = Int(crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE)

    public struct Failure: Error {}

    /// Hashes a password; the result is an `$argon2id$...` string.
    public static func hash(_ password: String) throws -> String {
        _ = SodiumLibrary.initialized
        var output = [CChar](repeating: 0, count: Int(crypto_pwhash_STRBYTES))
        let length = UInt64(password.utf8.count)
        let status = password.withCString { chars in
            crypto_pwhash_argon2id_str(&output, chars, length, opsLimit, memLimit)
        }
        guard status == 0 else { throw Failure() }
        return String(decoding: output.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Checks a password against an encoded hash in constant time.
    public static func verify(_ password: String, against encoded: String) -> Bool {
        _ = SodiumLibrary.initialized
        let length = UInt64(password.utf8.count)
        return encoded.withCString { hash in
            password.withCString { chars in crypto_pwhash_argon2id_str_verify(hash, chars, length) == 0 }
        }
    }

    /// Spends the same time as a real verification, for unknown accounts, so that the answer's
    /// timing does not tell whether an e-mail address is registered.
    public static func verifyAgainstDummy(_ password: String) {
        _ = verify(password, against: dummyHash)
    }

    private static let dummyHash: String = (try? hash("encore-dummy-password-for-timing")) ?? ""

    /// Whether an encoded hash was made with weaker parameters than the current ones.
    public static func needsRehash(_ encoded: String) -> Bool {
        encoded.withCString { crypto_pwhash_argon2id_str_needs_rehash($0, opsLimit, memLimit) != 0 }
    }
}

/// Cryptographically secure random bytes and tokens.
public enum SecureRandom {
    public static func bytes(_ count: Int) -> [UInt8] {
        _ = SodiumLibrary.initialized
        var bytes = [UInt8](repeating: 0, count: max(count, 1))
        bytes.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, count) }
        if count == 0 { return [] }
        return bytes
    }

    /// A URL-safe, unpadded base64 token of `byteCount` random bytes.
    public static func token(byteCount: Int = 32) -> String {
        Base64URL.encode(bytes(byteCount))
    }
}

/// Hashes and MACs.
public enum Digest {
    /// BLAKE2b with a 32-byte output (libsodium's generic hash): for storing session tokens,
    /// which are random and long, so a fast hash is the right one.
    public static func blake2b(_ data: [UInt8]) -> [UInt8] {
        _ = SodiumLibrary.initialized
        var output = [UInt8](repeating: 0, count: 32)
        withBytes(data) { input, count in _ = crypto_generichash(&output, 32, input, UInt64(count), nil, 0) }
        return output
    }

    /// HMAC-SHA-256 (for webhook signatures).
    public static func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        _ = SodiumLibrary.initialized
        var state = crypto_auth_hmacsha256_state()
        var output = [UInt8](repeating: 0, count: Int(crypto_auth_hmacsha256_BYTES))
        withBytes(key) { pointer, count in _ = crypto_auth_hmacsha256_init(&state, pointer, count) }
        withBytes(message) { pointer, count in _ = crypto_auth_hmacsha256_update(&state, pointer, UInt64(count)) }
        crypto_auth_hmacsha256_final(&state, &output)
        return output
    }

    /// SHA-256.
    public static func sha256(_ data: [UInt8]) -> [UInt8] {
        _ = SodiumLibrary.initialized
        var output = [UInt8](repeating: 0, count: Int(crypto_hash_sha256_BYTES))
        withBytes(data) { pointer, count in _ = crypto_hash_sha256(&output, pointer, UInt64(count)) }
        return output
    }

    /// Compares two byte strings in time that does not depend on where they differ.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        _ = SodiumLibrary.initialized
        if a.isEmpty { return true }
        return a.withUnsafeBufferPointer { x in
            b.withUnsafeBufferPointer { y in sodium_memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0 }
        }
    }

    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Base64 with the URL-safe alphabet and no padding (RFC 4648 §5).
public enum Base64URL {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var index = 0
        while index + 2 < bytes.count {
            let n = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out += [
                alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)],
                alphabet[Int(n & 63)],
            ]
            index += 3
        }
        let rest = bytes.count - index
        if rest == 1 {
            let n = UInt32(bytes[index]) << 16
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)]]
        } else if rest == 2 {
            let n = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)]]
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Calls `body` with a pointer to the bytes (never nil, also for an empty array) and their count.
private func withBytes(_ bytes: [UInt8], _ body: (UnsafePointer<UInt8>, Int) -> Void) {
    let storage = bytes.isEmpty ? [0] : bytes
    storage.withUnsafeBufferPointer { body($0.baseAddress!, bytes.count) }
}
