import EKDHand
import EKDTensor
import Foundation

/// How the built-in hands are seen by the camera.
public enum SyntheticViews: String, CaseIterable, Codable, Sendable {
  /// Real capture (the default): a forearm enters from the image border; half
  /// the images are third-person (palm or back toward the camera, fingers
  /// mostly up, as STB, LM and FreiHAND film hands), half egocentric (the
  /// back of the hand toward the camera, fingers pointing away).
  case capture
  /// Uniformly random orientations: the hard, RHD-like setting.
  case uniform
}

/// The built-in dataset: articulated right hands on a forearm, rendered with
/// shading and self-occlusion over cluttered backgrounds, with exact labels.
///
/// The hand: realistic bone lengths (scaled per sample by 0.85–1.15), joint
/// angles drawn within anatomical limits (MCP flexion −15…90°, abduction
/// ±20°, PIP 0…105°, DIP about ⅔ of PIP; the thumb opposes and flexes on its
/// own axes), a forearm bent at the wrist, a viewpoint drawn from `views`
/// (docs/datasets.md gives the distributions), and a random focal length.
/// Rendering: each bone, the palm and the forearm are capsules projected to
/// screen space, shaded as cylinders lit from a random direction, and
/// depth-tested per pixel, so fingers occlude each other. The cues real
/// images carry are there: the palm is lighter than the back of the hand,
/// nails sit on the back of the fingertips, the forearm (sometimes in a
/// sleeve) shows where the wrist is. A joint is visible when the nearest
/// surface at its pixel is its own. Sample `i` of seed `k` is always the same
/// image (its generator is derived from k and i alone), so the set streams in
/// any order or in parallel.
public enum SyntheticHands {
  /// Phalanx lengths (mm), base to tip, thumb first; and the MCP/CMC positions in the hand frame.
  static let lengths: [[Double]] = [[40, 32, 27], [40, 24, 20], [45, 28, 21], [42, 27, 20], [33, 20, 18]]
  static let bases: [Vector3<Double>] = [Vector3(24, -24, -6), Vector3(22, -86, 0), Vector3(4, -89, 0), Vector3(-13, -84, 0), Vector3(-28, -75, 0)]

  /// One rendered sample (a right hand), `size`×`size` pixels.
  public static func sample(index: Int, seed: UInt64, size: Int, views: SyntheticViews = .capture) -> Sample {
    var rng = generator(index: index, seed: seed)
    let scene = place(&rng, size: size, views: views)
    let (image, visible) = render(scene, size: size, rng: &rng)
    return Sample(image: image, intrinsics: scene.k, xyz: scene.joints, visible: visible, hand: .right, source: "synth[\(seed)]#\(index)")
  }

  /// The joints of `sample(index:seed:size:views:)` without rendering (for bounds).
  public static func pose(index: Int, seed: UInt64, size: Int, views: SyntheticViews = .capture) -> [Vector3<Double>] {
    var rng = generator(index: index, seed: seed)
    return place(&rng, size: size, views: views).joints
  }

  static func generator(index: Int, seed: UInt64) -> SeededRandom {
    SeededRandom(seed: seed &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(index) &* 0xD1B5_4A32_D192_ED03)
  }

  /// A hand on its forearm in front of the camera: joints (mm, camera frame),
  /// row-major K, the forearm's elbow end, and the palm's normal (camera frame).
  struct Scene {
    var joints: [Vector3<Double>], k: [Double], elbow: Vector3<Double>, palmNormal: Vector3<Double>
  }

  static func rotation(_ axis: Int, _ a: Double) -> [[Double]] {
    let (c, s) = (cos(a), sin(a))
    switch axis {
    case 0: return [[1, 0, 0], [0, c, -s], [0, s, c]]
    case 1: return [[c, 0, s], [0, 1, 0], [-s, 0, c]]
    default: return [[c, -s, 0], [s, c, 0], [0, 0, 1]]
    }
  }

  static func multiply(_ a: [[Double]], _ b: [[Double]]) -> [[Double]] {
    (0..<3).map { i in (0..<3).map { j in (0..<3).reduce(0) { $0 + a[i][$1] * b[$1][j] } } }
  }

