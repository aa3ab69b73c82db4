import Foundation
import Testing

@testable import FastCGI

@Suite struct PoolConfigurationTests {
    @Test func defaultsSuitATwoCoreMachine() throws {
        let configuration = try PoolConfiguration.load(file: nil, environment: [:], flags: [:])
        #expect(configuration.workers == 2)
        #expect(configuration.threads == 4)
        #expect(configuration.bodyLimit == 1_048_576)
    }

    @Test func flagsOverrideEnvironmentWhichOverridesTheFile() throws {
        let file = "/tmp/encore-config-test-\(UInt32.random(in: 0...UInt32.max)).conf"
        try "# pool\nworkers = 3\nthreads = 4\nslow_request = 1.5s\nsocket = \"/tmp/a.sock\"\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let configuration = try PoolConfiguration.load(
            file: file,
            environment: ["ENCORE_THREADS": "6", "DATABASE_URL": "postgresql:///x"],
            flags: ["threads": "12"])
        #expect(configuration.workers == 3)
        #expect(configuration.threads == 12)
        #expect(configuration.slowRequest == 1.5)
        #expect(configuration.socketPath == "/tmp/a.sock")
        #expect(configuration.databaseURL == "postgresql:///x")
    }

    @Test func rejectsUnknownKeysAndBadValues() {
        #expect(throws: PoolConfiguration.Error.self) {
            try PoolConfiguration.load(file: nil, environment: [:], flags: ["wrokers": "2"])
        }
        #expect(throws: PoolConfiguration.Error.self) {
            try PoolConfiguration.load(file: nil, environment: ["ENCORE_WORKERS": "many"], flags: [:])
        }
        #expect(throws: PoolConfiguration.Error.self) {
            try PoolConfiguration.load(file: nil, environment: [:], flags: ["threads": "0"])
        }
        #expect(throws: PoolConfiguration.Error.self) {
            try PoolConfiguration.load(file: nil, environment: [:], flags: ["request_timeout": "-1"])
        }
    }

    @Test func workerEnvironmentCarriesEverySetting() throws {
        let configuration = try PoolConfiguration.load(
            file: nil, environment: [:], flags: ["workers": "3", "body_limit": "10", "database_url": "postgresql:///y"])
        let again = try PoolConfiguration.load(file: nil, environment: configuration.workerEnvironment, flags: [:])
        #expect(again == configuration)
    }
}
