import Foundation
import Testing

@testable import Stripe

@Suite struct WebhookSignatureTests {
    static let secret = StripeSecret("whsec_test_secret")
    static let payload = Array(#"{"id":"evt_1","object":"event"}"#.utf8)
    static let timestamp = 1_700_000_000
    /// HMAC-SHA256("whsec_test_secret", "1700000000." + payload), computed with Python's hmac.
    static let knownSignature = "0c8670ed117751cc551a20e35839447075c42800ea3cf3e8a2fbda99cd1e6edd"
    static let validHeader = "t=\(timestamp),v1=\(knownSignature)"

    let webhook = StripeWebhook(secrets: [secret])
    let now = Date(timeIntervalSince1970: TimeInterval(timestamp + 10))

    @Test func acceptsAValidSignature() throws {
        try webhook.verify(payload: Self.payload, signatureHeader: Self.validHeader, now: now)
    }

    @Test func signsAsStripeDoes() {
        let header = StripeWebhook.signatureHeader(
            payload: Self.payload, secret: Self.secret, timestamp: Self.timestamp)
        #expect(header == Self.validHeader)
    }

    @Test func refusesATamperedBody() {
        var tampered = Self.payload
        tampered[tampered.count - 2] = UInt8(ascii: "x")
        #expect(throws: StripeWebhookError.noMatchingSignature) {
            try webhook.verify(payload: tampered, signatureHeader: Self.validHeader, now: now)
        }
    }

    @Test func refusesAnotherSecretsSignature() {
        let other = StripeWebhook(secrets: [StripeSecret("whsec_other")])
        #expect(throws: StripeWebhookError.noMatchingSignature) {
            try other.verify(payload: Self.payload, signatureHeader: Self.validHeader, now: now)
        }
    }

    @Test func acceptsTheSecondOfTwoSecrets() throws {
        let rotating = StripeWebhook(secrets: [StripeSecret("whsec_new"), Self.secret])
        try rotating.verify(payload: Self.payload, signatureHeader: Self.validHeader, now: now)
        let fromSetting = StripeWebhook(commaSeparatedSecrets: " whsec_new , whsec_test_secret,")
        #expect(fromSetting.secrets.count == 2)
        try fromSetting.verify(payload: Self.payload, signatureHeader: Self.validHeader, now: now)
    }

    @Test func refusesWhenNoSecretIsConfigured() {
        let none = StripeWebhook(commaSeparatedSecrets: "")
        #expect(throws: StripeWebhookError.noMatchingSignature) {
            try none.verify(payload: Self.payload, signatureHeader: Self.validHeader, now: now)
        }
    }

    @Test func refusesATimestampTooOld() {
        let late = Date(timeIntervalSince1970: TimeInterval(Self.timestamp + 301))
        #expect(
            throws: StripeWebhookError.timestampOutsideTolerance(timestamp: Self.timestamp, now: Self.timestamp + 301)
        ) {
            try webhook.verify(payload: Self.payload, signatureHeader: Self.validHeader, now: late)
        }
    }

    @Test func refusesATimestampTooFarInTheFuture() {
        let early = Date(timeIntervalSince1970: TimeInterval(Self.timestamp - 301))
        #expect(
            throws: StripeWebhookError.timestampOutsideTolerance(timestamp: Self.timestamp, now: Self.timestamp - 301)
        ) {
            try webhook.verify(payload: Self.payload, signatureHeader: Self.validHeader, now: early)
        }
    }

    @Test func acceptsTimestampsAtTheEdgesOfTheTolerance() throws {
        for offset in [-300, 300] {
            let edge = Date(timeIntervalSince1970: TimeInterval(Self.timestamp + offset))
            try webhook.verify(payload: Self.payload, signatureHeader: Self.validHeader, now: edge)
        }
        let strict = StripeWebhook(secrets: [Self.secret], tolerance: .seconds(5))
        #expect(throws: StripeWebhookError.self) {
            try strict.verify(payload: Self.payload, signatureHeader: Self.validHeader, now: now)
        }
    }

    @Test func acceptsOneMatchingV1AmongSeveral() throws {
        let wrong = String(repeating: "ab", count: 32)
        let header = "t=\(Self.timestamp),v1=\(wrong),v1=\(Self.knownSignature),v0=\(wrong),v1=\(wrong)"
        try webhook.verify(payload: Self.payload, signatureHeader: header, now: now)
        let upperCase = "t=\(Self.timestamp), v1=\(Self.knownSignature.uppercased())"
        try webhook.verify(payload: Self.payload, signatureHeader: upperCase, now: now)
    }

    @Test func refusesSeveralV1WhenNoneMatches() {
        let header = "t=\(Self.timestamp),v1=\(String(repeating: "ab", count: 32)),v1=abc,v1=zz"
        #expect(throws: StripeWebhookError.noMatchingSignature) {
            try webhook.verify(payload: Self.payload, signatureHeader: header, now: now)
        }
    }

    @Test func refusesAV0SignatureAlone() {
        // v0 is Stripe's test-mode scheme; only v1 counts, as in Stripe's libraries.
        let header = "t=\(Self.timestamp),v0=\(Self.knownSignature)"
        #expect(throws: StripeWebhookError.malformedSignature("no v1 signature")) {
            try webhook.verify(payload: Self.payload, signatureHeader: header, now: now)
        }
    }

    @Test(arguments: [
        ("", StripeWebhookError.missingSignature),
        ("garbage", .malformedSignature("an item without '='")),
        ("v1=\(WebhookSignatureTests.knownSignature)", .malformedSignature("no timestamp (t=)")),
        ("t=\(WebhookSignatureTests.timestamp)", .malformedSignature("no v1 signature")),
        (
            "t=abc,v1=\(WebhookSignatureTests.knownSignature)",
            .malformedSignature("the timestamp is not a number of seconds")
        ),
        (
            "t=-5,v1=\(WebhookSignatureTests.knownSignature)",
            .malformedSignature("the timestamp is not a number of seconds")
        ),
        (
            "t=99999999999999999999,v1=\(WebhookSignatureTests.knownSignature)",
            .malformedSignature("the timestamp is not a number of seconds")
        ),
        (
            "t=1,t=\(WebhookSignatureTests.timestamp),v1=\(WebhookSignatureTests.knownSignature)",
            .malformedSignature("more than one timestamp")
        ),
        (",,,", .malformedSignature("no timestamp (t=)")),
    ])
    func refusesMalformedHeaders(header: String, expected: StripeWebhookError) {
        #expect(throws: expected) {
            try webhook.verify(payload: Self.payload, signatureHeader: header, now: now)
        }
    }

    @Test func refusesAMissingHeader() {
        #expect(throws: StripeWebhookError.missingSignature) {
            try webhook.verify(payload: Self.payload, signatureHeader: nil, now: now)
        }
    }

    @Test func neverShowsItsSecrets() {
        let texts = [
            String(describing: webhook), String(reflecting: webhook), String(describing: Self.secret),
            String(reflecting: Self.secret), "\(webhook.secrets)",
        ]
        var dumped = ""
        dump(webhook, to: &dumped)
        for text in texts + [dumped] {
            #expect(!text.contains("whsec_test_secret"), "\(text)")
        }
    }
}
