import Foundation
import Mustache

/// Server-side templates (Mustache): every `{{value}}` is HTML-escaped; raw output needs
/// triple braces, which our templates use only for markup that code produced with `HTML`.
///
/// Loaded once per process from the contexts' folders of `.mustache` files; rendering is
/// thread-safe. Pages render from typed view models (a struct per page): a value that is nil
/// is absent, so a template never shows "nil".
public final class Templates: Sendable {
    private let library: MustacheLibrary

    /// Loads every `.mustache` file of the folders; a name may appear in one folder only.
    public init(directories: [String]) throws {
        var library = MustacheLibrary()
        var seen: [String: String] = [:]
        for directory in directories {
            let files = try FileManager.default.contentsOfDirectory(atPath: directory)
            for file in files.sorted() where file.hasSuffix(".mustache") {
                let name = String(file.dropLast(".mustache".count))
                if let other = seen[name] { throw Error.duplicateTemplate(name, directory, other) }
                seen[name] = directory
                let text = try String(contentsOfFile: directory + "/" + file, encoding: .utf8)
                try library.register(text, named: name)
            }
        }
        self.library = library
    }

    public enum Error: Swift.Error {
        case missingTemplate(String)
        case duplicateTemplate(String, String, String)
    }

    /// Renders a template with a view model: a struct (of structs, arrays, strings, numbers
    /// and booleans), turned into dictionaries first (`TemplateEncoder`).
    public func render<Model: Encodable>(_ name: String, _ model: Model) throws -> String {
        let context = try TemplateEncoder().encode(model)
        guard let text = library.render(context, withTemplate: name) else {
            throw Error.missingTemplate(name)
        }
        return text
    }
}
