// swift-tools-version:6.0
//
// libFuzzer harnesses for every parser EKD reads files with (`make fuzz`).
// A package of its own, so the main package never builds them: they need
// `-sanitize=fuzzer,address -parse-as-library` (libFuzzer supplies `main`).

import Foundation
import PackageDescription

// A path dependency's identity is its directory's name, whatever the clone is called.
let ekd = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent.lowercased()

func harness(_ name: String, _ products: [String]) -> Target {
  .executableTarget(name: name, dependencies: ["FuzzSupport"] + products.map { .product(name: $0, package: ekd) }, path: "Sources/\(name)")
}

let package = Package(
  name: "EKDFuzz",
  platforms: [.macOS(.v14)],
  dependencies: [.package(path: "..")],
  targets: [
    .target(name: "FuzzSupport", path: "Sources/FuzzSupport"),
    harness("FuzzPickle", ["EKDData"]),
    harness("FuzzMAT", ["EKDData"]),
    harness("FuzzSafetensors", ["EKDLayers"]),
    harness("FuzzImage", ["EKDData"]),
    harness("FuzzSynthLabels", ["EKDData"]),
    harness("FuzzFreiHAND", ["EKDData"]),
    harness("FuzzLMJoints", ["EKDData"]),
  ],
  swiftLanguageModes: [.v5]
)
