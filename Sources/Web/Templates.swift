import Foundation
import Mustache

/// Server-side templates (Mustache): every `{{value}}` is HTML-escaped; raw output needs
/// triple braces, which our templates use only for markup that code produced with `HTML`.
///
/// Loaded once per process from a folder of `.mustache` files; rendering is thread-safe.
public final class Templates: Sendable {
    private let library: MustacheLibrary

    public init(directory: String) throws {
        var library = MustacheLibrary()
        let files = try FileManager.default.contentsOfDirectory(atPath: directory)
        for file in files.sorted() where file.hasSuffix(".mustache") {
            let text = try String(contentsOfFile: directory + "/" + file, encoding: .utf8)
            try library.register(text, named: String(file.dropLast(".mustache".count)))
        }
        self.library = library
    }

    public enum Error: Swift.Error {
        case missingTemplate(String)
    }

    /// Renders a template with a context of dictionaries, arrays and strings.
    public func render(_ name: String, _ context: Any) throws -> String {
        guard let text = library.render(context, withTemplate: name) else {
            throw Error.missingTemplate(name)
        }
        return text
    }
}
