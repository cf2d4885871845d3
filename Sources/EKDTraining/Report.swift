import EKDData
import EKDHand
import EKDTensor
import Foundation

/// Reports of a run: JSON metrics, a PCK plot (SVG) and pictures of the worst
/// angle-violating predictions (PNG). All written atomically.
public enum Report {
  public static func writeJSON(_ object: Any, to path: String) throws {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
    try AtomicFile.write(data, to: URL(fileURLWithPath: path))
  }

  /// A 3D PCK plot (0–50 mm) comparing runs, shaded on the 20–50 mm AUC range.
  public static func pckSVG(_ curves: [(label: String, points: [(threshold: Double, pck: Double)])]) -> String {
    let (w, h, l, r, t, b) = (640.0, 420.0, 60.0, 20.0, 20.0, 50.0)
    func x(_ mm: Double) -> Double { l + (w - l - r) * mm / 50 }
    func y(_ p: Double) -> Double { h - b - (h - t - b) * p }
    let colours = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]
    var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" font-family=\"sans-serif\" font-size=\"12\">\n"
    s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    s += "<rect x=\"\(x(20))\" y=\"\(t)\" width=\"\(x(50) - x(20))\" height=\"\(h - t - b)\" fill=\"#f2f2f2\"/>\n"
    for i in 0...10 {
      let p = Double(i) / 10, mm = Double(i) * 5
      s += "<line x1=\"\(l)\" y1=\"\(y(p))\" x2=\"\(w - r)\" y2=\"\(y(p))\" stroke=\"#ddd\"/>"
      s += "<text x=\"\(l - 8)\" y=\"\(y(p) + 4)\" text-anchor=\"end\">\(String(format: "%.1f", p))</text>\n"
      s += "<text x=\"\(x(mm))\" y=\"\(h - b + 18)\" text-anchor=\"middle\">\(Int(mm))</text>\n"
    }
    s += "<text x=\"\((l + w - r) / 2)\" y=\"\(h - 10)\" text-anchor=\"middle\">error threshold (mm); shaded: the 20–50 mm range of the 3D AUC</text>\n"
    s += "<text x=\"16\" y=\"\((t + h - b) / 2)\" transform=\"rotate(-90 16 \((t + h - b) / 2))\" text-anchor=\"middle\">3D PCK</text>\n"
    for (i, c) in curves.enumerated() {
      let colour = colours[i % colours.count]
      let path = c.points.map { "\(x($0.threshold)),\(y($0.pck))" }.joined(separator: " ")
      s += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\" points=\"\(path)\"/>\n"
      s += "<text x=\"\(l + 12)\" y=\"\(t + 18 + 16 * Double(i))\" fill=\"\(colour)\">\(c.label.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;"))</text>\n"
    }
    return s + "</svg>\n"
  }

  /// The worst predictions side by side: prediction (left) and ground truth (right), skeletons over the crop.
  public static func worstPredictions(_ predictions: [Evaluator.Prediction], scale: Int = 3) -> Image? {
    guard let first = predictions.first else { return nil }
    let s = first.image.width * scale, gap = 4
    var canvas = Image(width: 2 * s + gap, height: predictions.count * (s + gap), channels: 3, pixels: nil)
    for i in 0..<canvas.pixels.count { canvas.pixels[i] = 255 }
    for (row, p) in predictions.enumerated() {
      for (col, uv) in [p.predictedUV, p.trueUV].enumerated() {
        let ox = col * (s + gap), oy = row * (s + gap)
        for y in 0..<s {
          for x in 0..<s {
            for c in 0..<3 { canvas.pixels[((oy + y) * canvas.width + ox + x) * 3 + c] = p.image.pixels[((y / scale) * p.image.width + x / scale) * 3 + c] }
          }
        }
        drawSkeleton(
          &canvas, uv.map { SIMD2(($0.x + 0.5) * Double(scale) - 0.5 + Double(ox), ($0.y + 0.5) * Double(scale) - 0.5 + Double(oy)) },
          clip: (ox, oy, s))
      }
    }
    return canvas
  }

  /// A grid of images (all one size), each with its skeleton when given: how a
  /// dataset looks at a glance (`ekd synth --sheet`, docs/datasets.md).
  public static func contactSheet(_ images: [Image], skeletons: [[SIMD2<Double>]]? = nil, columns: Int = 8) -> Image? {
    guard let first = images.first else { return nil }
    let s = first.width, gap = 2, cols = max(1, min(columns, images.count)), rows = (images.count + cols - 1) / cols
    var canvas = Image(width: cols * (s + gap) - gap, height: rows * (s + gap) - gap, channels: 3, pixels: nil)
    for i in 0..<canvas.pixels.count { canvas.pixels[i] = 255 }
    for (n, img) in images.enumerated() where img.width == s && img.height == s && img.channels == 3 {
      let ox = (n % cols) * (s + gap), oy = (n / cols) * (s + gap)
      for y in 0..<s {
        for x in 0..<s {
          for c in 0..<3 { canvas.pixels[((oy + y) * canvas.width + ox + x) * 3 + c] = img.pixels[(y * s + x) * 3 + c] }
        }
      }
      if let uv = skeletons?[n] { drawSkeleton(&canvas, uv.map { $0 + SIMD2(Double(ox), Double(oy)) }, clip: (ox, oy, s), thickness: 0) }
    }
    return canvas
  }

  /// The image with a predicted skeleton drawn over it (`ekd predict`).
  public static func overlay(_ image: Image, _ uv: [SIMD2<Double>]) -> Image {
    var out = image.channels == 3 ? image : Image(width: image.width, height: image.height, channels: 3, pixels: image.pixels.flatMap { [$0, $0, $0] })
    drawSkeleton(&out, uv, clip: (0, 0, max(image.width, image.height)), thickness: max(1, min(image.width, image.height) / 240))
    return out
  }

  static let fingerColours: [[UInt8]] = [[230, 25, 75], [245, 130, 48], [255, 225, 25], [60, 180, 75], [0, 130, 200]]

  static func drawSkeleton(_ img: inout Image, _ uv: [SIMD2<Double>], clip: (Int, Int, Int), thickness: Int = 1) {
    for (i, bone) in HandSkeleton.bones.enumerated() {
      let finger = i < 5 ? i : (i - 5) / 3
      drawLine(&img, uv[bone.parent], uv[bone.child], colour: fingerColours[finger], clip: clip, thickness: thickness)
    }
  }

  static func drawLine(_ img: inout Image, _ a: SIMD2<Double>, _ b: SIMD2<Double>, colour: [UInt8], clip: (Int, Int, Int), thickness: Int = 1) {
    guard a.x.isFinite, a.y.isFinite, b.x.isFinite, b.y.isFinite else { return }
    let steps = min(Int(max(abs(b.x - a.x), abs(b.y - a.y)).rounded(.up)) + 1, 4 * (clip.2 + 1))
    for k in 0...steps {
      let p = a + (b - a) * (Double(k) / Double(max(steps, 1)))
      for dy in -thickness...thickness {
        for dx in -thickness...thickness {
          let x = Int(p.x.rounded()) + dx, y = Int(p.y.rounded()) + dy
          guard x >= clip.0, y >= clip.1, x < clip.0 + clip.2, y < clip.1 + clip.2, x < img.width, y < img.height else { continue }
          for c in 0..<3 { img.pixels[(y * img.width + x) * 3 + c] = colour[c] }
        }
      }
    }
  }
}
