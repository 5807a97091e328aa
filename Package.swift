// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "nephometer",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "nephometer", targets: ["nephometer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
    ],
    targets: [
        // C libraries, each behind exactly one Swift module.
        .systemLibrary(
            name: "CLibvirt",
            path: "Sources/CLibvirt",
            pkgConfig: "libvirt",
            providers: [.apt(["libvirt-dev"])]
        ),

        .systemLibrary(
            name: "CNetSNMP",
            path: "Sources/CNetSNMP",
            pkgConfig: "netsnmp",
            providers: [.apt(["libsnmp-dev"])]
        ),

        // sendmmsg/recvmmsg (need _GNU_SOURCE, which Swift's Glibc module does not set).
        .target(name: "CNephometerNet", path: "Sources/CNephometerNet"),
        .target(name: "CNephometerProcess", path: "Sources/CNephometerProcess"),
        // libvirt's event loop for the domain-events connection only (see its header).
        .target(name: "CLibvirtEvents", path: "Sources/CLibvirtEvents", linkerSettings: [.linkedLibrary("virt")]),
        // SHA-256/224 and HMAC-SHA256 without allocation, on the CPU's SHA extensions when present
        // (UDP signing, Nova's hostId).
        .target(name: "CNephometerSHA256", path: "Sources/CNephometerSHA256"),

        // Sample model, meter message and signature, JSON, the pollster contract.
        .target(
            name: "NephometerCore",
            dependencies: [
                "CNephometerSHA256",
                "CNephometerProcess",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Agent config, polling.yaml and pipeline.yaml: parsing with positions and validation.
        .target(
            name: "NephometerConfig",
            dependencies: ["NephometerCore", .product(name: "Yams", package: "Yams"), .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // Sources -> sinks -> transformers -> publishers.
        .target(
            name: "NephometerPipeline",
            dependencies: ["NephometerCore", "NephometerConfig", "NephometerPublishers",
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // Publishers: file, udp, http (with spool); msgpack codec.
        .target(
            name: "NephometerPublishers",
            dependencies: ["NephometerCore", "NephometerConfig", "CNephometerNet", "CNephometerSHA256",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "DequeModule", package: "swift-collections"),
                           .product(name: "Metrics", package: "swift-metrics"),
                           .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOPosix", package: "swift-nio"),
                           .product(name: "NIOHTTP1", package: "swift-nio"),
                           .product(name: "NIOSSL", package: "swift-nio-ssl"),
                           .product(name: "Crypto", package: "swift-crypto"),
                           .product(name: "AsyncHTTPClient", package: "async-http-client")],
            exclude: ["File/README.md", "UDP/README.md", "HTTP/README.md", "Delivery/README.md", "Notifier/README.md", "Gnocchi/README.md"],
            swiftSettings: strict
        ),
        // libvirt connection, Nova-metadata discovery, compute pollsters.
        .target(
            name: "NephometerCompute",
            dependencies: ["NephometerCore", "NephometerConfig", "CLibvirt", "CLibvirtEvents", .product(name: "Logging", package: "swift-log"),
                           .product(name: "Metrics", package: "swift-metrics")],
            exclude: ["README.md"],
            swiftSettings: strict
        ),
        // SNMP engine and the hardware.* pollsters (central namespace).
        .target(
            name: "NephometerHardware",
            dependencies: ["NephometerCore", "NephometerConfig", "CNetSNMP", .product(name: "Logging", package: "swift-log")],
            exclude: ["README.md"],
            swiftSettings: strict
        ),
        // `nephometer receive`: the collector at the other end of the UDP and HTTP publishers.
        .target(
            name: "NephometerReceiver",
            dependencies: ["NephometerCore", "NephometerPublishers",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "Crypto", package: "swift-crypto"),
                           .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOPosix", package: "swift-nio"),
                           .product(name: "NIOHTTP1", package: "swift-nio")],
            swiftSettings: strict
        ),
        // Hash ring (tooz-compatible) and group membership (file, etcd).
        .target(
            name: "NephometerCoordination",
            dependencies: ["NephometerCore", "NephometerPublishers",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "Crypto", package: "swift-crypto"),
                           .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "AsyncHTTPClient", package: "async-http-client")],
            swiftSettings: strict
        ),
        // Polling manager: schedule, jitter, discovery, batching, lifecycle.
        .target(
            name: "NephometerAgent",
            dependencies: ["NephometerCore", "NephometerConfig", "NephometerPipeline",
                           "NephometerPublishers", "NephometerCompute", "NephometerHardware", "NephometerCoordination",
                           .product(name: "Crypto", package: "swift-crypto"),
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "Metrics", package: "swift-metrics"),
                           .product(name: "Prometheus", package: "swift-prometheus"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                           .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                           .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "HummingbirdTLS", package: "hummingbird"),
                           .product(name: "NIOSSL", package: "swift-nio-ssl"),
                           .product(name: "DequeModule", package: "swift-collections")],
            exclude: ["README.md"],
            swiftSettings: strict
        ),
        // The command line: argument parsing only.
        .executableTarget(
            name: "nephometer",
            dependencies: ["NephometerAgent", "NephometerConfig", "NephometerCore", "NephometerReceiver", "NephometerCoordination",
                           .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            swiftSettings: strict
        ),

        // Writes test fixtures (libvirt test-driver nodes) for `make demo` and benchmarks.
        .executableTarget(
            name: "nephometer-testbed",
            dependencies: ["TestSupport"],
            path: "Tools/nephometer-testbed",
            swiftSettings: strict
        ),
        // Benchmarks (run in release mode; see BENCHMARKS.md).
        .target(name: "CBenchLoop", path: "Benchmarks/CBenchLoop"),
        .executableTarget(
            name: "nephometer-bench",
            dependencies: ["CBenchLoop", "CNephometerNet", "NephometerCore", "NephometerConfig", "NephometerPipeline", "NephometerPublishers",
                           "NephometerAgent", "NephometerHardware", "NephometerCoordination", "TestSupport",
                           .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/nephometer-bench",
            swiftSettings: strict
        ),
        .target(
            name: "TestSupport",
            dependencies: ["NephometerCore"],
            path: "Tests/TestSupport",
            swiftSettings: strict
        ),
        .testTarget(name: "NephometerCoreTests", dependencies: ["NephometerCore", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "NephometerConfigTests", dependencies: ["NephometerConfig", "NephometerPipeline", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "NephometerPipelineTests",
                    dependencies: ["NephometerPipeline", "TestSupport",
                                   .product(name: "PropertyBased", package: "swift-property-based")],
                    swiftSettings: strict),
        .testTarget(name: "NephometerPublishersTests", dependencies: ["NephometerPublishers", "CNephometerSHA256", .product(name: "Crypto", package: "swift-crypto"), "NephometerReceiver", "TestSupport", .product(name: "PropertyBased", package: "swift-property-based")], swiftSettings: strict),
        .testTarget(name: "NephometerComputeTests", dependencies: ["NephometerCompute", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "NephometerHardwareTests", dependencies: ["NephometerHardware", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "NephometerCoordinationTests", dependencies: ["NephometerCoordination", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "NephometerAgentTests", dependencies: ["NephometerAgent", "NephometerCoordination", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "EndToEndTests", dependencies: ["NephometerCore", "TestSupport"], swiftSettings: strict),
    ]
)
