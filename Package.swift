// swift-tools-version:6.1
//
// EKD — Explicit Knowledge Distillation for small 3D hand-pose networks, on the CPU.
// Modules are listed lowest first; a dependency only ever points up this file.

import PackageDescription

let package = Package(
  name: "EKD",
  platforms: [.macOS(.v14)],
  products: [
    // MARK: Public API — import exactly the part you need.
    .library(name: "EKDTensor", targets: ["EKDTensor"]),
    .library(name: "EKDLayers", targets: ["EKDLayers"]),
    .library(name: "EKDHand", targets: ["EKDHand"]),
    .library(name: "EKDLosses", targets: ["EKDLosses"]),
    .library(name: "EKDModels", targets: ["EKDModels"]),
    .library(name: "EKDData", targets: ["EKDData"]),
    .library(name: "EKDTraining", targets: ["EKDTraining"]),
    .library(name: "EKDONNX", targets: ["EKDONNX"]),
    .executable(name: "ekd", targets: ["ekd"]),
  ],
  // `swift build --traits MPI` (the Makefile's builds): data-parallel `mpirun -np N ekd train`.
  // Without it nothing depends on Open MPI. docs/architecture.md says why a trait.
  traits: [
    .trait(name: "MPI", description: "Data-parallel training and ablation grids over Open MPI (needs libopenmpi-dev)")
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
  ],
  targets: [
    // MARK: System libraries
    .systemLibrary(
      name: "COpenBLAS",
      pkgConfig: "openblas",
      providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]
    ),

    /// Open MPI behind a shim that hands over its macro handles (MPI_COMM_WORLD, MPI_FLOAT…).
    .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),

    /// libpng, libjpeg-turbo and zlib behind a small C shim that turns their
    /// longjmp-based errors into return values (Swift frames cannot be jumped over).
    .target(
      name: "CImageCodecs",
      linkerSettings: [.linkedLibrary("png16"), .linkedLibrary("jpeg"), .linkedLibrary("z")]
    ),

    /// Hand-written SIMD kernels (AVX-512F, AVX2+FMA, portable), the path chosen at run time.
    .target(name: "CKernels"),

    // MARK: Public modules
    .target(name: "EKDTensor", dependencies: ["COpenBLAS", "CKernels"]),
    .target(name: "EKDLayers", dependencies: ["EKDTensor"]),
    /// The hand: skeleton, joint count, mirroring, the 20 angles, bounds, 2.5D reconstruction.
    .target(name: "EKDHand", dependencies: ["EKDTensor"]),
    .target(name: "EKDLosses", dependencies: ["EKDTensor", "EKDHand"]),
    .target(name: "EKDModels", dependencies: ["EKDLayers", "EKDHand"]),
    .target(name: "EKDData", dependencies: ["EKDTensor", "EKDHand", "CImageCodecs"]),
    /// Students as op graphs traced from their forward, BN folded and ReLU fused, run without a tape.
    .target(name: "EKDInference", dependencies: ["EKDTensor", "EKDModels"]),
    .target(name: "EKDTraining", dependencies: ["EKDTensor", "EKDLayers", "EKDHand", "EKDLosses", "EKDModels", "EKDData", "EKDInference"]),
    /// Those graphs as ONNX files (`ekd export`).
    .target(name: "EKDONNX", dependencies: ["EKDTensor", "EKDModels", "EKDHand", "EKDInference"]),
    /// Ranks of an mpirun job as a ReplicaGroup (all-reduce, broadcast) and the commands' collectives.
    .target(name: "EKDDistributed", dependencies: ["EKDTensor", .target(name: "CMPI", condition: .when(traits: ["MPI"]))]),
    .target(
      name: "EKDCommands",
      dependencies: [
        "EKDTensor", "EKDLayers", "EKDHand", "EKDLosses", "EKDModels", "EKDData", "EKDTraining", "EKDONNX", "EKDDistributed",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),
    .executableTarget(name: "ekd", dependencies: ["EKDCommands"]),

    // MARK: Implementation details
    .target(name: "_EKDTestSupport", dependencies: ["EKDTensor", "EKDLayers", "EKDModels"]),

    // MARK: Benchmarks
    .executableTarget(
      name: "EKDBench",
      dependencies: [
        "EKDTensor", "EKDLayers", "EKDHand", "EKDLosses", "EKDModels", "EKDData", "EKDTraining", "EKDInference", "EKDONNX", "COpenBLAS", "_EKDTestSupport",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      path: "Benchmarks/EKDBench"
    ),

    // MARK: Tests
    .testTarget(name: "EKDTensorTests", dependencies: ["EKDTensor", "_EKDTestSupport"]),
    .testTarget(name: "EKDLossesTests", dependencies: ["EKDHand", "EKDLosses", "_EKDTestSupport"]),
    .testTarget(name: "EKDModelsTests", dependencies: ["EKDModels", "EKDLayers", "EKDHand", "EKDLosses", "_EKDTestSupport"]),
    .testTarget(name: "EKDDataTests", dependencies: ["EKDData", "EKDHand"], exclude: ["Fixtures"]),
    .testTarget(
      name: "EKDTrainingTests", dependencies: ["EKDTraining", "EKDData", "EKDLayers", "EKDModels", "EKDHand", "EKDLosses", "_EKDTestSupport"]),
    .testTarget(name: "EKDCommandsTests", dependencies: ["ekd", "EKDLayers"]),
    .testTarget(name: "EKDInferenceTests", dependencies: ["EKDInference", "EKDModels", "EKDLayers", "EKDTensor", "_EKDTestSupport"]),
    .testTarget(name: "EKDONNXTests", dependencies: ["EKDONNX", "EKDTraining", "EKDModels", "EKDLayers", "EKDTensor", "_EKDTestSupport"]),
    .testTarget(
      name: "EKDLayersTests",
      dependencies: ["EKDLayers", "_EKDTestSupport"],
      exclude: ["Fixtures"]
    ),
  ],
  swiftLanguageModes: [.v5]
)
