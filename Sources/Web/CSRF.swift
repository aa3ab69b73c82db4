import Sodium

/// Cross-site request forgery protection.
///
/// Every unsafe request that a browser could send with ambient credentials must carry the
/// token (form field `_csrf` or header `X-CSRF-Token`):
/// - signed in with the session cookie: the session's own token;
/// - not signed in, posting a form (sign-in, registration): the `encore_csrf` cookie's value
///   (double submit), which a cross-site page can neither read nor set.
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
        let presented = request.header(header) ?? formToken(request)
        if let principal {
            guard principal.credential == .cookie else { return }
            guard let presented, matches(presented, principal.csrfToken) else { throw failure }
            return
        }
        let isForm = request.header("Content-Type")?.hasPrefix("application/x-www-form-urlencoded") ?? false
        let hasCookies = request.header("Cookie") != nil
        guard isForm || (hasCookies && request.cookies[Cookies.sessionName] != nil) else { return }
        guard let presented, let cookie = request.cookies[Cookies.csrfName], matches(presented, cookie) else {
            throw failure
        }
    }

    static func formToken(_ request: HTTPRequest) -> String? {
        guard request.header("Content-Type")?.hasPrefix("application/x-www-form-urlencoded") ?? false else {
            return nil
        }
        return request.form[formField]
    }

    static func matches(_ a: String, _ b: String) -> Bool {
        !a.isEmpty && Digest.constantTimeEqual(Array(a.utf8), Array(b.utf8))
    }
}
