import EKDHand
import Foundation

/// Joint-order tables into the canonical order: canonical[i] = source[map[i]]
/// (datasets.md §0.2). Each is tested joint by joint.
public enum JointMaps {
  /// RHD, one hand (0…20): within-finger reversal.
  public static let rhd = [0, 4, 3, 2, 1, 8, 7, 6, 5, 12, 11, 10, 9, 16, 15, 14, 13, 20, 19, 18, 17]
  /// STB `handPara` joint axis: finger order reversed; index 0 is the palm centre.
  public static let stb = [0, 17, 18, 19, 20, 13, 14, 15, 16, 9, 10, 11, 12, 5, 6, 7, 8, 1, 2, 3, 4]
  /// LM `_joints.txt` rows; row 20 (PALM_POSITION) becomes canonical 0.
  public static let lm = [20, 17, 16, 18, 19, 1, 0, 2, 3, 5, 4, 6, 7, 13, 12, 14, 15, 9, 8, 10, 11]

  public static func gather<T>(_ source: [T], _ map: [Int]) -> [T] { map.map { source[$0] } }

  /// Palm centre → wrist, the majority choice in public code (hand3d, Ge et al.):
  /// wrist = ringMCP + 2·(palm − ringMCP), with the palm in canonical slot 0.
  public static func palmToWrist(_ j: [Vector3<Double>]) -> [Vector3<Double>] {
    var out = j
    out[0] = j[13] + 2 * (j[0] - j[13])
    return out
  }
}

/// The splits: train and test as each dataset publishes them; val, for choosing
/// λs and epochs, is carved out of train (never out of test).
public enum Split: String, Sendable { case train, val, test }

/// Takes the last tenth of a training list for validation.
func carve<T>(_ items: [T], _ split: Split) -> [T] {
  let cut = items.count - max(items.count / 10, items.count > 1 ? 1 : 0)
  switch split {
  case .train: return Array(items[..<cut])
  case .val: return Array(items[cut...])
  case .test: return items
  }
}

func arrayOf(_ v: PickleValue?, _ shape: [Int], _ what: String, _ path: String) throws(DatasetError) -> [Double] {
  guard let (s, values) = v?.arrayValue, s == shape else {
    throw .malformed(path, "\(what) must be an array of shape \(shape)" + (v?.arrayValue.map { ", got \($0.shape)" } ?? ""))
  }
  return values
}

// MARK: - Label checks

/// Refuses a sample's labels when later arithmetic cannot survive them, so the
/// error names the file and the sample instead of surfacing as a trap or a NaN
/// far away: `Sample` divides by z, and cropping turns pixel positions into
/// `Int`s, which traps on an infinity or anything beyond ±2⁶³.
///
/// Every reader calls this on the labels it is about to hand out (before any
/// mirroring): joints must be finite, in front of the camera and within
/// `DatasetLimits.jointMillimetres`; pixel positions — `uv` when the file gives
/// them, else the joints projected through `intrinsics` — within
/// `DatasetLimits.pixelCoordinate`; intrinsics finite with positive focal lengths.
func checkLabels(
  xyz: [Vector3<Double>], uv: [SIMD2<Double>]? = nil, intrinsics k: [Double]?, file: String,
  intrinsicsFile: String? = nil, sample: String
) throws(DatasetError) {
  func joint(_ j: Int) -> String { j < HandSkeleton.jointNames.count ? HandSkeleton.jointNames[j] : "joint \(j)" }
  if let k {
    guard k.count == 9, k.allSatisfy({ $0.isFinite }), k[0] > 0, k[4] > 0 else {
      throw .malformed(intrinsicsFile ?? file, "\(sample): intrinsics must be 9 finite numbers with positive fx and fy, got \(k)")
    }
  }
  let far = DatasetLimits.jointMillimetres
  for (j, p) in xyz.enumerated() {
    guard p.x.isFinite, p.y.isFinite, p.z.isFinite else {
      throw .malformed(file, "\(sample): \(joint(j)) is not finite: (\(p.x), \(p.y), \(p.z)) mm")
    }
    guard p.z > 0 else { throw .malformed(file, "\(sample): \(joint(j)) is at or behind the camera: z = \(p.z) mm") }
    guard abs(p.x) <= far, abs(p.y) <= far, p.z <= far else {
      throw .malformed(file, "\(sample): \(joint(j)) at (\(p.x), \(p.y), \(p.z)) mm is over \(Int(far)) mm from the camera")
    }
  }
  var pixels = uv ?? []
  if uv == nil, let k {
    let camera = Intrinsics(matrix: k)
    pixels = xyz.map { p in
      let q = camera.project(p)
      return SIMD2(q.u, q.v)
    }
  }
  let edge = DatasetLimits.pixelCoordinate
  for (j, q) in pixels.enumerated() where !(abs(q.x) <= edge && abs(q.y) <= edge) {
    throw .malformed(file, "\(sample): \(joint(j)) lies at pixel (\(q.x), \(q.y)), beyond ±\(Int(edge))")
  }
}

