import EKDHand
import Foundation

/// Random changes applied while cropping, with labels transformed to match.
public struct Augmentation: Sendable {
  /// Crop side is divided by a factor drawn from this range (>1 zooms in).
  public var scale: ClosedRange<Double> = 0.9...1.15
  /// In-plane rotation about the principal point, radians. Applied only where
  /// fx = fy and the skew is 0, where it equals a camera roll and keeps the
  /// labels exact (the 3D points turn about the optical axis with the image).
  public var rotation: ClosedRange<Double> = -0.5...0.5
  /// Crop centre shift, as a fraction of the crop side.
  public var shift: ClosedRange<Double> = -0.08...0.08
  /// Multiplicative brightness and contrast, additive saturation change.
  public var brightness: ClosedRange<Double> = 0.75...1.25
  public var contrast: ClosedRange<Double> = 0.75...1.25
  public var saturation: ClosedRange<Double> = 0.7...1.3

  public init() {}
  /// No change at all (evaluation).
  public static let none: Augmentation = {
    var a = Augmentation()
    (a.scale, a.rotation, a.shift, a.brightness, a.contrast, a.saturation) = (1...1, 0...0, 0...0, 1...1, 1...1, 1...1)
    return a
  }()
}

/// A square crop around the hand, resized to the student's input, with K
/// updated so that projection stays exact: K·xyz lands on the new uv.
public enum Cropper {
  /// Crops `sample` (a right hand) to `size`×`size` around its 2D keypoints
  /// with `margin` (fraction of the keypoints' box on each side).
  public static func crop(
    _ sample: Sample, size: Int, margin: Double = 0.3, augmentation: Augmentation = .none,
    using rng: inout some RandomNumberGenerator
  ) -> Sample {
    let k = sample.intrinsics
    let (fx, skew, cx, fy, cy) = (k[0], k[1], k[2], k[4], k[5])
    // 1. Rotation about the principal point (a camera roll), when it is exact.
    var alpha = Double.random(in: augmentation.rotation, using: &rng)
    if fx != fy || skew != 0 { alpha = 0 }
    let (ca, sa) = (cos(alpha), sin(alpha))
    let xyz = sample.xyz.map { Vector3($0.x * ca - $0.y * sa, $0.x * sa + $0.y * ca, $0.z) }
    let uvRot = sample.uv.map { SIMD2(cx + ca * ($0.x - cx) - sa * ($0.y - cy), cy + sa * ($0.x - cx) + ca * ($0.y - cy)) }
    // 2. The crop window in the rotated image.
    let lo = uvRot.reduce(SIMD2(Double.infinity, .infinity)) { pointwiseMin($0, $1) }
    let hi = uvRot.reduce(SIMD2(-Double.infinity, -.infinity)) { pointwiseMax($0, $1) }
    var side = max(hi.x - lo.x, hi.y - lo.y, 8) * (1 + 2 * margin) / Double.random(in: augmentation.scale, using: &rng)
    side = max(side, 8)
    let centre = (lo + hi) / 2 + SIMD2(Double.random(in: augmentation.shift, using: &rng), Double.random(in: augmentation.shift, using: &rng)) * side
    let x0 = centre.x - side / 2, y0 = centre.y - side / 2
    let s = Double(size) / side
    // Crop pixel (i, j) centre ↔ rotated-image point (x0 + (i + ½)/s − ½, …).
    let mapU = { (u: Double) in (u - x0 + 0.5) * s - 0.5 }, mapV = { (v: Double) in (v - y0 + 0.5) * s - 0.5 }
    var out = sample
    out.xyz = xyz
    out.uv = uvRot.map { SIMD2(mapU($0.x), mapV($0.y)) }
    out.intrinsics = [fx * s, skew * s, mapU(cx), 0, fy * s, mapV(cy), 0, 0, 1]
    // 3. Resample: crop pixel → rotated point → original point (inverse rotation).
    let bright = Double.random(in: augmentation.brightness, using: &rng), contrast = Double.random(in: augmentation.contrast, using: &rng)
    let saturation = Double.random(in: augmentation.saturation, using: &rng)
    var img = Image(width: size, height: size, channels: 3)
    let src = sample.image
    let gray = src.channels == 1
    for j in 0..<size {
      for i in 0..<size {
        let xr = x0 + (Double(i) + 0.5) / s - 0.5, yr = y0 + (Double(j) + 0.5) / s - 0.5
        let xo = Float(cx + ca * (xr - cx) + sa * (yr - cy)), yo = Float(cy - sa * (xr - cx) + ca * (yr - cy))
        var rgb = (0..<3).map { c in Double(src.sample(xo, yo, channel: gray ? 0 : c)) }
        let mean = (rgb[0] + rgb[1] + rgb[2]) / 3
        rgb = rgb.map { v in ((mean + (v - mean) * saturation) - 128) * contrast + 128 }.map { $0 * bright }
        for c in 0..<3 { img.pixels[(j * size + i) * 3 + c] = UInt8(max(0, min(255, rgb[c].rounded()))) }
      }
    }
    out.image = img
    return out
  }
}

/// A square window of an image resampled to the student's input, with the map back
/// to image pixels: what `ekd predict` feeds a student.
public struct CropWindow: Sendable {
  /// Top-left corner and side of the window, in image pixels.
  public var x0: Double, y0: Double, side: Double
  /// Crop pixels per image pixel.
  public var scale: Double { Double(size) / side }
  public var size: Int

  /// The window `side` pixels wide centred on `centre`, resampled to `size`×`size`.
  public init(centre: SIMD2<Double>, side: Double, size: Int) {
    (x0, y0, self.side, self.size) = (centre.x - side / 2, centre.y - side / 2, max(side, 1), size)
  }

  /// Crop point → image point (pixel centres map to pixel centres).
  public func toImage(_ p: SIMD2<Double>) -> SIMD2<Double> { (p + 0.5) / scale - 0.5 + SIMD2(x0, y0) }

  /// The window's pixels, bilinear, 0 outside the image.
  public func resample(_ image: Image) -> Image {
    var out = Image(width: size, height: size, channels: 3)
    let gray = image.channels == 1
    for j in 0..<size {
      for i in 0..<size {
        let p = toImage(SIMD2(Double(i), Double(j)))
        for c in 0..<3 {
          out.pixels[(j * size + i) * 3 + c] = UInt8(max(0, min(255, image.sample(Float(p.x), Float(p.y), channel: gray ? 0 : c).rounded())))
        }
      }
    }
    return out
  }
}
