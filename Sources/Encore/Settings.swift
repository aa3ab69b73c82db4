import Foundation

/// The application's settings, beside the pool's: read by the pool from the same config file,
/// `ENCORE_` environment variables and flags (`PoolConfiguration.application`).
public struct Settings: Sendable, Equatable {
    /// The keys the config file and `ENCORE_<KEY>` may set.
    public static let keys = ["hold_seconds"]

    /// How long a confirmed cart's tickets stay held, unpaid (`hold_seconds`, default 15 minutes).
    public var holdTime: TimeInterval = 15 * 60

    public init() {}

    public enum Error: Swift.Error, CustomStringConvertible {
        case invalid(key: String, value: String, expected: String)

        public var description: String {
            switch self {
            case .invalid(let key, let value, let expected): "invalid value '\(value)' for '\(key)': \(expected)"
            }
        }
    }

    /// Reads the settings given (`PoolConfiguration.application`); absent keys keep their defaults.
    public init(_ values: [String: String]) throws {
        if let text = values["hold_seconds"] {
            guard let seconds = Double(text), seconds >= 1, seconds <= 86_400 else {
                throw Error.invalid(key: "hold_seconds", value: text, expected: "seconds, 1 to 86400")
            }
            holdTime = seconds
        }
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
