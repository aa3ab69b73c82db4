import Foundation

/// Turns a page's view model (any `Encodable` struct) into the `TemplateValue` tree that
/// templates render: objects, lists, text and booleans.
///
/// Why not reflection: finding `{{name}}` in a struct through `Mirror` reflects every stored
/// property of the struct (and of each struct above it on the context stack, while it climbs),
/// demangling their types. The synthesised `encode(to:)` visits each property once, with no
/// reflection, and a lookup in the tree is a hash.
///
/// A `nil` optional is absent (so the name is looked up in the enclosing context), booleans
/// and lists open sections, numbers, dates and other values that are not containers become
/// their text (`String(describing:)`). Coding paths stay empty: nothing here reports where in
/// a model a value was, and building them allocated an array per nested value.
public struct TemplateEncoder {
    public init() {}

    public func encode<T: Encodable>(_ value: T) throws -> TemplateValue {
        if let kept = Self.keptAsIs(value) { return kept }
        let encoder = TreeEncoder(codingPath: [])
        try value.encode(to: encoder)
        return encoder.storage?.value ?? .object([:])
    }

    /// Values kept as they are: the ones that are not containers, whose own `encode(to:)`
    /// would call back into a single-value container (numbers of every width), or lose what a
    /// template shows (a date's description). Told apart by their type's metadata, which is
    /// a comparison of pointers; casting every struct of a page to each of these types in turn
    /// was a tenth of the encoder's time.
    static func keptAsIs<T>(_ value: T) -> TemplateValue? {
        let type = ObjectIdentifier(T.self)
        guard let kind = keptTypes[type] else { return nil }
        switch kind {
        case .text: return .text(value as! String)
        case .bool: return .bool(value as! Bool)
        case .described: return .text(String(describing: value))
        case .uuid: return .text((value as! UUID).uuidString)
        case .url: return .text((value as! URL).absoluteString)
        }
    }

    private enum Kept { case text, bool, described, uuid, url }

    private static let keptTypes: [ObjectIdentifier: Kept] = {
        var types: [ObjectIdentifier: Kept] = [
            ObjectIdentifier(String.self): .text, ObjectIdentifier(Bool.self): .bool,
            ObjectIdentifier(UUID.self): .uuid, ObjectIdentifier(URL.self): .url,
        ]
        let described: [Any.Type] = [
            Int.self, Int64.self, Int32.self, Int16.self, Int8.self, UInt.self, UInt64.self, UInt32.self, UInt16.self,
            UInt8.self, Double.self, Float.self, Date.self, Decimal.self,
        ]
        for type in described { types[ObjectIdentifier(type)] = .described }
        return types
    }()
}

/// A node of the tree being built: a dictionary or an array that containers nested in it keep
/// filling after they were handed out, or a single value.
private final class Node {
    enum Kind {
        case keyed([String: Node])
        case unkeyed([Node])
        case value(TemplateValue)
    }
    var kind: Kind

    init(_ kind: Kind) { self.kind = kind }

    var value: TemplateValue {
        switch kind {
        case .keyed(let children): .object(children.mapValues(\.value))
        case .unkeyed(let items): .list(items.map(\.value))
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
    mutating func encode(_ value: Bool, forKey key: Key) throws { set(Node(.value(.bool(value))), key) }
    mutating func encode(_ value: String, forKey key: Key) throws { set(Node(.value(.text(value))), key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { set(Node(.value(.text(String(value)))), key) }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        set(Node(.value(.text(String(describing: value)))), key)
    }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        set(try TreeEncoder.node(for: value, codingPath: codingPath), key)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        let child = Node(.keyed([:]))
        set(child, key)
        return KeyedEncodingContainer(KeyedContainer<NestedKey>(node: child, codingPath: codingPath))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> UnkeyedEncodingContainer {
        let child = Node(.unkeyed([]))
        set(child, key)
        return UnkeyedContainer(node: child, codingPath: codingPath)
    }

    mutating func superEncoder() -> Encoder { TreeEncoder(codingPath: codingPath) }
    mutating func superEncoder(forKey key: Key) -> Encoder { TreeEncoder(codingPath: codingPath) }
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

    mutating func encodeNil() throws { append(Node(.value(.null))) }
    mutating func encode(_ value: Bool) throws { append(Node(.value(.bool(value)))) }
    mutating func encode(_ value: String) throws { append(Node(.value(.text(value)))) }
    mutating func encode(_ value: Int) throws { append(Node(.value(.text(String(value))))) }
    mutating func encode(_ value: Double) throws { append(Node(.value(.text(String(describing: value))))) }
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

    mutating func encodeNil() throws { encoder.storage = Node(.value(.null)) }
    mutating func encode(_ value: Bool) throws { encoder.storage = Node(.value(.bool(value))) }
    mutating func encode(_ value: String) throws { encoder.storage = Node(.value(.text(value))) }
    mutating func encode(_ value: Int) throws { encoder.storage = Node(.value(.text(String(value)))) }
    mutating func encode(_ value: Double) throws { encoder.storage = Node(.value(.text(String(describing: value)))) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        encoder.storage = try TreeEncoder.node(for: value, codingPath: codingPath)
    }
}
