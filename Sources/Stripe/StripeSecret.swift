/// A secret (a secret API key, a webhook signing secret) that never shows itself: its
/// description, debug description and reflection all say `<redacted>`, so a configuration,
/// an error or a value dumped into a log cannot leak it. Only this module reads the value.
public struct StripeSecret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    let value: String

    public init(_ value: String) {
        self.value = value
    }

    public var isEmpty: Bool { value.isEmpty }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}
