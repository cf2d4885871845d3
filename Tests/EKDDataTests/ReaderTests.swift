import EKDData
import EKDHand
import EKDTensor
import Foundation
import Testing

let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path

/// Each reader on fixtures written by the tools that write the real files
/// (Fixtures/make_fixtures.py). The fixtures' coordinates encode the canonical
/// index each joint must land on, derived there from joint names, so these
/// checks test the gather tables joint by joint.
@Suite struct Readers {
  func close(_ a: Vector3<Double>, _ b: Vector3<Double>, _ tol: Double = 1e-4) -> Bool { (a - b).length < tol }

  @Test func rhdPicksTheMaskedHandAndMirrorsLeftHands() throws {
    let train = try RHDReader(root: fixtures + "/rhd", split: .train)  // protocol 3, float32
    #expect(train.count == 1)
    let s = try train.sample(0)  // the mask says left: mirrored to a right hand
    #expect(s.hand == .left)
    for i in 0..<21 {
      #expect(close(s.xyz[i], Vector3(-Double(i), 2 * Double(i), 500 + Double(i)), 1e-3), "joint \(i): \(s.xyz[i])")
      #expect(abs(s.uv[i].x - (319 - (100 + Double(i)))) < 1e-4 && abs(s.uv[i].y - (120 + Double(i))) < 1e-4)
    }
    #expect(s.intrinsics[2] == 159)
    let test = try RHDReader(root: fixtures + "/rhd", split: .test)  // protocol 2, float64
    #expect(test.count == 2)
    let r = try test.sample(1)  // the mask says right
    #expect(r.hand == .right)
    for i in 0..<21 { #expect(close(r.xyz[i], Vector3(Double(i) + 100, 2 * Double(i), 500 + Double(i)))) }
    #expect(try RHDReader(root: fixtures + "/rhd", split: .val).count == 1)
  }

  @Test func stbMovesToTheColourCameraMakesAWristAndMirrors() throws {
    let test = try STBReader(root: fixtures + "/stb", split: .test)  // compressed .mat
    #expect(test.count == 3)
    // R and T as datasets.md §2.4 quotes them: X_depth = R·X_colour + T.
    let r = [[0.999924, -0.003042, -0.011952], [0.002978, 0.999981, -0.005328], [0.011968, 0.005292, 0.999914]]
    let t = [-24.0381, -0.4563, -1.2326]
    func colour(_ p: [Double]) -> Vector3<Double> {
      let d = [p[0] - t[0], p[1] - t[1], p[2] - t[2]]
      return Vector3((0..<3).map { r[$0][0] * d[$0] }.reduce(0, +), (0..<3).map { r[$0][1] * d[$0] }.reduce(0, +), (0..<3).map { r[$0][2] * d[$0] }.reduce(0, +))
    }
    for f in 0..<3 {
      let s = try test.sample(f)
      #expect(s.hand == .left)
      func source(_ c: Int) -> [Double] { [10 * Double(c) + Double(f), 20 + Double(c), 500 + Double(c)] }
      for i in 1..<21 { #expect(close(s.xyz[i], Mirroring.mirror(points: [colour(source(i))])[0], 0.02), "frame \(f) joint \(i)") }
      let palm = source(0), ring = source(13)
      let wrist = colour((0..<3).map { ring[$0] + 2 * (palm[$0] - ring[$0]) })
      #expect(close(s.xyz[0], Mirroring.mirror(points: [wrist])[0], 0.02))
    }
    let train = try STBReader(root: fixtures + "/stb", split: .train)  // uncompressed .mat (B2Random)
    #expect(train.count == 2)
  }

  @Test func lmAppliesExtrinsicsFromPython2AndPython3Pickles() throws {
    let test = try LMReader(root: fixtures + "/lm", split: .test)
    #expect(test.count == 1)  // the first 20% of 5 frames
    #expect(try LMReader(root: fixtures + "/lm", split: .train).count == 3)
    #expect(try LMReader(root: fixtures + "/lm", split: .val).count == 1)
    let s = try test.sample(0)
    // rvec: 90° about z, (x, y) → (−y, x); tvec (10, −20, 400). Leap joint c of frame 0 is (10c, −5c, 0.5c).
    func camera(_ c: Double) -> Vector3<Double> { Vector3(5 * c + 10, 10 * c - 20, 0.5 * c + 400) }
    for i in 1..<21 { #expect(close(s.xyz[i], camera(Double(i)), 1e-9), "joint \(i)") }
    #expect(close(s.xyz[0], camera(13) + 2 * (camera(0) - camera(13)), 1e-9))
    #expect(s.hand == .right && s.image.width == 64)
  }

  @Test func freihandReadsJSONAndProjects() throws {
    let train = try FreiHANDReader(root: fixtures + "/freihand", split: .train)
    #expect(train.count == 2)
    let s = try train.sample(1)
    for c in 0..<21 { #expect(close(s.xyz[c], Vector3(Double(c) + 10, 2 * Double(c), 400 + Double(c)), 1e-9)) }
    #expect(s.intrinsics[0] == 501)
    let k = Intrinsics(matrix: s.intrinsics)
    #expect(abs(k.project(s.xyz[5]).u - s.uv[5].x) < 1e-9)
    #expect(try FreiHANDReader(root: fixtures + "/freihand", split: .test).count == 1)
  }

  @Test func missingAndMalformedInputsAreTypedErrors() throws {
    #expect(throws: DatasetError.missingFile("/nonexistent/training/anno_training.pickle")) { try RHDReader(root: "/nonexistent", split: .train) }
    #expect(throws: DatasetError.self) { try FreiHANDReader(root: "/nonexistent", split: .train) }
    // JSON of the wrong shape: a pose with 20 joints.
    let dir = scratchDirectory("freihand-shape")
    try "[[[1, 0, 0], [0, 1, 0], [0, 0, 1]]]".write(toFile: dir + "/training_K.json", atomically: true, encoding: .utf8)
    try ("[[" + Array(repeating: "[0, 0, 0.4]", count: 20).joined(separator: ", ") + "]]").write(toFile: dir + "/training_xyz.json", atomically: true, encoding: .utf8)
    #expect(throws: DatasetError.malformed(dir + "/training_xyz.json", "entry 0 is not 21×3")) { try FreiHANDReader(root: dir, split: .train) }
    let evil = Data("cos\nsystem\n(S'echo pwned'\ntR.".utf8)
    #expect(throws: DatasetError.malformed("evil.pkl", "pickle: global os.system is not allowed (only NumPy array reconstruction is) at byte 11")) {
      try PickleReader.read(evil, path: "evil.pkl")
    }
    let good = try Data(contentsOf: URL(fileURLWithPath: fixtures + "/rhd/RHD_published_v2/training/anno_training.pickle"))
    #expect(throws: DatasetError.self) { try PickleReader.read(good.prefix(good.count / 2), path: "half.pkl") }
    // A .mat of another layout: scipy writes a struct for a dict value; here, a MAT header with a char array.
    var mat = [UInt8](repeating: 0x20, count: 128)
    for (i, b) in "MATLAB 5.0 MAT-file".utf8.enumerated() { mat[i] = b }
    (mat[124], mat[125], mat[126], mat[127]) = (0, 1, 0x49, 0x4D)
    mat += [14, 0, 0, 0, 16, 0, 0, 0, 6, 0, 0, 0, 8, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0]  // miMATRIX, flags: class 4 (char)
    #expect(throws: DatasetError.malformed("x.mat", "MAT: array class char is not numeric at byte 16")) { try MATFile.read(mat, path: "x.mat") }
  }
}

/// Thousands of random corruptions of every fixture format: each is read or
/// refused with a typed error; none crashes or allocates without bound.
@Suite struct Corruption {
  func mutate(_ bytes: [UInt8], _ rng: inout SeededRandom, trial: Int) -> [UInt8] {
    var b = bytes
    switch trial % 4 {
    case 0: return Array(b.prefix(Int(rng.next() % UInt64(b.count))))
    case 1:
      for _ in 0..<(1 + Int(rng.next() % 3)) { b[Int(rng.next() % UInt64(b.count))] = UInt8(truncatingIfNeeded: rng.next()) }
    case 2:  // an absurd length where a length field may be
      let i = Int(rng.next() % UInt64(max(b.count - 4, 1)))
      for k in 0..<min(4, b.count - i) { b[i + k] = 0xFF }
    default:
      let i = Int(rng.next() % UInt64(b.count))
      b.insert(UInt8(truncatingIfNeeded: rng.next()), at: i)
    }
    return b
  }

  @Test(arguments: [
    "rhd/RHD_published_v2/training/anno_training.pickle", "rhd/RHD_published_v2/evaluation/anno_evaluation.pickle",
    "lm/calibrations/data_1/webcam_1/rvec.pkl", "lm/calibrations/data_1/webcam_1/tvec.pkl",
  ])
  func pickles(_ file: String) throws {
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixtures + "/" + file)))
    var rng = SeededRandom(seed: 1)
    var refused = 0
    for trial in 0..<2000 {
      do { _ = try PickleReader.read(Data(mutate(bytes, &rng, trial: trial)), path: file) } catch { refused += 1 }
    }
    #expect(refused > 500)
  }

