/// One metric in Prometheus' text exposition format: what a context adds to `/metrics`.
public struct Metric: Sendable {
    public enum Kind: String, Sendable {
        case gauge, counter
    }

    public struct Sample: Sendable {
        public let labels: [(String, String)]
        public let value: Double

        public init(_ value: Double, labels: [(String, String)] = []) {
            self.labels = labels
            self.value = value
        }
    }

    /// The full name, `encore_` and all.
    public let name: String
    public let help: String
    public let kind: Kind
    public let samples: [Sample]

    public init(_ name: String, _ kind: Kind, help: String, _ samples: [Sample]) {
        self.name = name
        self.help = help
        self.kind = kind
        self.samples = samples
    }

    public init(_ name: String, _ kind: Kind, help: String, value: Double) {
        self.init(name, kind, help: help, [Sample(value)])
    }

    /// The metric's lines, each ending in a newline.
    public var text: String {
        var out = "# HELP \(name) \(help)\n# TYPE \(name) \(kind.rawValue)\n"
        for sample in samples {
            let labels = sample.labels.map { "\($0.0)=\"\(Metric.escape($0.1))\"" }.joined(separator: ",")
            let value =
                sample.value == sample.value.rounded() && abs(sample.value) < 1e15
                ? String(Int(sample.value)) : String(sample.value)
            out += name + (labels.isEmpty ? "" : "{\(labels)}") + " " + value + "\n"
        }
        return out
    }

    /// A label value with `\`, `"` and newlines escaped, as the format asks.
    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
