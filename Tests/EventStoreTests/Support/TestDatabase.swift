import EventStore
import Foundation
import Postgres
@_exported import TestSupport

/// A fresh, migrated database per test (`encore_es_t_<name>`), with the event store's schema.
enum TestDatabase {
    static var serverURL: String { TestDatabases.serverURL }

    /// Creates and migrates the test's database; returns its URL.
    static func fresh(_ name: String = #function) throws -> String {
        try TestDatabases.fresh(prefix: "encore_es_t", name)
    }

    static func url(_ url: String, applicationName: String) -> String {
        TestDatabases.url(url, applicationName: applicationName)
    }

    static func url(_ url: String, database: String) -> String { TestDatabases.url(url, database: database) }
}

/// A small JSON event for tests that do not need a decider.
func testEvent(_ type: String = "SomethingHappened", _ value: Int = 0) -> NewEvent {
    NewEvent(type: type, data: #"{"value": \#(value)}"#)
}
