import Foundation

/// Files shipped with the application: templates and the OpenAPI document.
enum Resources {
    static var templatesDirectory: String {
        Bundle.module.resourceURL!.appendingPathComponent("Templates").path
    }

    static var openAPIDocument: [UInt8] {
        let url = Bundle.module.resourceURL!.appendingPathComponent("OpenAPI/openapi.json")
        return (try? Array(Data(contentsOf: url))) ?? []
    }
}
