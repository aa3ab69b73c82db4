// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6)
]

/// A bounded context's module: its domain, handlers, read models, routes and resources.
/// Its `Resources/` folder holds `openapi.json` and, for a context with pages, `Templates/`.
func context(_ name: String, _ more: [Target.Dependency] = [], templates: Bool = true) -> Target {
    .target(
        name: name,
        dependencies: ["EventStore", "Postgres", "Web", "Identity", .product(name: "Logging", package: "swift-log")]
            + more,
        resources: (templates ? [.copy("Resources/Templates")] : []) + [.copy("Resources/openapi.json")],
        swiftSettings: strict
    )
}

let package = Package(
    name: "encore",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "encore", targets: ["EncoreCLI"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
    ],
    targets: [
        // C libraries, through system-library targets: a module map and a shim header, nothing more.
        .systemLibrary(name: "CFastCGI", path: "Sources/CFastCGI"),
        .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ", pkgConfig: "libpq"),
        .systemLibrary(name: "CLinux", path: "Sources/CLinux"),
        .systemLibrary(name: "CSodium", path: "Sources/CSodium", pkgConfig: "libsodium"),

        // Thin, safe wrappers that own every C pointer.
        .target(
            name: "FastCGI",
            dependencies: [
                "CFastCGI", "CLinux",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Atomics", package: "swift-atomics"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "Postgres",
            dependencies: ["CLibPQ", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),

        .target(name: "Sodium", dependencies: ["CSodium"], swiftSettings: strict),

        // The event store: streams, append, global order, projections. Knows nothing of concerts.
        .target(
            name: "EventStore",
            dependencies: ["Postgres", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),

        // Who is asking: roles and the principal, the Users context's published language. No HTTP.
        .target(name: "Identity", swiftSettings: strict),

        // HTTP on top of FastCGI: routing, requests and responses, errors, CSRF, idempotency,
        // templates, and the shape a bounded context takes for the composition root.
        .target(
            name: "Web",
            dependencies: [
                "FastCGI", "Postgres", "EventStore", "Sodium", "Identity",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),

        // Bounded contexts, one module each: events, commands, deciders, handlers, read models,
        // routes, templates and their part of the OpenAPI document (Resources/). They meet only
        // through events, the seams the composition root hands them, and Sales.
        context("Users", ["Sodium"]),
        context("Concerts"),
        context("Reservations", templates: false),
        context("ShoppingCarts"),
        context("Orders"),
        context("Payments", ["Stripe"], templates: false),
        context("TicketDelivery", ["Mail", "QRCode", "Sodium"]),
        context("WaitingLists", ["Sodium"]),
        context("Finance", ["Sodium"]),
        // Flows across contexts: the checkout and the process managers. The one module that
        // may use several contexts' modules.
        context(
            "Sales",
            [
                "Concerts", "Reservations", "ShoppingCarts", "Orders", "Payments", "TicketDelivery", "WaitingLists",
                "Mail", "Finance", "Charts",
            ]),

        // The composition root: the list of contexts, the request handler, operations routes.
        .target(
            name: "Encore",
            dependencies: [
                "FastCGI", "Postgres", "EventStore", "Web", "Identity", "Users", "Concerts", "Reservations",
                "ShoppingCarts", "Orders", "Payments", "TicketDelivery", "WaitingLists", "Sales", "Stripe", "Mail",
                "Finance",
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Resources/Templates"), .copy("Resources/openapi.json")],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "EncoreCLI",
            dependencies: [
                "Encore", "FastCGI", "Postgres", "EventStore", "Web", "Identity", "Users", "Concerts", "HTTPClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),

        // Benchmarks' load generator (event store appends, projections); not shipped.
        .executableTarget(
            name: "encore-bench",
            dependencies: [
                "EventStore", "Postgres", "CLinux",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "bench/Sources/encore-bench",
            swiftSettings: strict
        ),

        // Payments gateway: libcurl, a synchronous HTTP client on it, and the Stripe wire client
        // (HTTP API and webhook signatures), which knows nothing of Encore's domain.
        .systemLibrary(name: "CCurl", path: "Sources/CCurl", pkgConfig: "libcurl"),
        .target(name: "HTTPClient", dependencies: ["CCurl"], swiftSettings: strict),
        .target(name: "Stripe", dependencies: ["HTTPClient", "Sodium"], swiftSettings: strict),
        .testTarget(name: "HTTPClientTests", dependencies: ["HTTPClient"], swiftSettings: strict),

        // QR codes for tickets: libqrencode, drawn as SVG (pages) and PNG (e-mail).
        .systemLibrary(name: "CQREncode", path: "Sources/CQREncode", pkgConfig: "libqrencode"),
        .target(name: "QRCode", dependencies: ["CQREncode"], swiftSettings: strict),
        .testTarget(name: "QRCodeTests", dependencies: ["QRCode"], swiftSettings: strict),

        // Charts drawn on the server as SVG (the organiser's dashboard).
        .target(name: "Charts", swiftSettings: strict),
        .testTarget(name: "ChartsTests", dependencies: ["Charts"], swiftSettings: strict),

        // E-mail: MIME messages and an SMTP client on libcurl.
        .target(name: "Mail", dependencies: ["CCurl", "HTTPClient"], swiftSettings: strict),
        .testTarget(name: "MailTests", dependencies: ["Mail", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "StripeTests", dependencies: ["Stripe", "HTTPClient", "Sodium"], swiftSettings: strict),

        // What the integration tests share: fresh databases, waiting for a condition, threads.
        .target(
            name: "TestSupport", dependencies: ["EventStore", "Postgres"], path: "Tests/TestSupport",
            swiftSettings: strict),
        .testTarget(name: "FastCGITests", dependencies: ["FastCGI"], swiftSettings: strict),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "EventStoreTests", dependencies: ["EventStore", "Postgres", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "SodiumTests", dependencies: ["Sodium"], swiftSettings: strict),
        .testTarget(
            name: "UsersTests", dependencies: ["Users", "EventStore", "Web", "Postgres", "Identity", "TestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "ConcertsTests", dependencies: ["Concerts", "EventStore", "Postgres", "Web", "TestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "ReservationsTests", dependencies: ["Reservations", "EventStore", "Postgres", "TestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "ShoppingCartsTests", dependencies: ["ShoppingCarts", "EventStore"], swiftSettings: strict),
        // The Mustache library is the reference our own renderer is checked against.
        .testTarget(
            name: "WebTests",
            dependencies: ["Web", "EventStore", "Identity", .product(name: "Mustache", package: "swift-mustache")],
            swiftSettings: strict),
        .testTarget(name: "OrdersTests", dependencies: ["Orders", "EventStore"], swiftSettings: strict),
        .testTarget(name: "PaymentsTests", dependencies: ["Payments", "EventStore"], swiftSettings: strict),
        .testTarget(name: "WaitingListsTests", dependencies: ["WaitingLists", "EventStore"], swiftSettings: strict),
        .testTarget(
            name: "FinanceTests",
            dependencies: ["Finance", "Sales", "Orders", "EventStore", "Postgres", "TestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "TicketDeliveryTests", dependencies: ["TicketDelivery", "EventStore", "Mail"], swiftSettings: strict),
        .testTarget(
            name: "SalesTests",
            dependencies: [
                "Sales", "Concerts", "Reservations", "ShoppingCarts", "Users", "EventStore", "Postgres", "Web",
                "Identity", "TicketDelivery", "Mail", "WaitingLists",
                "TestSupport",
            ],
            swiftSettings: strict),
    ]
)
