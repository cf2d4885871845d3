import EKDLayers
import Foundation
import FuzzSupport

/// Any bytes as a safetensors checkpoint.
@_cdecl("FuzzSafetensors_main")
public func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
  runFuzzer(argc, argv) { data in _ = try? Safetensors.decode(data, path: "fuzz.safetensors") }
}
