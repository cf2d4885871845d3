import EKDData
import Foundation
import FuzzSupport

/// Any bytes through the MAT Level-5 reader (miCOMPRESSED included).
@_cdecl("FuzzMAT_main")
public func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
  runFuzzer(argc, argv) { data in _ = try? MATFile.read(Array(data), path: "fuzz.mat") }
}
