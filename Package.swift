// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6)
]

let package = Package(
    name: "encore",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "encore", targets: ["encore"])
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

        // Bounded contexts: domain (deciders), handlers, read models and routes.
        .target(
            name: "Users",
            dependencies: ["EventStore", "Postgres", "Web", "Sodium", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),

        .target(
            name: "Concerts",
            dependencies: ["EventStore", "Postgres", "Web", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),

        .target(
            name: "Reservations",
            dependencies: ["EventStore", "Postgres", "Web", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),

        .target(
            name: "ShoppingCarts",
            dependencies: ["EventStore", "Postgres", "Web", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),

        // HTTP on top of FastCGI: routing, responses, errors, templates.
        .target(
            name: "Web",
            dependencies: [
                "FastCGI", "Postgres", "Sodium",
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),

        // The composition root: wires contexts, routes, migrations and background processes.
        .target(
            name: "Encore",
            dependencies: [
                "FastCGI", "Postgres", "EventStore", "Web", "Users", "Concerts", "Reservations", "ShoppingCarts",
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Templates"), .copy("OpenAPI")],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "encore",
            dependencies: [
                "Encore", "FastCGI", "Postgres", "EventStore",
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
        .testTarget(name: "StripeTests", dependencies: ["Stripe", "HTTPClient", "Sodium"], swiftSettings: strict),

        .testTarget(name: "FastCGITests", dependencies: ["FastCGI"], swiftSettings: strict),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres"], swiftSettings: strict),
        .testTarget(name: "EventStoreTests", dependencies: ["EventStore", "Postgres"], swiftSettings: strict),
        .testTarget(name: "SodiumTests", dependencies: ["Sodium"], swiftSettings: strict),
        .testTarget(
            name: "UsersTests", dependencies: ["Users", "EventStore", "Web", "Postgres"], swiftSettings: strict),
        .testTarget(name: "ConcertsTests", dependencies: ["Concerts", "EventStore"], swiftSettings: strict),
        .testTarget(
            name: "ReservationsTests", dependencies: ["Reservations", "EventStore", "Postgres"], swiftSettings: strict),
        .testTarget(
            name: "ShoppingCartsTests", dependencies: ["ShoppingCarts", "EventStore"], swiftSettings: strict),
        .testTarget(name: "WebTests", dependencies: ["Web"], swiftSettings: strict),
    ]
)
