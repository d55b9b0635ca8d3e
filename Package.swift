// swift-tools-version: 6.0
import PackageDescription

// MARK: - Layers
// HalfStepCore      device core: plan reader, arena, kernels, optimizers, trainer (Embedded-clean)
// HalfStepPlanner   host: ONNX / .npy import, graph IR, planning passes, plan writer, reports
// halfstep          the command line (Tools/halfstep), thin over the libraries
// CHeapCounter      host-only malloc interposer that counts heap allocations (tests, emulator)

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
            path: "Sources/HalfStepCore"
        ),

        // MARK: - Host
        .target(
            name: "HalfStepPlanner",
            dependencies: ["HalfStepCore"],
            path: "Sources/HalfStepPlanner"
        ),
        .target(
            name: "CHeapCounter",
            path: "Sources/CHeapCounter"
        ),
        .executableTarget(
            name: "halfstep",
            dependencies: ["HalfStepPlanner", "HalfStepCore"],
            path: "Tools/halfstep"
        ),

        // MARK: - Tests
        .testTarget(
            name: "HalfStepCoreTests",
            dependencies: ["HalfStepCore", "CHeapCounter"],
            path: "Tests/HalfStepCoreTests"
        ),
        .testTarget(
            name: "HalfStepPlannerTests",
            dependencies: ["HalfStepPlanner", "HalfStepCore", "CHeapCounter"],
            path: "Tests/HalfStepPlannerTests"
        ),
    ],
    swiftLanguageModes: [.v5]
)
