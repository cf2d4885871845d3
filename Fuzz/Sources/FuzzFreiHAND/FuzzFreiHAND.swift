import EKDData
import Foundation
import FuzzSupport

let root: String = {
  let d = FileManager.default.temporaryDirectory.appendingPathComponent("ekd-fuzz-freihand-\(getpid())").path
  try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
  return d
}()

/// Any bytes split at the first 0xFF into FreiHAND's K and xyz JSON lists.
@_cdecl("FuzzFreiHAND_main")
public func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
  runFuzzer(argc, argv) { data in
    let data = data
    let cut = data.firstIndex(of: 0xFF) ?? data.endIndex
    FileManager.default.createFile(atPath: root + "/evaluation_K.json", contents: data[..<cut])
    FileManager.default.createFile(atPath: root + "/evaluation_xyz.json", contents: cut < data.endIndex ? data[(cut + 1)...] : Data())
    if let reader = try? FreiHANDReader(root: root, split: .test), reader.count > 0 { _ = try? reader.pose(0) }
  }
}
