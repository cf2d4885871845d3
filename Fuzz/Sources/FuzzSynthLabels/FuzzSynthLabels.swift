import EKDData
import Foundation
import FuzzSupport

/// Any bytes as an `ekd synth` labels.json (the label checks included).
@_cdecl("FuzzSynthLabels_main")
public func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
  runFuzzer(argc, argv) { data in _ = try? SyntheticDataset.decode(data, directory: "fuzz") }
}
