import Identity
import Sodium

/// Cross-site request forgery protection, for every unsafe request a browser could send with
/// ambient credentials, whatever its content type.
///
/// - A browser's unsafe request that says it comes from another site (`Sec-Fetch-Site:
///   cross-site`, or an `Origin` that is not this site's) is refused outright, unless it is
///   authenticated with `Authorization: Bearer` (no ambient credential).
/// - Signed in with the session cookie: every unsafe request carries the session's token (form
///   field `_csrf` or header `X-CSRF-Token`).
/// - Not signed in: a form post (sign-in, registration), or any request that brings cookies,
///   carries the `encore_csrf` cookie's value (double submit), which a page on another site can
///   neither read nor set. A body that is not a form is never read as one (`HTTPRequest.form`),
///   so a text/plain or multipart post cannot sign anyone in.
/// Requests authenticated with `Authorization: Bearer`, and JSON requests without cookies,
/// carry no ambient credential and need no token.
public enum CSRF {
    public static let formField = "_csrf"
    public static let header = "X-CSRF-Token"

    static let safeMethods: Set<String> = ["GET", "HEAD", "OPTIONS"]

    public static let failure = HTTPError(
        status: 403, code: "csrf_failed",
        message: "The form has expired or did not come from this site. Reload and try again.")

    public static func verify(_ request: HTTPRequest, principal: Principal?) throws {
        guard !safeMethods.contains(request.method) else { return }
        if principal?.credential == .bearer { return }
        guard !fromAnotherSite(request) else { throw failure }
        let presented = request.header(header) ?? (request.isForm ? request.form[formField] : nil)
        if let principal {
            guard let presented, matches(presented, principal.csrfToken) else { throw failure }
            return
        }
        guard request.isForm || request.header("Cookie") != nil else { return }
        guard let presented, let cookie = request.cookies[Cookies.csrfName], matches(presented, cookie) else {
            throw failure
        }
    }

    /// Whether the browser says the request comes from another site: `Sec-Fetch-Site:
    /// cross-site`, or an `Origin` other than this site's (`null` included).
    static func fromAnotherSite(_ request: HTTPRequest) -> Bool {
        if request.header("Sec-Fetch-Site")?.lowercased() == "cross-site" { return true }
        guard let origin = request.header("Origin") else { return false }
        guard let host = request.header("Host"), !host.isEmpty else { return true }
        let scheme = request.isSecure ? "https" : "http"
        return origin.lowercased() != "\(scheme)://\(host.lowercased())"
    }

    /// The visitor's double-submit token from the request's `encore_csrf` cookie, when it has
    /// the shape of one the site made (32 URL-safe base64 characters), so that a page with forms
    /// keeps it instead of setting a new one: a visitor with the sign-in page open in two tabs
    /// (or a form shown again with an error) can still post from the first.
    public static func visitorToken(in request: HTTPRequest) -> String? {
        guard let value = request.cookies[Cookies.csrfName], value.utf8.count == 32,
            value.utf8.allSatisfy({
                $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || (0x30...0x39).contains($0)
                    || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0)
            })
        else { return nil }
        return value
    }

    static func matches(_ a: String, _ b: String) -> Bool {
        !a.isEmpty && Digest.constantTimeEqual(Array(a.utf8), Array(b.utf8))
    }
}