// MARK: - RHD

/// RHD (Zimmermann & Brox 2017): `training|evaluation/anno_*.pickle` + `color/%05d.png` + `mask/%05d.png`.
///
/// Each image has two hands (42 keypoints); the one with more mask pixels is
/// taken (ties → right), or, without a mask, the one with more visible
/// keypoints. Left hands are mirrored. Metres become millimetres.
public struct RHDReader: SampleSource {
  public let root: String, split: Split
  let set: String
  /// Each sample's annotation dict by id: hashed once here, not searched once per sample.
  let entries: [Int: PickleValue]
  let ids: [Int]

  public init(root: String, split: Split) throws(DatasetError) {
    let base = FileManager.default.fileExists(atPath: root + "/RHD_published_v2") ? root + "/RHD_published_v2" : root
    (self.root, self.split) = (base, split)
    set = split == .test ? "evaluation" : "training"
    let path = "\(base)/\(set)/anno_\(set).pickle"
    let annotations = try PickleReader.read(contentsOf: path)
    guard case .dict(let pairs) = annotations else { throw .malformed(path, "expected a dict of samples") }
    guard pairs.count <= DatasetLimits.rhdSamples else {
      throw .malformed(path, "\(pairs.count) samples, more than the \(DatasetLimits.rhdSamples) an RHD split may have")
    }
    var entries: [Int: PickleValue] = [:]
    entries.reserveCapacity(pairs.count)
    for p in pairs {
      guard case .int(let k) = p.key else { throw .malformed(path, "sample keys must be integers") }
      entries[k] = p.value
    }
    self.entries = entries
    ids = carve(entries.keys.sorted(), split)
  }

  public var name: String { "rhd/\(split.rawValue)" }
  public var count: Int { ids.count }

