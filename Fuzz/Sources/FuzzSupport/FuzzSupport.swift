import Foundation

/// libFuzzer's driver, entered from our own `main`: SwiftPM names an executable's entry
/// `<target>_main` and aliases `main` to it, so a harness defines that symbol and hands
/// its argc/argv and its one-input body to the driver.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
  _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
  _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

nonisolated(unsafe) private var body: ((Data) -> Void)?

/// Runs libFuzzer over `test`, which must never crash whatever the bytes.
public func runFuzzer(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>, _ test: @escaping (Data) -> Void) -> CInt {
  body = test
  var count = argc
  var arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
  return LLVMFuzzerRunDriver(&count, &arguments) { bytes, size in
    body!(size == 0 ? Data() : Data(bytes: bytes!, count: size))
    return 0
  }
}
