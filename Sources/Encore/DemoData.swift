import EventStore
import Foundation
import Postgres
import Users

import enum Web.Role

/// Demo accounts (and, as contexts arrive, concerts) for a local run. Safe to load twice.
public enum DemoData {
    public static let password = "encore-demo-2026"

    static let accounts: [(Role, String, String)] = [
        (.admin, "admin@encore.test", "Ada Admin"),
        (.organiser, "organiser@encore.test", "Olek Organiser"),
        (.customer, "customer@encore.test", "Celina Customer"),
    ]

    /// Loads what is missing; returns the demo logins by role.
    public static func load(_ connection: Connection) throws -> [(String, String)] {
        let users = UserAccounts(connection: connection, inlineProjections: ProjectionRegistry.shared.inline)
        for (role, email, name) in accounts {
            do {
                _ = try users.register(email: email, password: password, name: name, role: role)
            } catch UserError.emailTaken {
                continue
            }
        }
        return accounts.map { ($0.0.rawValue, $0.1) }
    }
}
