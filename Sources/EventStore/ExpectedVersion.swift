/// What the appender believes about a stream's version; a mismatch is a `WrongExpectedVersion`.
public enum ExpectedVersion: Sendable, Hashable, CustomStringConvertible {
    /// The stream must not exist yet. `.exact(0)` means the same.
    case noStream
    /// No check: append at the end, whatever the version.
    case any
    /// The stream's version (its number of events) must be exactly this.
    case exact(Int64)

    /// The stream version a loader read: `.noStream` for 0.
    public static func version(_ version: Int64) -> ExpectedVersion {
        version == 0 ? .noStream : .exact(version)
    }

    /// The number for SQL: -1 any, 0 no stream, n exactly n.
    var sqlValue: Int64 {
        switch self {
        case .noStream: 0
        case .any: -1
        case .exact(let version): version
        }
    }

    init(sqlValue: Int64) {
        switch sqlValue {
        case -1: self = .any
        case 0: self = .noStream
        default: self = .exact(sqlValue)
        }
    }

    public var description: String {
        switch self {
        case .noStream: "no stream"
        case .any: "any"
        case .exact(let version): "\(version)"
        }
    }
}

/// The stream was not at the version the appender expected; nothing was appended.
public struct WrongExpectedVersion: Error, Hashable, CustomStringConvertible {
    public let streamId: String
    public let expected: ExpectedVersion
    /// The stream's version when the append was refused; 0 when it does not exist.
    public let actual: Int64

    public init(streamId: String, expected: ExpectedVersion, actual: Int64) {
        self.streamId = streamId
        self.expected = expected
        self.actual = actual
    }

    public var description: String {
        "wrong expected version for stream \(streamId): expected \(expected), actual \(actual)"
    }
}
