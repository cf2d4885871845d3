import EKDData
import Foundation
import FuzzSupport

/// Any bytes as an LM `_joints.txt` (22 rows `NAME x y z`).
@_cdecl("FuzzLMJoints_main")
public func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
  runFuzzer(argc, argv) { data in _ = try? LMReader.parseJoints(String(decoding: data, as: UTF8.self), path: "fuzz_joints.txt") }
}
