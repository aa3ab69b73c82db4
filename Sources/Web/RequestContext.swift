import FastCGI
import Identity
import Logging
import Sodium

/// What every route receives besides the request: the thread's database, the templates, the
/// signed-in user, and the cookies to set on the response.
public final class RequestContext {
    public let database: ThreadDatabase
    public let templates: Templates
    public let logger: Logger
    public let thread: WorkerThreadContext
    /// The signed-in user, resolved from the session cookie or bearer token before routing.
    public var principal: Principal?
    /// The CSRF token for forms when nobody is signed in (double-submit cookie): the request's
    /// own (`CSRF.visitorToken(in:)`), or one made when a page first needs it.
    public var anonymousCSRFToken: String?
    /// `Set-Cookie` values added to the response.
    public var cookies: [String] = []

    public init(database: ThreadDatabase, templates: Templates, logger: Logger, thread: WorkerThreadContext) {
        self.database = database
        self.templates = templates
        self.logger = logger
        self.thread = thread
    }

    /// Resets the per-request parts before the next request on this thread.
    public func reset() {
        principal = nil
        anonymousCSRFToken = nil
        cookies = []
    }

    /// The signed-in user, or 401.
    @discardableResult
    public func requireSignedIn() throws -> Principal {
        guard let principal else {
            throw HTTPError(status: 401, code: "not_signed_in", message: "Sign in first.")
        }
        return principal
    }

    /// The signed-in user if their role is at least `role`; 401 or 403 otherwise.
    @discardableResult
    public func require(_ role: Role) throws -> Principal {
        let principal = try requireSignedIn()
        guard principal.role >= role else {
            throw HTTPError(status: 403, code: "forbidden", message: "Your account may not do this.")
        }
        return principal
    }

    /// The token forms must carry: the session's, or an anonymous double-submit token.
    public var csrfToken: String {
        if let principal { return principal.csrfToken }
        if let anonymousCSRFToken { return anonymousCSRFToken }
        let token = SecureRandom.token(byteCount: 24)  // 32 characters
        anonymousCSRFToken = token
        cookies.append(Cookies.make(name: Cookies.csrfName, value: token, maxAge: nil, secure: false))
        return token
    }

    /// Renders a page inside the layout: `page` is the page's view model (a struct), which the
    /// template opens with `{{#page}}`; the layout reads the title, the CSRF token and the
    /// signed-in user around it.
    ///
    /// `forms`: the page has forms an anonymous visitor may post (sign-in, registration), so
    /// it needs the double-submit cookie; other pages set no cookie and stay cacheable.
    public func page<Page: Encodable>(_ template: String, title: String, _ page: Page, forms: Bool = false) throws
        -> HTTPResponse
    {
        let shell = PageShell(
            title: title, csrf: principal != nil || forms ? csrfToken : nil,
            currentUser: principal.map(CurrentUser.init),
            signedIn: principal != nil, page: page)
        return .html(try templates.render(template, shell))
    }
}

/// What the layout shows around every page.
///
/// `signedIn` lets a page's template ask without opening `currentUser`, whose fields (`name`)
/// would otherwise shadow the page's own.
struct PageShell<Page: Encodable>: Encodable {
    let title: String
    let csrf: String?
    let currentUser: CurrentUser?
    let signedIn: Bool
    let page: Page
}

/// The signed-in user, as the layout and the pages show them.
struct CurrentUser: Encodable {
    let name: String
    let email: String
    let role: String
    let isOrganiser: Bool
    let isAdmin: Bool

    init(_ principal: Principal) {
        name = principal.name
        email = principal.email
        role = principal.role.rawValue
        isOrganiser = principal.role >= .organiser
        isAdmin = principal.role == .admin
    }
}

/// Cookie names and attributes.
public enum Cookies {
    public static let sessionName = "encore_session"
    public static let csrfName = "encore_csrf"

    /// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Secure over HTTPS.
    public static func make(name: String, value: String, maxAge: Int?, secure: Bool) -> String {
        var cookie = "\(name)=\(value); Path=/; HttpOnly; SameSite=Lax"
        if let maxAge { cookie += "; Max-Age=\(maxAge)" }
        if secure { cookie += "; Secure" }
        return cookie
    }

    public static func expire(name: String, secure: Bool) -> String {
        make(name: name, value: "", maxAge: 0, secure: secure)
    }
}