  public func sample(_ index: Int) throws(DatasetError) -> Sample {
    let id = ids[index]
    let path = "\(root)/\(set)/anno_\(set).pickle"
    guard let entry = entries[id] else { throw .malformed(path, "no sample \(id)") }
    let xyz = try arrayOf(entry["xyz"], [42, 3], "sample \(id) 'xyz'", path)
    let uvVis = try arrayOf(entry["uv_vis"], [42, 3], "sample \(id) 'uv_vis'", path)
    let k = try arrayOf(entry["K"], [3, 3], "sample \(id) 'K'", path)
    let name = String(format: "%05d.png", id)
    let image = try Image(contentsOf: "\(root)/\(set)/color/\(name)")
    var left: Bool
    if let mask = try? Image(contentsOf: "\(root)/\(set)/mask/\(name)", channels: 1) {
      let l = mask.pixels.filter { (2...17).contains($0) }.count, r = mask.pixels.filter { (18...33).contains($0) }.count
      left = l > r
    } else {
      let lv = (0..<21).filter { uvVis[3 * $0 + 2] == 1 }.count, rv = (21..<42).filter { uvVis[3 * $0 + 2] == 1 }.count
      left = lv > rv
    }
    let offset = left ? 0 : 21
    let joints = (0..<21).map { Vector3(1000 * xyz[3 * ($0 + offset)], 1000 * xyz[3 * ($0 + offset) + 1], 1000 * xyz[3 * ($0 + offset) + 2]) }
    let uv = (0..<21).map { SIMD2(uvVis[3 * ($0 + offset)], uvVis[3 * ($0 + offset) + 1]) }
    let vis = (0..<21).map { uvVis[3 * ($0 + offset) + 2] == 1 }
    let xyzCanonical = JointMaps.gather(joints, JointMaps.rhd), uvCanonical = JointMaps.gather(uv, JointMaps.rhd)
    try checkLabels(xyz: xyzCanonical, uv: uvCanonical, intrinsics: k, file: path, sample: "sample \(id)")
    return Sample(
      image: image, intrinsics: k, xyz: xyzCanonical, uv: uvCanonical,
      visible: JointMaps.gather(vis, JointMaps.rhd), hand: left ? .left : .right, source: "\(set)/color/\(name)"
    ).asRightHand()
  }
}

// MARK: - STB

/// STB (Zhang et al. 2017), SK colour images: `labels/<seq>_SK.mat` (handPara 3×21×N, mm,
/// depth-camera frame) + `images/<seq>/SK_color_<i>.png`. Train B2–B6, test B1.
///
/// Labels move to the colour camera with X_colour = Rᵀ·(X_depth − T) (the
/// README's extrinsics), the palm centre becomes a wrist
/// (`JointMaps.palmToWrist`), and the left hands are mirrored.
public struct STBReader: SampleSource {
  public let root: String, split: Split
  let frames: [(sequence: String, frame: Int)]
  let labels: [String: MATArray]

  public static let colourIntrinsics: [Double] = [607.92271, 0, 314.78337, 0, 607.88192, 236.42484, 0, 0, 1]
  /// Rodrigues(0.00531, −0.01196, 0.00301) and T (mm): X_depth = R·X_colour + T.
  public static let rotation = rodrigues([0.00531, -0.01196, 0.00301])
  public static let translation = [-24.0381, -0.4563, -1.2326]

  public init(root: String, split: Split) throws(DatasetError) {
    (self.root, self.split) = (root, split)
    let sequences = split == .test ? ["B1Counting", "B1Random"] : (2...6).flatMap { ["B\($0)Counting", "B\($0)Random"] }
    var labels: [String: MATArray] = [:]
    var frames: [(String, Int)] = []
    for seq in sequences {
      let path = Self.labelPath(root, seq)
      guard FileManager.default.fileExists(atPath: path) else { continue }
      guard let hand = try MATFile.read(contentsOf: path)["handPara"] else { throw .malformed(path, "no variable 'handPara'") }
      // MATLAB drops trailing singleton dimensions: [3, 21] is one frame, and any past the third must be 1.
      let d = hand.dimensions
      let n = d.count > 2 ? d[2] : 1
      guard d.count >= 2, d[0] == 3, d[1] == 21, d.dropFirst(3).allSatisfy({ $0 == 1 }), hand.values.count == 3 * 21 * n else {
        throw .malformed(path, "handPara must be 3 × 21 × frames, got \(d)")
      }
      guard n <= DatasetLimits.stbFramesPerSequence else {
        throw .malformed(path, "handPara has \(n) frames, more than the \(DatasetLimits.stbFramesPerSequence) a sequence may have")
      }
      labels[seq] = hand
      frames += split == .test ? (0..<n).map { (seq, $0) } : carve((0..<n).map { (seq, $0) }, split)
    }
    guard !frames.isEmpty else { throw .missingFile("\(root)/labels/<sequence>_SK.mat") }
    self.labels = labels
    self.frames = frames
  }

  public var name: String { "stb/\(split.rawValue)" }
  public var count: Int { frames.count }

