import EKDData
import Foundation
import FuzzSupport

/// Any bytes split at the first 0xFF into FreiHAND's K and xyz JSON lists, parsed in memory
/// (the reader's file path only reads the two files and calls the same initialiser).
@_cdecl("FuzzFreiHAND_main")
public func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
  runFuzzer(argc, argv) { data in
    let cut = data.firstIndex(of: 0xFF) ?? data.endIndex
    let k = Data(data[..<cut]), xyz = cut < data.endIndex ? Data(data[(cut + 1)...]) : Data()
    if let reader = try? FreiHANDReader(root: "fuzz", split: .test, kJSON: k, xyzJSON: xyz), reader.count > 0 {
      _ = try? reader.pose(0)
    }
  }
}
