import EKDData
import Foundation
import FuzzSupport

/// Any bytes through the PNG/JPEG decoders of the codec shim (libpng, libjpeg-turbo).
@_cdecl("FuzzImage_main")
public func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
  runFuzzer(argc, argv) { data in _ = try? Image(decoding: data, path: "fuzz.img") }
}
