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
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        // C libraries, reached only from EKTPHardware.
        .systemLibrary(name: "CLibUSB", pkgConfig: "libusb-1.0",
                       providers: [.apt(["libusb-1.0-0-dev"])]),
        .systemLibrary(name: "CUdev", pkgConfig: "libudev",
                       providers: [.apt(["libudev-dev"])]),

        // Value types shared by station and registry. No I/O.
        .target(name: "EKTPModel"),
        // A strict YAML subset reader with line/column marks, for config and scenario files.
        .target(name: "EKTPYAML"),
        // Hardware abstraction: backends, catalogue, scenarios, probes.
        .target(name: "EKTPHardware",
                dependencies: ["EKTPModel", "EKTPYAML", "CLibUSB", "CUdev"]),
        // The station daemon's services.
        .target(name: "EKTPStation",
                dependencies: [
                    "EKTPModel", "EKTPHardware", "EKTPYAML",
                    .product(name: "Logging", package: "swift-log"),
                    .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                ]),
        .executableTarget(name: "ektpd",
                          dependencies: [
                              "EKTPStation", "EKTPHardware", "EKTPModel", "EKTPYAML",
                              .product(name: "ArgumentParser", package: "swift-argument-parser"),
                              .product(name: "Logging", package: "swift-log"),
                              .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                          ]),

        .testTarget(name: "EKTPYAMLTests", dependencies: ["EKTPYAML"]),
        .testTarget(name: "EKTPHardwareTests", dependencies: ["EKTPHardware", "EKTPModel", "EKTPYAML"]),
        .testTarget(name: "EKTPStationTests", dependencies: ["EKTPStation", "EKTPHardware", "EKTPModel", "EKTPYAML"]),
        .testTarget(name: "EktpdIntegrationTests",
                    dependencies: ["ektpd", "EKTPModel"],
                    exclude: ["Fixtures"]),
    ]
)
