import Foundation
import Mail

/// The application's settings, beside the pool's: read by the pool from the same config file,
/// `ENCORE_` environment variables and flags (`PoolConfiguration.application`). Secrets (the
/// secret key, the webhook secrets) are never printed: `description` leaves them out.
public struct Settings: Sendable, Equatable, CustomStringConvertible {
    /// The keys the config file and `ENCORE_<KEY>` may set.
    public static let keys = [
        "hold_seconds", "stripe_api_base", "stripe_secret_key", "stripe_publishable_key", "stripe_js_url",
        "stripe_webhook_secrets", "payment_reconcile_seconds", "public_url", "ticket_signing_keys", "mail_from",
        "smtp_host", "smtp_port", "smtp_security", "smtp_username", "smtp_password", "mail_retry_max_seconds",
        "waiting_list_offer_seconds",
    ]

    /// How long a confirmed cart's tickets stay held, unpaid (`hold_seconds`, default 15 minutes).
    public var holdTime: TimeInterval = 15 * 60
    /// Stripe's API, or the emulator's (`stripe_api_base`; default: the localstripe bin/up runs).
    public var stripeAPIBase = "http://127.0.0.1:8420"
    public var stripeSecretKey = "sk_test_encore_local"
    public var stripePublishableKey = "pk_test_encore_local"
    /// Where the checkout page loads Stripe.js from (default: the emulator's mock under the
    /// API base, `<stripe_api_base>/js.stripe.com/v3/`).
    public var stripeJSURL: String?
    /// Secrets a webhook's signature may be made with, comma-separated (two while rotating).
    public var stripeWebhookSecrets = "whsec_encore_local_development"
    /// A payment without an outcome this long is looked up at the gateway (`payment_reconcile_seconds`).
    public var reconcileAfter: TimeInterval = 120
    /// The site's address as customers reach it, for links in e-mails (`public_url`).
    public var publicURL = "http://127.0.0.1:8080"
    /// Keys that sign tickets' codes, comma-separated, the first one signing (`ticket_signing_keys`;
    /// each at least 32 characters). No default: `encore serve` refuses to start without one.
    public var ticketSigningKeys = ""
    /// Who the tickets' e-mails are from (`mail_from`).
    public var mailFrom = "Encore <tickets@encore.test>"
    /// The mail server (`smtp_host`, `smtp_port`; default: the sink bin/up runs).
    public var smtpHost = "127.0.0.1"
    public var smtpPort = 2525
    /// `none`, `starttls` (required) or `tls` (`smtp_security`).
    public var smtpSecurity = "none"
    public var smtpUsername: String?
    public var smtpPassword: String?
    /// The longest wait between attempts at an e-mail while the server is away (`mail_retry_max_seconds`).
    public var mailRetryMax: TimeInterval = 300
    /// How long an offer to a waiting-list entry holds its tickets (`waiting_list_offer_seconds`).
    public var waitingListOffer: TimeInterval = 1800

    public init() {}

    public enum Error: Swift.Error, CustomStringConvertible {
        case invalid(key: String, value: String, expected: String)

        public var description: String {
            switch self {
            case .invalid(let key, let value, let expected):
                // A secret's value is not repeated in the message.
                "invalid value\(key.contains("secret") || key.contains("key") || key.contains("password") ? "" : " '\(value)'") for '\(key)': \(expected)"
            }
        }
    }

    /// Reads the settings given (`PoolConfiguration.application`); absent keys keep their defaults.
    public init(_ values: [String: String]) throws {
        func seconds(_ key: String, _ range: ClosedRange<Double>) throws -> Double? {
            guard let text = values[key] else { return nil }
            guard let value = Double(text), range.contains(value) else {
                throw Error.invalid(
                    key: key, value: text, expected: "seconds, \(Int(range.lowerBound)) to \(Int(range.upperBound))")
            }
            return value
        }
        func url(_ key: String) throws -> String? {
            guard let text = values[key] else { return nil }
            guard let parsed = URL(string: text), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil
            else {
                throw Error.invalid(key: key, value: text, expected: "an http or https URL")
            }
            return text
        }
        if let hold = try seconds("hold_seconds", 1...86_400) { holdTime = hold }
        if let after = try seconds("payment_reconcile_seconds", 1...86_400) { reconcileAfter = after }
        if let base = try url("stripe_api_base") { stripeAPIBase = base }
        stripeJSURL = try url("stripe_js_url")
        if let key = values["stripe_secret_key"] { stripeSecretKey = key }
        if let key = values["stripe_publishable_key"] { stripePublishableKey = key }
        if let after = try seconds("mail_retry_max_seconds", 1...86_400) { mailRetryMax = after }
        if let offer = try seconds("waiting_list_offer_seconds", 1...86_400) { waitingListOffer = offer }
        if let url = try url("public_url") { publicURL = url }
        if let keys = values["ticket_signing_keys"] {
            let parts = keys.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard !parts.isEmpty, parts.allSatisfy({ $0.count >= 32 }) else {
                throw Error.invalid(
                    key: "ticket_signing_keys", value: "", expected: "keys of 32 characters or more, comma-separated")
            }
            ticketSigningKeys = keys
        }
        if let from = values["mail_from"] {
            guard Mailbox(parsing: from) != nil else {
                throw Error.invalid(key: "mail_from", value: from, expected: "an address, or 'Name <address>'")
            }
            mailFrom = from
        }
        if let host = values["smtp_host"] {
            guard !host.isEmpty, host.allSatisfy({ !$0.isWhitespace && $0 != "/" }) else {
                throw Error.invalid(key: "smtp_host", value: host, expected: "a host name or address")
            }
            smtpHost = host
        }
        if let text = values["smtp_port"] {
            guard let port = Int(text), (1...65_535).contains(port) else {
                throw Error.invalid(key: "smtp_port", value: text, expected: "a port, 1 to 65535")
            }
            smtpPort = port
        }
        if let security = values["smtp_security"] {
            guard SMTPClient.Configuration.Security(rawValue: security) != nil else {
                throw Error.invalid(key: "smtp_security", value: security, expected: "none, starttls or tls")
            }
            smtpSecurity = security
        }
        if let user = values["smtp_username"], !user.isEmpty { smtpUsername = user }
        if let password = values["smtp_password"], !password.isEmpty { smtpPassword = password }
        if let secrets = values["stripe_webhook_secrets"] {
            guard secrets.split(separator: ",").contains(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty })
            else { throw Error.invalid(key: "stripe_webhook_secrets", value: "", expected: "one secret or more") }
            stripeWebhookSecrets = secrets
        }
    }

    /// Stripe.js's URL, as configured or under the API base.
    public var resolvedStripeJSURL: String {
        stripeJSURL ?? stripeAPIBase.trimmingCharacters(in: CharacterSet(charactersIn: "/")) + "/js.stripe.com/v3/"
    }

    public var description: String {
        "Settings(holdTime: \(holdTime), stripeAPIBase: \(stripeAPIBase), stripeJSURL: \(resolvedStripeJSURL), "
            + "secrets: <redacted>, reconcileAfter: \(reconcileAfter), publicURL: \(publicURL), "
            + "mailFrom: \(mailFrom), smtp: \(smtpSecurity)://\(smtpHost):\(smtpPort), "
            + "mailRetryMax: \(mailRetryMax))"
    }

    /// From `ENCORE_<KEY>` variables, for the tools that run without the pool's configuration.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment)
        throws -> Settings
    {
        var values: [String: String] = [:]
        for key in keys { values[key] = environment["ENCORE_" + key.uppercased()] }
        return try Settings(values)
    }
}
