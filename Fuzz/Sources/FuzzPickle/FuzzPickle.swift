import EKDData
import Foundation
import FuzzSupport

/// Any bytes through the restricted pickle reader: a `DatasetError` or a value, never a crash.
@_cdecl("FuzzPickle_main")
public func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
  runFuzzer(argc, argv) { data in _ = try? PickleReader.read(data, path: "fuzz.pickle") }
}
