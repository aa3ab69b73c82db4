import Foundation

/// The OpenAPI document served at `/api/openapi.json`, assembled at start-up from the root's
/// part (info, servers, operations, shared components) and each context's `openapi.json`
/// (its tags, paths and components). A path or component defined twice is an error, so two
/// contexts cannot silently take each other's.
enum OpenAPIDocument {
    enum Error: Swift.Error, CustomStringConvertible {
        case unreadable(String)
        case duplicate(section: String, name: String, file: String)

        var description: String {
            switch self {
            case .unreadable(let file): "cannot read the OpenAPI part \(file)"
            case .duplicate(let section, let name, let file): "\(file) defines \(section) '\(name)' again"
            }
        }
    }

    /// The whole document, as JSON with sorted keys.
    static func assemble(root: URL, parts: [URL]) throws -> [UInt8] {
        var document = try object(root)
        for part in parts {
            let fragment = try object(part)
            if let tags = fragment["tags"] as? [Any] {
                document["tags"] = (document["tags"] as? [Any] ?? []) + tags
            }
            document["paths"] = try merge(
                document["paths"], fragment["paths"], section: "path", file: part.lastPathComponent(in: 3))
            var components = document["components"] as? [String: Any] ?? [:]
            for (section, entries) in fragment["components"] as? [String: Any] ?? [:] {
                components[section] = try merge(
                    components[section], entries, section: section, file: part.lastPathComponent(in: 3))
            }
            document["components"] = components
        }
        return Array(
            try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .withoutEscapingSlashes]))
    }

    static func object(_ url: URL) throws -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: url.path),
            let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { throw Error.unreadable(url.path) }
        return object
    }

    static func merge(_ existing: Any?, _ added: Any?, section: String, file: String) throws -> [String: Any] {
        var merged = existing as? [String: Any] ?? [:]
        for (name, value) in added as? [String: Any] ?? [:] {
            guard merged[name] == nil else { throw Error.duplicate(section: section, name: name, file: file) }
            merged[name] = value
        }
        return merged
    }
}

extension URL {
    /// The last `count` components of the path ("Concerts.resources/Resources/openapi.json").
    fileprivate func lastPathComponent(in count: Int) -> String {
        pathComponents.suffix(count).joined(separator: "/")
    }
}
