import EKDData
import Foundation
import FuzzSupport

let path: String = FileManager.default.temporaryDirectory.appendingPathComponent("ekd-fuzz-lm-\(getpid())_joints.txt").path

/// Any bytes as an LM `_joints.txt` (22 rows `NAME x y z`).
@_cdecl("FuzzLMJoints_main")
public func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
  runFuzzer(argc, argv) { data in
    FileManager.default.createFile(atPath: path, contents: data)
    _ = try? LMReader.readJoints(path)
  }
}