  static func apply(_ r: [[Double]], _ p: Vector3<Double>) -> Vector3<Double> {
    Vector3(
      r[0][0] * p.x + r[0][1] * p.y + r[0][2] * p.z, r[1][0] * p.x + r[1][1] * p.y + r[1][2] * p.z,
      r[2][0] * p.x + r[2][1] * p.y + r[2][2] * p.z)
  }

  /// The hand's orientation in the camera frame. In the hand frame the fingers
  /// point along −y (up in the image), the palm faces −z (the camera) and the
  /// forearm leaves along +y; yaw turns the hand about its long axis (0 shows
  /// the palm, 180° the back), pitch tips the fingers toward (+) or away (−)
  /// from the camera, roll turns the picture in the image plane.
  static func orientation(_ rng: inout SeededRandom, views: SyntheticViews) -> (r: [[Double]], distance: ClosedRange<Double>) {
    func deg(_ d: Double) -> Double { d * .pi / 180 }
    func normal(_ mean: Double, _ sd: Double) -> Double { mean + sd * Double(rng.nextNormal()) }
    switch views {
    case .uniform:
      // A uniformly random rotation (from a random unit quaternion).
      let q = (0..<4).map { _ in Double(rng.nextNormal()) }
      let nq = (q.map { $0 * $0 }.reduce(0, +)).squareRoot()
      let (w, x, y, z) = (q[0] / nq, q[1] / nq, q[2] / nq, q[3] / nq)
      return (
        [
          [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
          [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
          [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ], 330...560
      )
    case .capture:
      let yaw: Double, pitch: Double, roll: Double, distance: ClosedRange<Double>
      if Double.random(in: 0..<1, using: &rng) < 0.5 {
        // Third-person: palm or back toward the camera, the forearm entering from below or the sides.
        yaw = Bool.random(using: &rng) ? normal(0, 35) : normal(180, 35)
        pitch = min(max(normal(0, 25), -70), 70)
        roll = Double.random(in: -110...110, using: &rng)
        distance = 330...560
      } else {
        // Egocentric: mostly the back of the hand, fingers pointing away, the forearm from the bottom edge.
        yaw = Double.random(in: 0..<1, using: &rng) < 0.8 ? normal(180, 30) : normal(0, 30)
        pitch = -Double.random(in: 15...65, using: &rng)
        roll = normal(0, 30)
        distance = 320...480
      }
      return (multiply(rotation(2, deg(roll)), multiply(rotation(0, deg(pitch)), rotation(1, deg(yaw)))), distance)
    }
  }

  static func place(_ rng: inout SeededRandom, size: Int, views: SyntheticViews) -> Scene {
    let joints = articulate(&rng)
    // The forearm: 260 mm from the wrist, bent by wrist flexion and deviation.
    let flexion = Double(rng.nextNormal()) * 0.35, deviation = Double(rng.nextNormal()) * 0.18
    let elbowHand = apply(multiply(rotation(2, deviation), rotation(0, flexion)), Vector3(0, 260, 0))
    let (r, distanceRange) = orientation(&rng, views: views)
    let centre = 0.5 * (joints[0] + joints[9])
    let distance = Double.random(in: distanceRange, using: &rng)
    let f = Double(size) * Double.random(in: 1.05...1.45, using: &rng)
    let c = Double(size - 1) / 2
    let offset = Vector3(
      Double.random(in: -0.08...0.08, using: &rng) * distance * Double(size) / f,
      Double.random(in: -0.08...0.08, using: &rng) * distance * Double(size) / f, distance)
    let xyz = joints.map { apply(r, $0 - centre) + offset }
    let k = [f, 0, c + Double.random(in: -2...2, using: &rng), 0, f, c + Double.random(in: -2...2, using: &rng), 0, 0, 1]
    return Scene(joints: xyz, k: k, elbow: apply(r, elbowHand - centre) + offset, palmNormal: apply(r, Vector3(0, 0, -1)))
  }

  /// Joints in the hand frame: wrist at the origin, fingers along −y, palm facing −z.
  static func articulate(_ rng: inout SeededRandom) -> [Vector3<Double>] {
    let scale = Double.random(in: 0.85...1.15, using: &rng)
    func deg(_ r: ClosedRange<Double>) -> Double { Double.random(in: r, using: &rng) * .pi / 180 }
    var j = [Vector3<Double>](repeating: .zero, count: HandSkeleton.jointCount)
    let palmNormal = Vector3<Double>(0, 0, -1)
    // A shared "grip" makes poses correlated across fingers, as real hands are.
    let grip = Double.random(in: 0...1, using: &rng)
    for finger in 0..<5 {
      let chain = HandSkeleton.fingers[finger]
      j[chain[0]] = scale * bases[finger]
      var forward: Vector3<Double>, bend: Vector3<Double>, flex: [Double]
      if finger == 0 {
        let opposition = deg(0...55), spread = deg(-10...25)
        forward = unitVector(Vector3(cos(spread) * 0.8, -0.6 - sin(spread) * 0.3, 0))
        forward = unitVector(cos(opposition) * forward + sin(opposition) * palmNormal)
        bend = unitVector(Vector3(-1, -0.2, -0.6) - (Vector3(-1, -0.2, -0.6).dot(forward)) * forward)
        flex = [deg(-5...25), deg(-10...55) * (0.5 + grip), deg(-5...80) * (0.4 + grip * 0.8)]
      } else {
        let spread = deg(-20...20) * (finger == 1 || finger == 4 ? 1 : 0.6) + Double(finger - 2) * 0.06
        forward = Vector3(-sin(spread), -cos(spread), 0)
        bend = palmNormal
        let mcp = min(max(grip * 95 - 15 + Double(rng.nextNormal()) * 25, -15), 90)
        let pip = min(max(grip * 110 + Double(rng.nextNormal()) * 25, 0), 105)
        let dip = min(max(pip * 0.66 + Double(rng.nextNormal()) * 10, 0), 80)
        flex = [mcp * .pi / 180, pip * .pi / 180, dip * .pi / 180]
      }
      var phi = 0.0
      for b in 0..<3 {
        phi += flex[b]
        let dir = cos(phi) * forward + sin(phi) * bend
        j[chain[b + 1]] = j[chain[b]] + (scale * lengths[finger][b]) * dir
      }
    }
    return j
  }

  static func unitVector(_ v: Vector3<Double>) -> Vector3<Double> { (1 / v.length) * v }

  /// What a capsule is made of, for its colour.
  enum Part { case palm, finger, fingertip, forearm }

  /// Capsules (forearm, palm, bones) shaded as cylinders, depth-tested per pixel, over clutter.
  static func render(_ scene: Scene, size: Int, rng: inout SeededRandom) -> (Image, [Bool]) {
    let xyz = scene.joints, k = scene.k
    var img = Image(width: size, height: size, channels: 3)
    background(&img, rng: &rng)
    var depth = [Double](repeating: .infinity, count: size * size)
    // Skin: the back of the hand darker, the palm lighter and pinker.
    // Skin tones from dark brown to pale: red leads, green and blue follow it.
    let red = Double.random(in: 95...235, using: &rng), green = red * Double.random(in: 0.62...0.85, using: &rng)
    let skin = [red, green, green * Double.random(in: 0.72...0.95, using: &rng)]
    let back = 0.86 * SIMD3(skin[0], skin[1], skin[2])
    let palm = pointwiseMin(SIMD3(skin[0] * 1.12 + 12, skin[1] * 1.1 + 8, skin[2] * 1.1 + 10), SIMD3(repeating: 255))
    let nail = 0.35 * SIMD3(skin[0], skin[1], skin[2]) + 0.65 * SIMD3<Double>(240, 215, 210)
    let sleeve: SIMD3<Double>? =
      Double.random(in: 0..<1, using: &rng) < 0.4
      ? SIMD3(Double.random(in: 20...235, using: &rng), Double.random(in: 20...235, using: &rng), Double.random(in: 20...235, using: &rng)) : nil
    let sleeveStart = Double.random(in: 0.2...0.8, using: &rng)
    let light = unitVector(Vector3(Double(rng.nextNormal()), Double(rng.nextNormal()), -2))
    let (fx, fy, cx, cy) = (k[0], k[4], k[2], k[5])
    // (from, to, radius at each end in mm, part), nearest-first does not matter: the depth test sorts it out.
    var capsules: [(Vector3<Double>, Vector3<Double>, Double, Double, Part)] = [(xyz[0], scene.elbow, 24, 36, .forearm)]
    for (a, b, r) in [(5, 9, 11.0), (9, 13, 11), (13, 17, 10), (0, 5, 13), (0, 9, 15), (0, 13, 15), (0, 17, 13), (0, 1, 14)] {
      capsules.append((xyz[a], xyz[b], r, r, .palm))
    }
    for f in HandSkeleton.fingers {
      let r0 = f == [1, 2, 3, 4] ? 10.0 : 8.5
      capsules += [(xyz[f[0]], xyz[f[1]], r0, r0, .finger), (xyz[f[1]], xyz[f[2]], 7.5, 7.5, .finger), (xyz[f[2]], xyz[f[3]], 6.5, 6, .fingertip)]
    }
    for (pa, pb, radiusA, radiusB, part) in capsules {
      guard pa.z > 50, pb.z > 50 else { continue }
      let ua = SIMD2(fx * pa.x / pa.z + cx, fy * pa.y / pa.z + cy), ub = SIMD2(fx * pb.x / pb.z + cx, fy * pb.y / pb.z + cy)
      let ra = fx * radiusA / pa.z, rb = fx * radiusB / pb.z
      let lo = pointwiseMax(pointwiseMin(ua, ub) - max(ra, rb) - 1, SIMD2(0, 0))
      let hi = pointwiseMin(pointwiseMax(ua, ub) + max(ra, rb) + 1, SIMD2(Double(size - 1), Double(size - 1)))
      guard lo.x <= hi.x, lo.y <= hi.y else { continue }
      let axis = ub - ua, len2 = max((axis * axis).sum(), 1e-9)
      let axis3 = unitVector(pb - pa + Vector3(0, 0, 1e-9))
      let sideways = unitVector(axis3.cross(Vector3(0, 0, 1)) + Vector3(0, 0, 1e-9))
      let viewer = Vector3<Double>(0, 0, -1)
      for py in Int(lo.y)...Int(hi.y) {
        for px in Int(lo.x)...Int(hi.x) {
          let p = SIMD2(Double(px), Double(py))
          let t = min(max(((p - ua) * axis).sum() / len2, 0), 1)
          let q = ua + t * axis, rad = ra + t * (rb - ra)
          let d2 = ((p - q) * (p - q)).sum()
          guard d2 < rad * rad else { continue }
          let d = d2.squareRoot()
          let h = (1 - (d / rad) * (d / rad)).squareRoot()
          let z = pa.z + t * (pb.z - pa.z) - (radiusA + t * (radiusB - radiusA)) * h
          let i = py * size + px
          guard z < depth[i] else { continue }
          depth[i] = z
          // Cylinder normal: toward the viewer by h, sideways by the screen offset.
          let side = d / rad * (((p - q).x * axis.y - (p - q).y * axis.x) >= 0 ? 1 : -1)
          let normal = h * viewer + side * sideways
          let shade = 0.35 + 0.65 * max(0, normal.dot(light))
          // Which side of the hand this pixel shows: +1 the palm, −1 the back.
          let palmSide = min(max(normal.dot(scene.palmNormal) * 2.5 + 0.5, 0), 1)
          var colour = back + (palm - back) * palmSide
          switch part {
          case .fingertip where t > 0.5 && palmSide < 0.15 && abs(side) < 0.7: colour = nail
          case .forearm:
            if let sleeve, t > sleeveStart { colour = sleeve } else { colour = 0.97 * back }
          default: break
          }
          let c = pointwiseMax(pointwiseMin(colour * shade, SIMD3(repeating: 255)), SIMD3(repeating: 0))
          (img.pixels[i * 3], img.pixels[i * 3 + 1], img.pixels[i * 3 + 2]) = (UInt8(c.x), UInt8(c.y), UInt8(c.z))
        }
      }
    }
    // Sensor noise: triangular, σ ≈ 4 grey levels (two bytes of one draw each; cheap next to Gaussians).
    img.pixels.withUnsafeMutableBufferPointer { px in
      var i = 0
      while i < px.count {
        var bits = rng.next()
        for _ in 0..<4 where i < px.count {
          let noise = (Int(bits & 0xFF) + Int((bits >> 8) & 0xFF) - 255) * 10 >> 8
          px[i] = UInt8(max(0, min(255, Int(px[i]) + noise)))
          bits >>= 16
          i += 1
        }
      }
    }
    let visible = xyz.map { p -> Bool in
      let u = Int((fx * p.x / p.z + cx).rounded()), v = Int((fy * p.y / p.z + cy).rounded())
      guard u >= 0, v >= 0, u < size, v < size else { return false }
      return p.z - depth[v * size + u] < 14
    }
    return (img, visible)
  }

  /// A gradient, random rectangles and discs of random colours, some skin-like.
  static func background(_ img: inout Image, rng: inout SeededRandom) {
    let size = img.width
    let a = SIMD3((0..<3).map { _ in Double.random(in: 0...255, using: &rng) }), b = SIMD3((0..<3).map { _ in Double.random(in: 0...255, using: &rng) })
    let dir = Double.random(in: 0...(2 * .pi), using: &rng)
    let (dx, dy) = (cos(dir) / Double(size) * 0.7, sin(dir) / Double(size) * 0.7)
    img.pixels.withUnsafeMutableBufferPointer { px in
      for y in 0..<size {
        for x in 0..<size {
          let c = pointwiseMax(pointwiseMin(a + (b - a) * (dx * Double(x) + dy * Double(y) + 0.5), SIMD3(repeating: 255)), SIMD3(repeating: 0))
          let i = (y * size + x) * 3
          (px[i], px[i + 1], px[i + 2]) = (UInt8(c.x), UInt8(c.y), UInt8(c.z))
        }
      }
    }
    for _ in 0..<Int.random(in: 2...9, using: &rng) {
      let colour = (0..<3).map { _ in UInt8.random(in: 0...255, using: &rng) }
      let cx = Double.random(in: 0...Double(size), using: &rng), cy = Double.random(in: 0...Double(size), using: &rng)
      let rx = Double.random(in: 3...Double(size) / 3, using: &rng), ry = Double.random(in: 3...Double(size) / 3, using: &rng)
      let disc = Bool.random(using: &rng)
      for y in max(0, Int(cy - ry))..<min(size, Int(cy + ry) + 1) {
        for x in max(0, Int(cx - rx))..<min(size, Int(cx + rx) + 1) {
          let dx = (Double(x) - cx) / rx, dy = (Double(y) - cy) / ry
          if disc && dx * dx + dy * dy > 1 { continue }
          for c in 0..<3 { img.pixels[(y * size + x) * 3 + c] = colour[c] }
        }
      }
    }
  }
}

/// The synthetic set on disk, so users can look at it:
/// `DIR/images/000000.png …` and `DIR/labels.json` =
/// `{"format": "ekd-synth", "version": 1, "size": S, "seed": K, "samples": [
///   {"image": "images/000000.png", "K": [[3×3]], "xyz": [[x, y, z] × 21] (mm),
///    "uv": [[u, v] × 21] (px), "visible": [21 × bool]}, …]}`.
public enum SyntheticDataset {
  /// Renders and writes `count` samples; `progress` is told each finished index.
  public static func write(
    to directory: String, count: Int, size: Int, seed: UInt64, views: SyntheticViews = .capture, threads: Int = 1,
    progress: (Int) -> Void = { _ in }
  ) throws(DatasetError) {
    let images = directory + "/images"
    do { try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true) } catch {
      throw .malformed(directory, "cannot create the directory: \(error.localizedDescription)")
    }
    var entries = [String](repeating: "", count: count)
    var failure: DatasetError?
    let lock = NSLock()
    var done = 0
    entries.withUnsafeMutableBufferPointer { slots in
      Parallel.chunks(count, threads: threads) { range, _ in
        for i in range {
          let s = SyntheticHands.sample(index: i, seed: seed, size: size, views: views)
          let name = String(format: "images/%06d.png", i)
          do { try s.image.writePNG(to: directory + "/" + name) } catch let e as DatasetError {
            lock.withLock { failure = e }
            return
          } catch { return }
          slots[i] = entry(name, s)
          lock.withLock {
            done += 1
            progress(done)
          }
        }
      }
    }
    if let failure { throw failure }
    let json =
      "{\"format\": \"ekd-synth\", \"version\": 1, \"size\": \(size), \"seed\": \(seed), \"views\": \"\(views.rawValue)\", \"samples\": [\n"
      + entries.joined(separator: ",\n") + "\n]}\n"
    do { try AtomicFile.write(Data(json.utf8), to: URL(fileURLWithPath: directory + "/labels.json")) } catch {
      throw .malformed(error.path, "cannot write the labels: \(error.reason)")
    }
  }

  static func entry(_ name: String, _ s: Sample) -> String {
    let k = s.intrinsics
    let kText = "[[\(k[0]), \(k[1]), \(k[2])], [\(k[3]), \(k[4]), \(k[5])], [\(k[6]), \(k[7]), \(k[8])]]"
    let xyz = s.xyz.map { "[\($0.x), \($0.y), \($0.z)]" }.joined(separator: ", ")
    let uv = s.uv.map { "[\($0.x), \($0.y)]" }.joined(separator: ", ")
    let vis = s.visible.map { $0 ? "true" : "false" }.joined(separator: ", ")
    return "{\"image\": \"\(name)\", \"K\": \(kText), \"xyz\": [\(xyz)], \"uv\": [\(uv)], \"visible\": [\(vis)]}"
  }

  struct Labels: Decodable {
    struct Entry: Decodable {
      var image: String
      var K: [[Double]]
      var xyz: [[Double]]
      var uv: [[Double]]
      var visible: [Bool]?
    }
    var format: String
    var size: Int?
    var samples: [Entry]
  }

  /// Reads the labels (images are decoded lazily by `SampleSource`).
  public static func read(directory: String) throws(DatasetError) -> [(image: String, sample: (k: [Double], xyz: [Vector3<Double>], uv: [SIMD2<Double>], visible: [Bool]))] {
    let path = directory + "/labels.json"
    guard let data = FileManager.default.contents(atPath: path) else { throw .missingFile(path) }
    return try decode(data, directory: directory)
  }

  /// The labels of DIR/labels.json from its bytes (image paths relative to `directory`).
  public static func decode(_ data: Data, directory: String) throws(DatasetError) -> [(
    image: String, sample: (k: [Double], xyz: [Vector3<Double>], uv: [SIMD2<Double>], visible: [Bool])
  )] {
    let path = directory + "/labels.json"
    let labels: Labels
    do { labels = try JSONDecoder().decode(Labels.self, from: data) } catch { throw .malformed(path, "not an ekd-synth labels file: \(error)") }
    guard labels.format == "ekd-synth" else { throw .malformed(path, "format is \"\(labels.format)\", expected \"ekd-synth\"") }
    return try labels.samples.enumerated().map { (i, e) throws(DatasetError) in
      let j = HandSkeleton.jointCount
      guard e.K.count == 3, e.K.allSatisfy({ $0.count == 3 }), e.xyz.count == j, e.xyz.allSatisfy({ $0.count == 3 }),
        e.uv.count == j, e.uv.allSatisfy({ $0.count == 2 }), e.visible.map({ $0.count == j }) ?? true
      else { throw .malformed(path, "sample \(i) must have K 3×3, xyz \(j)×3, uv \(j)×2 and \(j) visible flags") }
      try checkLabels(
        xyz: e.xyz.map { Vector3($0[0], $0[1], $0[2]) }, uv: e.uv.map { SIMD2($0[0], $0[1]) }, intrinsics: e.K.flatMap { $0 }, file: path,
        sample: "sample \(i)")
      return (
        directory + "/" + e.image,
        (
          e.K.flatMap { $0 }, e.xyz.map { Vector3($0[0], $0[1], $0[2]) }, e.uv.map { SIMD2($0[0], $0[1]) },
          e.visible ?? [Bool](repeating: true, count: j)
        )
      )
    }
  }
}
