import Foundation
import Sodium

/// Verifies Stripe's webhook signatures, exactly as Stripe documents them, and parses the event.
///
/// The `Stripe-Signature` header is `t=<unix seconds>,v1=<hex>[,v1=<hex>...][,v0=<hex>]`. The
/// signed payload is `"<t>.<raw request body>"`; a `v1` is its HMAC-SHA256 under the endpoint's
/// signing secret (the whole `whsec_...` string as the key), in lower-case hex. A request is
/// genuine when some `v1` matches the HMAC under some configured secret (several are accepted,
/// so a secret can be rotated) and `t` lies within `tolerance` of `now` (a replay of an old
/// request fails). Each comparison takes the same time wherever the bytes differ.
///
/// HMAC-SHA256 comes from libsodium through the Sodium module (`Digest.hmacSHA256`,
/// `Digest.constantTimeEqual`), which the project already builds and links: no new package
/// (swift-crypto would add a large C and Swift build for one function).
public struct StripeWebhook: Sendable, CustomStringConvertible {
    public let secrets: [StripeSecret]
    public let tolerance: Duration

    public init(secrets: [StripeSecret], tolerance: Duration = .seconds(300)) {
        self.secrets = secrets.filter { !$0.isEmpty }
        self.tolerance = tolerance
    }

    /// From the `stripe_webhook_secrets` setting: secrets separated by commas, blanks ignored.
    public init(commaSeparatedSecrets: String, tolerance: Duration = .seconds(300)) {
        let secrets = commaSeparatedSecrets.split(separator: ",").map {
            StripeSecret($0.trimmingCharacters(in: .whitespaces))
        }
        self.init(secrets: secrets, tolerance: tolerance)
    }

    public var description: String { "StripeWebhook(\(secrets.count) secrets, tolerance \(tolerance))" }

    /// Checks the signature and the timestamp, then parses the event. `now` is the caller's
    /// clock (never a global one here, so that it can be tested).
    public func verifiedEvent(payload: [UInt8], signatureHeader: String?, now: Date) throws(StripeWebhookError)
        -> StripeEvent
    {
        try verify(payload: payload, signatureHeader: signatureHeader, now: now)
        return try StripeEvent.parse(payload)
    }

    /// Checks that the payload was signed with one of the secrets within `tolerance` of `now`.
    public func verify(payload: [UInt8], signatureHeader: String?, now: Date) throws(StripeWebhookError) {
        guard let signatureHeader, !signatureHeader.isEmpty else { throw .missingSignature }
        let header = try SignatureHeader(parsing: signatureHeader)
        let signedPayload = Array("\(header.timestamp).".utf8) + payload
        var matched = false
        for secret in secrets {
            let expected = Digest.hmacSHA256(key: Array(secret.value.utf8), message: signedPayload)
            for candidate in header.signatures {
                // No early exit: every candidate is compared under every secret.
                matched = Digest.constantTimeEqual(expected, candidate) || matched
            }
        }
        guard matched else { throw .noMatchingSignature }
        let seconds = Int(now.timeIntervalSince1970.rounded(.down))
        let allowed = tolerance.components.seconds
        guard abs(Int64(seconds) - Int64(header.timestamp)) <= allowed else {
            throw .timestampOutsideTolerance(timestamp: header.timestamp, now: seconds)
        }
    }

    /// A `Stripe-Signature` header for `payload` signed with `secret` at `timestamp`: what
    /// Stripe sends, for tests and for tools that play the gateway.
    public static func signatureHeader(payload: [UInt8], secret: StripeSecret, timestamp: Int) -> String {
        let mac = Digest.hmacSHA256(key: Array(secret.value.utf8), message: Array("\(timestamp).".utf8) + payload)
        return "t=\(timestamp),v1=\(Digest.hex(mac))"
    }
}

/// Why a webhook request was refused. None of them says which secret was tried.
public enum StripeWebhookError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No `Stripe-Signature` header.
    case missingSignature
    /// The header is not `t=...,v1=...`: the reason says what is wrong with it.
    case malformedSignature(String)
    /// No `v1` signature matches the payload under any configured secret.
    case noMatchingSignature
    /// Signed, but at a time too far from now (a replay, or a clock far off).
    case timestampOutsideTolerance(timestamp: Int, now: Int)
    /// Signed and on time, but the body is not a Stripe event.
    case invalidPayload(String)

    public var description: String {
        switch self {
        case .missingSignature: "no Stripe-Signature header"
        case .malformedSignature(let reason): "malformed Stripe-Signature header: \(reason)"
        case .noMatchingSignature: "no signature matches the payload"
        case .timestampOutsideTolerance(let timestamp, let now):
            "signature timestamp \(timestamp) is \(abs(now - timestamp)) s away from now"
        case .invalidPayload(let reason): "not a Stripe event: \(reason)"
        }
    }
}

/// The parts of a `Stripe-Signature` header: one timestamp and the `v1` signatures.
/// Other schemes (`v0`, Stripe's test-mode scheme) and unknown items are ignored, as Stripe's
/// own libraries do; a `v1` that is not 64 hex digits can never match and is dropped.
struct SignatureHeader: Equatable {
    let timestamp: Int
    let signatures: [[UInt8]]

    init(parsing header: String) throws(StripeWebhookError) {
        var timestamp: Int?
        var signatures: [[UInt8]] = []
        var sawV1 = false
        for item in header.split(separator: ",", omittingEmptySubsequences: true) {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { throw .malformedSignature("an item without '='") }
            let key = parts[0].trimmingCharacters(in: .whitespaces)
            let value = parts[1].trimmingCharacters(in: .whitespaces)
            switch key {
            case "t":
                guard timestamp == nil else { throw .malformedSignature("more than one timestamp") }
                guard !value.isEmpty, value.count <= 12, value.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                    let seconds = Int(value)
                else { throw .malformedSignature("the timestamp is not a number of seconds") }
                timestamp = seconds
            case "v1":
                sawV1 = true
                if let bytes = SignatureHeader.hexBytes(value), bytes.count == 32 { signatures.append(bytes) }
            default:
                continue
            }
        }
        guard let timestamp else { throw .malformedSignature("no timestamp (t=)") }
        guard sawV1 else { throw .malformedSignature("no v1 signature") }
        self.timestamp = timestamp
        self.signatures = signatures
    }

    static func hexBytes(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: c - 48
            case 97...102: c - 87
            case 65...70: c - 55
            default: nil
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }
}