  static func labelPath(_ root: String, _ sequence: String) -> String { "\(root)/labels/\(sequence)_SK.mat" }

  public func pose(_ index: Int) throws(DatasetError) -> [Vector3<Double>] { Mirroring.mirror(points: try joints(index)) }

  /// Frame `index` in the colour camera, canonical order, as a left hand; refused when unusable (`checkLabels`).
  func joints(_ index: Int) throws(DatasetError) -> [Vector3<Double>] {
    let (seq, f) = frames[index]
    let m = labels[seq]!
    let depth = (0..<21).map { j in Vector3(m[0, j, f], m[1, j, f], m[2, j, f]) }
    let r = Self.rotation, t = Self.translation
    let colour = depth.map { p -> Vector3<Double> in
      let d = [p.x - t[0], p.y - t[1], p.z - t[2]]
      return Vector3(r[0] * d[0] + r[3] * d[1] + r[6] * d[2], r[1] * d[0] + r[4] * d[1] + r[7] * d[2], r[2] * d[0] + r[5] * d[1] + r[8] * d[2])
    }
    let xyz = JointMaps.palmToWrist(JointMaps.gather(colour, JointMaps.stb))
    try checkLabels(xyz: xyz, intrinsics: Self.colourIntrinsics, file: Self.labelPath(root, seq), sample: "frame \(f)")
    return xyz
  }

  public func sample(_ index: Int) throws(DatasetError) -> Sample {
    let (seq, f) = frames[index]
    let xyz = try joints(index)
    var path = "\(root)/images/\(seq)/SK_color_\(f).png"
    if !FileManager.default.fileExists(atPath: path) { path = "\(root)/\(seq)/SK_color_\(f).png" }
    return Sample(image: try Image(contentsOf: path), intrinsics: Self.colourIntrinsics, xyz: xyz, hand: .left, source: path).asRightHand()
  }
}

/// Rotation matrix (row-major) of a Rodrigues vector.
func rodrigues(_ r: [Double]) -> [Double] {
  let theta = (r[0] * r[0] + r[1] * r[1] + r[2] * r[2]).squareRoot()
  guard theta > 0 else { return [1, 0, 0, 0, 1, 0, 0, 0, 1] }
  let (x, y, z) = (r[0] / theta, r[1] / theta, r[2] / theta), c = cos(theta), s = sin(theta), v = 1 - c
  return [
    c + x * x * v, x * y * v - z * s, x * z * v + y * s,
    y * x * v + z * s, c + y * y * v, y * z * v - x * s,
    z * x * v - y * s, z * y * v + x * s, c + z * z * v,
  ]
}

// MARK: - LM (Multiview Hand Pose)

/// LM / MHP (Gomez-Donoso et al. 2019): `annotated_frames/data_N/<f>_joints.txt`
/// (Leap Motion, mm) + `<f>_webcam_<c>.jpg`, extrinsics in
/// `calibrations/data_N/webcam_<c>/{rvec,tvec}.pkl` (Python 2 pickles of NumPy arrays).
///
/// Split as the EKD paper: within each sequence the first 20% of frames (by
/// frame number) are test, the rest train (val: the last tenth of those). One
/// sample per (frame, camera). X_cam = R(rvec)·X_leap + tvec; the palm centre
/// becomes a wrist like STB's. Lens distortion is ignored, as most loaders do.
public struct LMReader: SampleSource {
  public let root: String, split: Split
  let items: [(sequence: Int, frame: Int, camera: Int)]
  let extrinsics: [String: (r: [Double], t: [Double])]
  public static let intrinsics: [Double] = [614.878, 0, 313.219, 0, 615.479, 231.288, 0, 0, 1]

