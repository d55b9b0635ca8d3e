// swift-tools-version: 6.0
import PackageDescription

// MARK: - Layers
// HalfStepCore      device core: plan reader, arena, kernels, optimizers, trainer (Embedded-clean)
// HalfStepPlanner   host: ONNX / .npy import, graph IR, planning passes, plan writer, reports
// halfstep          the command line (Tools/halfstep), thin over the libraries
// HalfStepEmulator  host: target profiles, emulated microcontroller limits, cost model, QEMU runs and
//                   their comparison with a host run (`validate`, `validate --qemu`); reads plans,
//                   datasets and tables through HalfStepPlanner
// CHeapCounter      host-only malloc interposer that counts heap allocations (tests, emulator)
// CEmulatorLimits   host-only guard pages, read-only flash, guarded stack thread, fault reports

// MARK: - Host code generation
// On x86_64 hosts, let the core use the F16C/FMA instructions for fp16<->fp32 conversion
// (vcvtph2ps/vcvtps2ph) instead of a libcall per element: the host runs ~5x faster. FMA only
// makes the instructions available; Swift never contracts a*b+c on its own, so results stay
// bit-identical to the device build. Needs a Haswell-or-newer CPU, as every machine we run has.
#if arch(x86_64)
let hostCodegen: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-mf16c", "-Xcc", "-mavx2", "-Xcc", "-mfma"])]
#else
let hostCodegen: [SwiftSetting] = []
#endif

// MARK: - Debug builds run the numeric code optimised
// `swift test` builds for debugging, and an unoptimised core trains ~20x slower: the continuation
// tests (tens of thousands of steps against PyTorch's figures) took most of the suite's 10 minutes.
// The core and the planner compile with -O in debug builds too; -O keeps IEEE semantics (Swift never
// reassociates or contracts float arithmetic), so results are the release build's, bit for bit, and
// QEMU parity tests compare the same numbers. Step through them with `swift build -c debug
// -Xswiftc -Onone` when debugging.
let optimisedInDebug: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "HalfStep",
    products: [
        .library(name: "HalfStepCore", targets: ["HalfStepCore"]),
        .library(name: "HalfStepPlanner", targets: ["HalfStepPlanner"]),
        .executable(name: "halfstep", targets: ["halfstep"]),
    ],
    targets: [
        // MARK: - Device core
        .target(
            name: "HalfStepCore",
            path: "Sources/HalfStepCore",
            exclude: ["CAPI/halfstep.h"],   // the C interface's header, shipped by `halfstep package`
            swiftSettings: hostCodegen + optimisedInDebug
        ),

        // MARK: - Host
        .target(
            name: "HalfStepPlanner",
            dependencies: ["HalfStepCore"],
            path: "Sources/HalfStepPlanner",
            swiftSettings: optimisedInDebug
        ),
        .target(
            name: "CHeapCounter",
            path: "Sources/CHeapCounter"
        ),
        .target(
            name: "HalfStepEmulator",
            dependencies: ["HalfStepCore", "HalfStepPlanner", "CEmulatorLimits", "CHeapCounter"],
            path: "Sources/HalfStepEmulator"
        ),
        .target(
            name: "CEmulatorLimits",
            path: "Sources/CEmulatorLimits"
        ),
        .executableTarget(
            name: "halfstep",
            dependencies: ["HalfStepPlanner", "HalfStepCore", "HalfStepEmulator"],
            path: "Tools/halfstep"
        ),

        // MARK: - Tests
        // Test-only helpers shared by every test target: named tolerances and `expectClose`,
        // deterministic data, fixture paths, small graphs. Not a product; nothing else depends on it.
        .target(
            name: "HalfStepTestSupport",
            dependencies: ["HalfStepCore", "HalfStepPlanner"],
            path: "Tests/HalfStepTestSupport"
        ),
        .testTarget(
            name: "HalfStepCoreTests",
            dependencies: ["HalfStepCore", "CHeapCounter", "HalfStepTestSupport"],
            path: "Tests/HalfStepCoreTests"
        ),
        .testTarget(
            name: "HalfStepPlannerTests",
            dependencies: ["HalfStepPlanner", "HalfStepCore", "CHeapCounter", "HalfStepTestSupport"],
            path: "Tests/HalfStepPlannerTests"
        ),
        .testTarget(
            name: "HalfStepEmulatorTests",
            dependencies: ["HalfStepEmulator", "HalfStepPlanner", "HalfStepCore", "HalfStepTestSupport"],
            path: "Tests/HalfStepEmulatorTests"
        ),
        .testTarget(
            name: "HalfStepCLITests",
            dependencies: ["halfstep", "HalfStepTestSupport", "HalfStepEmulator"],
            path: "Tests/HalfStepCLITests"
        ),
    ],
    swiftLanguageModes: [.v5]
)
