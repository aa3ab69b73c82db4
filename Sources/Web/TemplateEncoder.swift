import Foundation

/// Turns a page's view model (any `Encodable` struct) into the dictionaries, arrays, strings,
/// numbers and booleans the Mustache renderer looks names up in.
///
/// Why: left to itself the renderer finds `{{name}}` in a struct through `Mirror`, which for
/// every lookup reflects every stored property of the struct (and of each struct above it on
/// the context stack, while it climbs), demangling their types: measured at about 60% of a
/// worker's CPU for a signed-in concert page (bench/FINDINGS.md). The synthesised `encode(to:)`
/// visits each property once, with no reflection, and a dictionary lookup is a hash.
///
/// The result keeps what Mustache saw before: a `nil` optional is absent (so the name is looked
/// up in the enclosing context, as it was), booleans and arrays open sections, dates and other
/// values that are not containers are kept as they are (and rendered as their description).
public struct TemplateEncoder {
    public init() {}

    public func encode<T: Encodable>(_ value: T) throws -> Any {
        if let kept = Self.keptAsIs(value) { return kept }
        let encoder = TreeEncoder(codingPath: [])
        try value.encode(to: encoder)
        return encoder.storage?.value ?? [String: Any]()
    }

    /// Values kept as they are: the ones that are not containers, whose own `encode(to:)`
    /// would call back into a single-value container (numbers of every width), or lose what a
    /// template shows (a date's description).
    static func keptAsIs(_ value: Any) -> Any? {
        switch value {
        case let value as String: value
        case let value as Bool: value
        case let value as Int: value
        case let value as Int64: value
        case let value as Int32: value
        case let value as Int16: value
        case let value as Int8: value
        case let value as UInt: value
        case let value as UInt64: value
        case let value as UInt32: value
        case let value as UInt16: value
        case let value as UInt8: value
        case let value as Double: value
        case let value as Float: value
        case let value as Date: value
        case let value as Decimal: value
        case let value as UUID: value.uuidString
        case let value as URL: value.absoluteString
        default: nil
        }
    }
}

/// A node of the tree being built: a dictionary or an array that containers nested in it keep
/// filling after they were handed out, or a single value.
private final class Node {
    enum Kind {
        case keyed([String: Node])
        case unkeyed([Node])
        case value(Any)
    }
    var kind: Kind

    init(_ kind: Kind) { self.kind = kind }

    var value: Any {
        switch kind {
        case .keyed(let children): children.mapValues(\.value)
        case .unkeyed(let items): items.map(\.value)
        case .value(let value): value
        }
    }
}

private final class TreeEncoder: Encoder {
    let codingPath: [CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    var storage: Node?

    init(codingPath: [CodingKey]) { self.codingPath = codingPath }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        let node: Node
        if let storage, case .keyed = storage.kind {
            node = storage
        } else {
            node = Node(.keyed([:]))
            storage = node
        }
        return KeyedEncodingContainer(KeyedContainer<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> UnkeyedEncodingContainer {
        let node: Node
        if let storage, case .unkeyed = storage.kind {
            node = storage
        } else {
            node = Node(.unkeyed([]))
            storage = node
        }
        return UnkeyedContainer(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> SingleValueEncodingContainer {
        SingleContainer(encoder: self, codingPath: codingPath)
    }

    /// The node for a nested value: kept as it is, or encoded by its own `encode(to:)`.
    static func node<T: Encodable>(for value: T, codingPath: [CodingKey]) throws -> Node {
        if let kept = TemplateEncoder.keptAsIs(value) { return Node(.value(kept)) }
        let encoder = TreeEncoder(codingPath: codingPath)
        try value.encode(to: encoder)
        return encoder.storage ?? Node(.keyed([:]))
    }
}

private struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: Node
    let codingPath: [CodingKey]

    private func set(_ child: Node, _ key: Key) {
        guard case .keyed(var children) = node.kind else { return }
        node.kind = .keyed([:])  // one reference while it changes, so it is not copied
        children[key.stringValue] = child
        node.kind = .keyed(children)
    }

    mutating func encodeNil(forKey key: Key) throws {}  // absent, as a nil optional was
    mutating func encode(_ value: Bool, forKey key: Key) throws { set(Node(.value(value)), key) }
    mutating func encode(_ value: String, forKey key: Key) throws { set(Node(.value(value)), key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { set(Node(.value(value)), key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { set(Node(.value(value)), key) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        set(try TreeEncoder.node(for: value, codingPath: codingPath + [key]), key)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        let child = Node(.keyed([:]))
        set(child, key)
        return KeyedEncodingContainer(KeyedContainer<NestedKey>(node: child, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> UnkeyedEncodingContainer {
        let child = Node(.unkeyed([]))
        set(child, key)
        return UnkeyedContainer(node: child, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> Encoder { TreeEncoder(codingPath: codingPath) }
    mutating func superEncoder(forKey key: Key) -> Encoder { TreeEncoder(codingPath: codingPath + [key]) }
}

private struct UnkeyedContainer: UnkeyedEncodingContainer {
    let node: Node
    let codingPath: [CodingKey]
    var count: Int {
        if case .unkeyed(let items) = node.kind { items.count } else { 0 }
    }

    private func append(_ child: Node) {
        guard case .unkeyed(var items) = node.kind else { return }
        node.kind = .unkeyed([])
        items.append(child)
        node.kind = .unkeyed(items)
    }

    mutating func encodeNil() throws { append(Node(.value(NSNull()))) }
    mutating func encode(_ value: Bool) throws { append(Node(.value(value))) }
    mutating func encode(_ value: String) throws { append(Node(.value(value))) }
    mutating func encode(_ value: Int) throws { append(Node(.value(value))) }
    mutating func encode(_ value: Double) throws { append(Node(.value(value))) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        append(try TreeEncoder.node(for: value, codingPath: codingPath))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
        -> KeyedEncodingContainer<NestedKey>
    {
        let child = Node(.keyed([:]))
        append(child)
        return KeyedEncodingContainer(KeyedContainer<NestedKey>(node: child, codingPath: codingPath))
    }

    mutating func nestedUnkeyedContainer() -> UnkeyedEncodingContainer {
        let child = Node(.unkeyed([]))
        append(child)
        return UnkeyedContainer(node: child, codingPath: codingPath)
    }

    mutating func superEncoder() -> Encoder { TreeEncoder(codingPath: codingPath) }
}

private struct SingleContainer: SingleValueEncodingContainer {
    let encoder: TreeEncoder
    let codingPath: [CodingKey]

    mutating func encodeNil() throws { encoder.storage = Node(.value(NSNull())) }
    mutating func encode(_ value: Bool) throws { encoder.storage = Node(.value(value)) }
    mutating func encode(_ value: String) throws { encoder.storage = Node(.value(value)) }
    mutating func encode(_ value: Int) throws { encoder.storage = Node(.value(value)) }
    mutating func encode(_ value: Double) throws { encoder.storage = Node(.value(value)) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        encoder.storage = try TreeEncoder.node(for: value, codingPath: codingPath)
    }
}