  public init(root: String, split: Split) throws(DatasetError) {
    (self.root, self.split) = (root, split)
    let fm = FileManager.default
    var items: [(Int, Int, Int)] = []
    var extrinsics: [String: ([Double], [Double])] = [:]
    for seq in 1...21 {
      let dir = "\(root)/annotated_frames/data_\(seq)"
      guard let names = try? fm.contentsOfDirectory(atPath: dir) else { continue }
      let frames = names.compactMap { $0.hasSuffix("_joints.txt") ? Int($0.dropLast(11)) : nil }.sorted()
      guard !frames.isEmpty else { continue }
      let testCount = Int((Double(frames.count) * 0.2).rounded(.up))
      let chosen = split == .test ? Array(frames[..<testCount]) : carve(Array(frames[testCount...]), split)
      for cam in 1...4 {
        let cal = "\(root)/calibrations/data_\(seq)/webcam_\(cam)"
        guard fm.fileExists(atPath: cal + "/rvec.pkl") else { continue }
        let r = try Self.vector(PickleReader.read(contentsOf: cal + "/rvec.pkl"), cal + "/rvec.pkl")
        let t = try Self.vector(PickleReader.read(contentsOf: cal + "/tvec.pkl"), cal + "/tvec.pkl")
        extrinsics["\(seq)/\(cam)"] = (rodrigues(r), t)
        for f in chosen where fm.fileExists(atPath: "\(dir)/\(f)_webcam_\(cam).jpg") { items.append((seq, f, cam)) }
      }
    }
    guard !items.isEmpty else { throw .missingFile("\(root)/annotated_frames/data_<N>/<f>_joints.txt") }
    self.items = items
    self.extrinsics = extrinsics
  }

  static func vector(_ v: PickleValue, _ path: String) throws(DatasetError) -> [Double] {
    guard let a = v.arrayValue, a.values.count == 3 else { throw .malformed(path, "expected an array of 3 numbers") }
    return a.values
  }

  public var name: String { "lm/\(split.rawValue)" }
  public var count: Int { items.count }

  /// The 21 joint positions of a `_joints.txt` (rows `NAME x y z`; the 22nd, PALM_NORMAL, is ignored).
  public static func readJoints(_ path: String) throws(DatasetError) -> [Vector3<Double>] {
    guard let data = FileManager.default.contents(atPath: path) else { throw .missingFile(path) }
    return try parseJoints(String(decoding: data, as: UTF8.self), path: path)
  }

  /// The same from the file's text (`path` names it in errors).
  public static func parseJoints(_ text: String, path: String) throws(DatasetError) -> [Vector3<Double>] {
    let rows = text.split(whereSeparator: \.isNewline).map { $0.split(whereSeparator: { $0 == " " || $0 == "\t" }) }.filter { !$0.isEmpty }
    guard rows.count >= 21 else { throw .malformed(path, "expected 22 rows `NAME x y z`, got \(rows.count)") }
    return try (0..<21).map { i throws(DatasetError) in
      let r = rows[i]
      guard r.count >= 4, let x = Double(r[1]), let y = Double(r[2]), let z = Double(r[3]), x.isFinite, y.isFinite, z.isFinite else {
        throw .malformed(path, "row \(i + 1) is not `NAME x y z`")
      }
      return Vector3(x, y, z)
    }
  }

  public func pose(_ index: Int) throws(DatasetError) -> [Vector3<Double>] {
    let (seq, f, cam) = items[index]
    let file = "\(root)/annotated_frames/data_\(seq)/\(f)_joints.txt"
    let leap = try Self.readJoints(file)
    let (r, t) = extrinsics["\(seq)/\(cam)"]!
    let camera = leap.map { p in
      Vector3(r[0] * p.x + r[1] * p.y + r[2] * p.z + t[0], r[3] * p.x + r[4] * p.y + r[5] * p.z + t[1], r[6] * p.x + r[7] * p.y + r[8] * p.z + t[2])
    }
    let xyz = JointMaps.palmToWrist(JointMaps.gather(camera, JointMaps.lm))
    try checkLabels(xyz: xyz, intrinsics: Self.intrinsics, file: file, sample: "webcam \(cam)")
    return xyz
  }