  @Test(arguments: ["stb/labels/B1Counting_SK.mat", "stb/labels/B2Random_SK.mat"])
  func matFiles(_ file: String) throws {
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixtures + "/" + file)))
    var rng = SeededRandom(seed: 2)
    var refused = 0
    for trial in 0..<2000 {
      do { _ = try MATFile.read(mutate(bytes, &rng, trial: trial), path: file) } catch { refused += 1 }
    }
    #expect(refused > 300)
  }

  @Test func jsonAndText() throws {
    let dir = scratchDirectory("corrupt-json")
    try? FileManager.default.createDirectory(atPath: dir + "/training/rgb", withIntermediateDirectories: true)
    let k = [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixtures + "/freihand/training_K.json")))
    let xyz = try Data(contentsOf: URL(fileURLWithPath: fixtures + "/freihand/training_xyz.json"))
    let joints = [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixtures + "/lm/annotated_frames/data_1/0_joints.txt")))
    try xyz.write(to: URL(fileURLWithPath: dir + "/training_xyz.json"))
    var rng = SeededRandom(seed: 3)
    var refused = 0
    for trial in 0..<1000 {
      try Data(mutate(k, &rng, trial: trial)).write(to: URL(fileURLWithPath: dir + "/training_K.json"))
      do { _ = try FreiHANDReader(root: dir, split: .train) } catch { refused += 1 }
      try Data(mutate(joints, &rng, trial: trial)).write(to: URL(fileURLWithPath: dir + "/j.txt"))
      do { _ = try LMReader.readJoints(dir + "/j.txt") } catch { refused += 1 }
    }
    #expect(refused > 300)
  }
}
