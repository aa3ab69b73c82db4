import Postgres
import Web

/// The front page.
enum HomeRoutes {
    static func register(_ router: inout Router<RequestContext>) {
        router.get("/") { _, context in
            let settings: [String: String]
            do {
                settings = try context.database.with { connection in
                    var values: [String: String] = [:]
                    for row in try connection.query("SELECT key, value FROM site_settings") {
                        values[try row.decode("key")] = try row.decode("value")
                    }
                    return values
                }
            } catch {
                throw HTTPError.unavailable
            }
            return try context.page(
                "home", title: "Concerts",
                ["siteName": settings["site_name"] ?? "Encore", "tagline": settings["tagline"] ?? ""])
        }
    }
}