  public func sample(_ index: Int) throws(DatasetError) -> Sample {
    let (seq, f, cam) = items[index]
    let path = "\(root)/annotated_frames/data_\(seq)/\(f)_webcam_\(cam).jpg"
    let xyz = try pose(index)
    return Sample(image: try Image(contentsOf: path), intrinsics: Self.intrinsics, xyz: xyz, hand: .right, source: path)
  }
}

// MARK: - FreiHAND

/// FreiHAND (Zimmermann et al. 2019): `<set>_K.json`, `<set>_xyz.json` (metres,
/// canonical order, right hands) + `<set>/rgb/%08d.jpg`. Training uses the
/// first (green-screen) version of each of its samples; test is `evaluation`.
public struct FreiHANDReader: SampleSource {
  public let root: String, split: Split
  let set: String
  let ks: [[Double]], xyzs: [[Vector3<Double>]]
  let ids: [Int]

  public init(root: String, split: Split) throws(DatasetError) {
    let set = split == .test ? "evaluation" : "training"
    func read(_ name: String) throws(DatasetError) -> Data {
      let path = "\(root)/\(set)_\(name).json"
      guard let data = FileManager.default.contents(atPath: path) else { throw .missingFile(path) }
      return data
    }
    try self.init(root: root, split: split, kJSON: try read("K"), xyzJSON: try read("xyz"))
  }

  /// The two JSON files' contents, already read: the fuzzer and tests parse without touching
  /// the disk. Errors still name the files under `root`.
  public init(root: String, split: Split, kJSON: Data, xyzJSON: Data) throws(DatasetError) {
    (self.root, self.split) = (root, split)
    let set = split == .test ? "evaluation" : "training"
    self.set = set
    func decode(_ name: String, _ data: Data) throws(DatasetError) -> [[[Double]]] {
      guard let v = try? JSONDecoder().decode([[[Double]]].self, from: data) else {
        throw .malformed("\(root)/\(set)_\(name).json", "expected a JSON list of \(name == "K" ? "3×3" : "21×3") nested lists")
      }
      return v
    }
    let k = try decode("K", kJSON), xyz = try decode("xyz", xyzJSON)
    let kPath = "\(root)/\(set)_K.json", xPath = "\(root)/\(set)_xyz.json"
    guard k.count == xyz.count else { throw .malformed(xPath, "\(xyz.count) poses for \(k.count) intrinsics in \(kPath)") }
    guard k.count <= DatasetLimits.freihandSamples else {
      throw .malformed(xPath, "\(k.count) entries, more than the \(DatasetLimits.freihandSamples) a FreiHAND set may have")
    }
    for (i, m) in k.enumerated() where m.count != 3 || m.contains(where: { $0.count != 3 }) { throw .malformed(kPath, "entry \(i) is not 3×3") }
    for (i, p) in xyz.enumerated() where p.count != 21 || p.contains(where: { $0.count != 3 }) { throw .malformed(xPath, "entry \(i) is not 21×3") }
    ks = k.map { $0.flatMap { $0 } }
    xyzs = xyz.map { $0.map { Vector3(1000 * $0[0], 1000 * $0[1], 1000 * $0[2]) } }
    ids = carve(Array(0..<k.count), split)
  }

  public var name: String { "freihand/\(split.rawValue)" }
  public var count: Int { ids.count }
  public func pose(_ index: Int) throws(DatasetError) -> [Vector3<Double>] {
    let id = ids[index]
    try checkLabels(
      xyz: xyzs[id], intrinsics: ks[id], file: "\(root)/\(set)_xyz.json", intrinsicsFile: "\(root)/\(set)_K.json",
      sample: "entry \(id)")
    return xyzs[id]
  }

  public func sample(_ index: Int) throws(DatasetError) -> Sample {
    let id = ids[index]
    let xyz = try pose(index)
    let path = String(format: "%@/%@/rgb/%08d.jpg", root, set, id)
    return Sample(image: try Image(contentsOf: path), intrinsics: ks[id], xyz: xyz, hand: .right, source: path)
  }
}
