// swift-tools-version:6.0
import PackageDescription

// Strata takes no package dependencies: every codec is its own (see DESIGN.md).
let package = Package(
    name: "Strata",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "strata", targets: ["strata"]),
        .executable(name: "strata-engine-bench", targets: ["EngineBench"]),
        .library(name: "StrataFormats", targets: ["StrataFormats"]),
        .library(name: "StrataEngine", targets: ["StrataEngine"]),
        .library(name: "StrataServer", targets: ["StrataServer"]),
        .library(name: "StrataBackup", targets: ["StrataBackup"]),
    ],
    targets: [
        .target(
            name: "StrataFormats",
            // The reader is single-threaded and its buffers are private: dynamic exclusivity
            // checks on them cost ~3% of a check run (perf) and guard nothing here.
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]
        ),
        // StrataEngine and StrataServer run on one thread, as Redis's command loop (BGSAVE and
        // AOF rewrites fork; no thread ever touches an engine or server object), so release
        // builds use plain, non-atomic reference counts there (-assume-single-threaded), as
        // Redis's own refcounts are: ~20% of serve's command time was locked increments.
        // Code added to these two targets must not hand their objects to another thread.
        // StrataFormats keeps atomic counts (its background checksum shares an object).
        .target(
            name: "StrataEngine",
            dependencies: ["StrataFormats", "CStrataIntrinsics"],
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked", "-Xfrontend", "-assume-single-threaded"], .when(configuration: .release))]
        ),
        // C: a counting shim over glibc's malloc (used_memory and maxmemory, as Redis's zmalloc).
        .target(name: "CStrataAlloc"),
        // C: compiler intrinsics Swift does not expose (cache prefetch for the hash table).
        .target(name: "CStrataIntrinsics"),
        .target(
            name: "StrataServer",
            dependencies: ["StrataFormats", "StrataEngine", "CStrataAlloc"],
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked", "-Xfrontend", "-assume-single-threaded"], .when(configuration: .release))]
        ),
        .target(name: "StrataBackup", dependencies: ["StrataFormats", "StrataEngine"]),
        .executableTarget(name: "strata", dependencies: ["StrataFormats", "StrataEngine", "StrataServer", "StrataBackup"]),
        .executableTarget(name: "EngineBench", dependencies: ["StrataEngine", "StrataFormats"], path: "Benchmarks/EngineBench"),
        .target(name: "StrataTestSupport", path: "Tests/StrataTestSupport"),
        .testTarget(name: "StrataFormatsTests", dependencies: ["StrataFormats", "StrataTestSupport"]),
        .testTarget(name: "StrataEngineTests", dependencies: ["StrataEngine", "StrataFormats", "StrataTestSupport"]),
        .testTarget(name: "StrataCLITests", dependencies: ["StrataFormats", "StrataEngine", "StrataTestSupport"]),
        .testTarget(name: "StrataBackupTests", dependencies: ["StrataBackup", "StrataFormats", "StrataTestSupport"]),
        .testTarget(name: "StrataServerTests", dependencies: ["StrataServer", "StrataFormats", "StrataEngine", "StrataTestSupport"]),
    ]
)
