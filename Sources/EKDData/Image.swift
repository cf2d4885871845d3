import CImageCodecs
import EKDTensor
import Foundation

/// An 8-bit image, row-major, channels interleaved (RGB or gray).
public struct Image: Equatable, Sendable {
  public var width: Int, height: Int, channels: Int
  public var pixels: [UInt8]

  public init(width: Int, height: Int, channels: Int = 3, pixels: [UInt8]? = nil) {
    precondition(width >= 0 && height >= 0 && (channels == 1 || channels == 3))
    (self.width, self.height, self.channels) = (width, height, channels)
    self.pixels = pixels ?? [UInt8](repeating: 0, count: width * height * channels)
    precondition(self.pixels.count == width * height * channels, "pixel count")
  }

  /// Refuses images above this many pixels before allocating (a corrupt header
  /// must not make us allocate gigabytes); the value lives in `DatasetLimits`.
  public static let maximumPixels = DatasetLimits.imagePixels

  /// Decodes PNG or JPEG bytes through libpng / libjpeg-turbo.
  public init(decoding data: Data, channels: Int = 3, path: String) throws(DatasetError) {
    var out: UnsafeMutablePointer<UInt8>?
    var w: Int32 = 0, h: Int32 = 0
    var message = [CChar](repeating: 0, count: 256)
    let status = data.withUnsafeBytes { raw in
      ekd_decode_image(raw.bindMemory(to: UInt8.self).baseAddress, raw.count, Int32(channels), Self.maximumPixels, &out, &w, &h, &message, 256)
    }
    guard status == 0, let out else {
      throw .malformed(path, "cannot decode image: " + String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
    defer { ekd_free(out) }
    self.init(width: Int(w), height: Int(h), channels: channels, pixels: Array(UnsafeBufferPointer(start: out, count: Int(w) * Int(h) * channels)))
  }

  public init(contentsOf path: String, channels: Int = 3) throws(DatasetError) {
    guard let data = FileManager.default.contents(atPath: path) else { throw .missingFile(path) }
    try self.init(decoding: data, channels: channels, path: path)
  }

  /// Writes a PNG (lossless), atomically: temp file, then rename.
  public func writePNG(to path: String) throws(DatasetError) {
    try write(to: path, kind: "PNG") { temp, pixels, message in
      ekd_write_png(temp, pixels, Int32(width), Int32(height), Int32(channels), message, 256)
    }
  }

  /// Writes a JPEG at `quality`, atomically.
  public func writeJPEG(to path: String, quality: Int = 92) throws(DatasetError) {
    precondition(channels == 3, "JPEG output is RGB")
    try write(to: path, kind: "JPEG") { temp, pixels, message in
      ekd_write_jpeg(temp, pixels, Int32(width), Int32(height), Int32(quality), message, 256)
    }
  }

  /// Runs an encoder into a temp file beside `path`, then renames it over `path`.
  private func write(
    to path: String, kind: String,
    _ encode: (String, UnsafePointer<UInt8>?, UnsafeMutablePointer<CChar>) -> Int32
  ) throws(DatasetError) {
    do {
      try AtomicFile.write(to: URL(fileURLWithPath: path)) { (temp: String) throws(FileWriteError) in
        var message = [CChar](repeating: 0, count: 256)
        let status = pixels.withUnsafeBufferPointer { p in message.withUnsafeMutableBufferPointer { encode(temp, p.baseAddress, $0.baseAddress!) } }
        guard status == 0 else {
          throw FileWriteError(path, "cannot write \(kind): " + String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
      }
    } catch { throw .malformed(error.path, error.reason) }
  }

  /// The image mirrored left to right (how a left hand becomes a right one).
  public func flippedHorizontally() -> Image {
    var out = self
    for y in 0..<height {
      for x in 0..<width {
        for c in 0..<channels { out.pixels[(y * width + x) * channels + c] = pixels[(y * width + (width - 1 - x)) * channels + c] }
      }
    }
    return out
  }

  /// Bilinear sample of channel `c` at continuous pixel coordinates (pixel centres at integers); 0 outside.
  @inline(__always)
  public func sample(_ x: Float, _ y: Float, channel c: Int) -> Float {
    let x0 = Int(x.rounded(.down)), y0 = Int(y.rounded(.down))
    let fx = x - Float(x0), fy = y - Float(y0)
    @inline(__always) func at(_ xi: Int, _ yi: Int) -> Float {
      guard xi >= 0, yi >= 0, xi < width, yi < height else { return 0 }
      return Float(pixels[(yi * width + xi) * channels + c])
    }
    return (1 - fy) * ((1 - fx) * at(x0, y0) + fx * at(x0 + 1, y0)) + fy * ((1 - fx) * at(x0, y0 + 1) + fx * at(x0 + 1, y0 + 1))
  }
}
