import EKDData
import Foundation
import FuzzSupport

/// A directory for the file-based readers, one per process.
let directory: String = {
  let d = FileManager.default.temporaryDirectory.appendingPathComponent("ekd-fuzz-synth-\(getpid())").path
  try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
  return d
}()

/// Any bytes as an `ekd synth` labels.json (the label checks included).
@_cdecl("FuzzSynthLabels_main")
public func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
  runFuzzer(argc, argv) { data in
    FileManager.default.createFile(atPath: directory + "/labels.json", contents: data)
    _ = try? SyntheticFolder(directory: directory)
  }
}
