// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "ektpd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ektpd", targets: ["ektpd"]),
        .library(name: "EKTPModel", targets: ["EKTPModel"]),
        .library(name: "EKTPHardware", targets: ["EKTPHardware"]),
        .library(name: "EKTPStation", targets: ["EKTPStation"]),
        .executable(name: "ektp-registry", targets: ["ektp-registry"]),
        .library(name: "EKTPRegistry", targets: ["EKTPRegistry"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // The registry only: ektpd itself links none of these (its footprint stays small).
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        // The dashboard (issue 15): bcrypt for viewer passwords, Mustache templates for its pages.
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
    ],
    targets: [
        // C libraries, reached only from EKTPHardware: their headers here, their functions from
        // CEKTPDeviceLibs, which loads them with dlopen at the first call (client commands never do).
        .systemLibrary(name: "CLibUSB", providers: [.apt(["libusb-1.0-0-dev"])]),
        .systemLibrary(name: "CUdev", providers: [.apt(["libudev-dev"])]),
        .target(name: "CEKTPDeviceLibs", linkerSettings: [.linkedLibrary("dl")]),

        // SQLite for the station's durable outbox (the C library: small, no Foundation).
        .systemLibrary(name: "CSQLite3", providers: [.apt(["libsqlite3-dev"])]),  // static: see its module.modulemap
        // Linux calls hidden from Swift's Glibc module (accept4, pipe2).
        .target(name: "CEKTPSys"),
        // The daemon's HTTP client: libcurl, loaded by dlopen at the first request (see its header),
        // and zlib for gzip'd request bodies. Built against Debian's libcurl4-openssl-dev.
        .target(name: "CEKTPCurl", dependencies: ["CEKTPZlib"], linkerSettings: [.linkedLibrary("dl")]),
        // gzip both ways (zlib's init calls are macros Swift cannot call): the station's bodies, the registry's reading.
        // zlib is loaded by dlopen at the first gzip (see ektp_zlib.c), so client commands never load it.
        .target(name: "CEKTPZlib", linkerSettings: [.linkedLibrary("dl")]),

        // Value types shared by station and registry. No I/O.
        .target(name: "EKTPModel"),
        // The station's pure logic (issue 12, item 6): health and kit judgement, the recording
        // server's supervisor, alert rules and life cycle, delivery backoff, the seeded generator.
        // No I/O and no clock: every function is given the time.
        .target(name: "EKTPCore", dependencies: ["EKTPModel"]),
        // The platform (issue 12, item 6): sockets, the HTTP/1.1 codec, server and Unix-socket client,
        // child processes, threads, wakers, durable files, sd_notify, journald-format logging, the
        // clocks, metrics text, gzip, gettext. Shared by both daemons.
        .target(name: "EKTPPlatform",
                dependencies: ["EKTPModel", "CEKTPZlib", "CEKTPSys", .product(name: "Logging", package: "swift-log"),
                               .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                               .product(name: "CoreMetrics", package: "swift-metrics"),
                               .product(name: "Prometheus", package: "swift-prometheus")]),
        // A strict YAML subset reader with line/column marks, for config and scenario files.
        .target(name: "EKTPYAML"),
        // Hardware abstraction: backends, catalogue, scenarios, probes.
        .target(name: "EKTPHardware",
                dependencies: ["EKTPModel", "EKTPCore", "EKTPYAML", "CLibUSB", "CUdev", "CEKTPDeviceLibs", "CEKTPSys"]),
        // The daemon's HTTP client (libcurl, dlopen'd): the station's requests and the registry's uploads.
        .target(name: "EKTPHTTPClient", dependencies: ["EKTPModel", "EKTPPlatform", "CEKTPCurl"]),
        // Ed25519 and SHA-256 from libcrypto, dlopen'd: the station's signing key (issue 16).
        .target(name: "CEKTPCrypto", linkerSettings: [.linkedLibrary("dl")]),
        // The station daemon's services.
        .target(name: "EKTPStation",
                dependencies: [
                    "EKTPModel", "EKTPCore", "EKTPHardware", "EKTPYAML", "EKTPPlatform", "CEKTPSys", "CSQLite3", "CEKTPZlib", "CEKTPCrypto", "EKTPHTTPClient",
                    .product(name: "Logging", package: "swift-log"),
                    .product(name: "CoreMetrics", package: "swift-metrics"),
                    .product(name: "Prometheus", package: "swift-prometheus"),
                    .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                ]),
        .executableTarget(name: "ektpd",
                          dependencies: [
                              "EKTPStation", "EKTPHardware", "EKTPModel", "EKTPYAML", "EKTPPlatform", "CEKTPSys",
                              .product(name: "ArgumentParser", package: "swift-argument-parser"),
                              .product(name: "Logging", package: "swift-log"),
                              .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                          ],
                          linkerSettings: [
                              // Swift's runtime linked in, libc still shared: half the start-up time and
                              // 3 MB less memory, and umockdev's LD_PRELOAD still sees every libc call.
                              .unsafeFlags(["-static-stdlib"], .when(platforms: [.linux])),
                              // SwiftPM exports every symbol of an executable (--export-dynamic, for
                              // @testable executables; no test imports ektpd): 50,000 dynamic symbols
                              // that the Swift runtime's dladdr() walks at each start. Without them
                              // `ektpd status` starts faster (BENCHMARKS.md, issue 17).
                              .unsafeFlags(["-Xlinker", "--no-export-dynamic"], .when(platforms: [.linux])),
                              // FoundationEssentials' static archive needs this one named explicitly.
                              .linkedLibrary("_FoundationCollections", .when(platforms: [.linux])),
                              .linkedLibrary("_FoundationCShims", .when(platforms: [.linux])),
                          ]),
        // The central registry: storage (SQLite through GRDB, PostgreSQL through postgres-nio), ingest,
        // fleet queries, HTTP (Hummingbird).
        .target(name: "EKTPRegistry",
                dependencies: [
                    "EKTPModel", "EKTPPlatform", "CEKTPZlib",
                    .product(name: "Hummingbird", package: "hummingbird"),
                    .product(name: "CoreMetrics", package: "swift-metrics"),
                    .product(name: "Prometheus", package: "swift-prometheus"),
                    .product(name: "GRDB", package: "GRDB.swift"),
                    .product(name: "PostgresNIO", package: "postgres-nio"),
                    .product(name: "NIOSSL", package: "swift-nio-ssl"),
                    .product(name: "Crypto", package: "swift-crypto"),
                    .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                    .product(name: "Mustache", package: "swift-mustache"),
                    .product(name: "Logging", package: "swift-log"),
                    .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                ],
                ),
        .executableTarget(name: "ektp-registry",
                          dependencies: [
                              "EKTPRegistry", "EKTPModel", "EKTPPlatform", "EKTPYAML", "EKTPHTTPClient",
                              .product(name: "ArgumentParser", package: "swift-argument-parser"),
                              .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                              .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                              .product(name: "Logging", package: "swift-log"),
                          ]),
        // Registry and outbox benchmarks (Benchmarks/run.py runs it in release).
        .executableTarget(name: "ektp-bench",
                          dependencies: ["EKTPRegistry", "EKTPStation", "EKTPModel",
                                         .product(name: "GRDB", package: "GRDB.swift"),
                                         .product(name: "Hummingbird", package: "hummingbird"),
                                         .product(name: "HummingbirdTesting", package: "hummingbird"),
                                         .product(name: "Logging", package: "swift-log")],
                          path: "Benchmarks/RegistryBench"),

        // Fuzz targets (issue 13): libFuzzer with scripts/fuzz.sh; otherwise a replayer of Fuzz/corpus.
        .executableTarget(name: "ektp-fuzz",
                          dependencies: ["EKTPStation", "EKTPCore", "EKTPPlatform", "EKTPHardware", "EKTPModel", "EKTPYAML"],
                          path: "Fuzz", exclude: ["corpus"],
                          swiftSettings: [.unsafeFlags(["-parse-as-library"])]),

        .testTarget(name: "EKTPYAMLTests", dependencies: ["EKTPYAML"]),
        // What the test targets share: temporary folders, ports, waiting on a state, builders.
        .target(name: "EKTPTesting", dependencies: ["EKTPModel"]),
        .testTarget(name: "EKTPCoreTests", dependencies: ["EKTPCore", "EKTPModel", "EKTPTesting"]),
        .testTarget(name: "EKTPHardwareTests", dependencies: ["EKTPHardware", "EKTPModel", "EKTPYAML"]),
        .testTarget(name: "EKTPStationTests", dependencies: ["EKTPStation", "EKTPCore", "EKTPTesting", "EKTPHardware", "EKTPModel", "EKTPYAML", "EKTPPlatform"]),
        .testTarget(name: "EKTPRegistryTests", dependencies: ["EKTPRegistry", "EKTPModel", "EKTPStation", "EKTPCore", "EKTPPlatform", "EKTPTesting",
                                                             .product(name: "HummingbirdTesting", package: "hummingbird")],
                    exclude: ["wire"]),  // JSON the build before issue 17's CodingKeys wrote: read by path
        // Runs the built `ektpd` binary (swift build builds it; scripts/test.sh does both). Not a
        // target dependency: the executable's static-stdlib link flags must not reach the test bundle.
        .testTarget(name: "EktpdIntegrationTests",
                    dependencies: ["EKTPModel", "EKTPCore", "EKTPPlatform", "EKTPStation", "EKTPHardware", "EKTPTesting"],
                    exclude: ["umockdev", "helpers"]),  // device descriptions, the testbed helper, the webhook receiver: used by path
    ]
)
