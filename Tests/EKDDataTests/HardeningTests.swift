import EKDData
import EKDHand
import EKDTensor
import Foundation
import Testing

/// Why `body` refused `file` (the reason of a `.malformed` naming it), or nil when it did not.
func refusal(of file: String, _ body: () throws -> Void) -> String? {
  do { try body() } catch let error as DatasetError {
    if case .malformed(let path, let why) = error, path == file { return why }
    return nil
  } catch { return nil }
  return nil
}

/// Labels that would trap or poison later arithmetic (`Sample` divides by z,
/// cropping converts pixel positions to `Int`) are refused by every reader,
/// naming the file and the sample. The defective files come from
/// `Fixtures/make_fixtures.py invalid` or are written here.
@Suite struct LabelChecks {
  let invalid = fixtures + "/invalid"

  @Test func rhdRefusesAPixelPositionOf1e20() throws {
    let dir = scratchDirectory("rhd-uv"), fm = FileManager.default
    try? fm.removeItem(atPath: dir + "/training")
    try fm.createDirectory(atPath: dir + "/training/color", withIntermediateDirectories: true)
    try fm.copyItem(atPath: invalid + "/rhd_uv_1e20.pickle", toPath: dir + "/training/anno_training.pickle")
    try fm.copyItem(atPath: fixtures + "/rhd/RHD_published_v2/training/color/00000.png", toPath: dir + "/training/color/00000.png")
    let reader = try RHDReader(root: dir, split: .train)
    #expect(reader.count == 1)
    let why = refusal(of: dir + "/training/anno_training.pickle") { _ = try reader.sample(0) }
    #expect(why?.hasPrefix("sample 0: thumb_tip lies at pixel (1e+20, ") == true, "\(why ?? "not refused")")
  }

  @Test func stbRefusesAJointBehindTheCamera() throws {
    let root = invalid + "/stb_behind_camera"
    let reader = try STBReader(root: root, split: .test)
    let bodies: [() throws -> Void] = [{ _ = try reader.pose(0) }, { _ = try reader.sample(0) }]
    for body in bodies {
      let why = refusal(of: root + "/labels/B1Counting_SK.mat", body)
      #expect(why?.hasPrefix("frame 0: thumb_cmc is at or behind the camera: z = -") == true, "\(why ?? "not refused")")
    }
  }

  /// [3, 21, 2, 0] announces two frames and holds no values: it used to pass the
  /// dimension check and index out of range on the first sample.
  @Test func stbRefusesHandParaWithAZeroDimension() {
    let root = invalid + "/stb_dims"
    // Refused as a malformed file naming it (the MAT reader or the STB reader may be the one that notices).
    #expect {
      try STBReader(root: root, split: .test)
    } throws: { error in
      guard case DatasetError.malformed(let path, _) = error else { return false }
      return path == root + "/labels/B1Counting_SK.mat"
    }
  }

  @Test func lmRefusesAJointBehindTheCamera() throws {
    let root = scratchDirectory("lm-behind"), fm = FileManager.default
    let frames = root + "/annotated_frames/data_1", cal = root + "/calibrations/data_1/webcam_1"
    try? fm.removeItem(atPath: root + "/annotated_frames")
    try? fm.removeItem(atPath: root + "/calibrations")
    try fm.createDirectory(atPath: frames, withIntermediateDirectories: true)
    try fm.createDirectory(atPath: cal, withIntermediateDirectories: true)
    for name in ["rvec.pkl", "tvec.pkl"] { try fm.copyItem(atPath: fixtures + "/lm/calibrations/data_1/webcam_1/" + name, toPath: cal + "/" + name) }
    try fm.copyItem(atPath: fixtures + "/lm/annotated_frames/data_1/0_webcam_1.jpg", toPath: frames + "/0_webcam_1.jpg")
    // tvec puts the Leap origin 400 mm in front of the camera; row 0 (index PIP) at Leap z = −500 is 100 mm behind it.
    var rows = (0..<21).map { "J\($0) \(10 * $0) \(-5 * $0) \(0.5 * Double($0))" }
    rows[0] = "F4_KNU1_A 0 0 -500"
    try (rows + ["PALM_NORMAL 0.1 -0.9 0.2"]).joined(separator: "\n").write(toFile: frames + "/0_joints.txt", atomically: true, encoding: .utf8)
    let reader = try LMReader(root: root, split: .test)
    #expect(reader.count == 1)
    let why = refusal(of: frames + "/0_joints.txt") { _ = try reader.pose(0) }
    #expect(why?.hasPrefix("webcam 1: index_pip is at or behind the camera: z = -") == true, "\(why ?? "not refused")")
  }

  @Test func freihandRefusesAJointAtZeroDepth() throws {
    let dir = scratchDirectory("freihand-z0")
    try "[[[500, 0, 112], [0, 500, 112], [0, 0, 1]]]".write(toFile: dir + "/training_K.json", atomically: true, encoding: .utf8)
    var joints = (0..<21).map { "[\(0.001 * Double($0)), 0.002, 0.4]" }
    joints[8] = "[0.01, 0.02, 0]"
    try ("[[" + joints.joined(separator: ", ") + "]]").write(toFile: dir + "/training_xyz.json", atomically: true, encoding: .utf8)
    let reader = try FreiHANDReader(root: dir, split: .train)
    let bodies: [() throws -> Void] = [{ _ = try reader.pose(0) }, { _ = try reader.sample(0) }]
    for body in bodies {
      #expect(refusal(of: dir + "/training_xyz.json", body) == "entry 0: index_tip is at or behind the camera: z = 0.0 mm")
    }
  }
}

/// The pickle reader's bounds: nesting, container sizes, dict keys, and linear-time dicts.
@Suite struct PickleLimits {
  /// A protocol-2 pickle of `body`.
  func pickle(_ body: [UInt8]) -> Data { Data([0x80, 2] + body + [0x2E]) }

  /// 2 MB of EMPTY_LIST/APPEND (or 1 MB of TUPLE1) used to build a value a
  /// million levels deep, whose release then overflowed the stack.
  @Test(arguments: ["APPEND", "TUPLE1"])
  func deepNestingIsAnErrorNotAStackOverflow(opcode: String) {
    let n = 1_000_000
    let body: [UInt8] =
      opcode == "APPEND"
      ? [UInt8](repeating: 0x5D, count: n) + [UInt8](repeating: 0x61, count: n - 1)
      : [0x29] + [UInt8](repeating: 0x85, count: n)
    let why = refusal(of: "deep.pkl") { _ = try PickleReader.read(pickle(body), path: "deep.pkl") }
    #expect(why?.hasPrefix("pickle: values nest deeper than \(DatasetLimits.pickleNesting) levels") == true, "\(why ?? "not refused")")
  }

  @Test func oversizedContainersAndUnhashableKeysAreRefused() {
    // [] then MARK, None × (limit + 1), APPENDS.
    let many: [UInt8] = [0x5D, 0x28] + [UInt8](repeating: 0x4E, count: DatasetLimits.pickleContainerItems + 1) + [0x65]
    let why = refusal(of: "many.pkl") { _ = try PickleReader.read(pickle(many), path: "many.pkl") }
    #expect(why?.hasPrefix("pickle: a container holds more than \(DatasetLimits.pickleContainerItems) items") == true, "\(why ?? "not refused")")
    // {[]: 1}: a list as a key.
    let listKey = refusal(of: "key.pkl") { _ = try PickleReader.read(pickle([0x7D, 0x5D, 0x4B, 1, 0x73]), path: "key.pkl") }
    #expect(listKey?.hasPrefix("pickle: dict keys must be numbers or strings") == true, "\(listKey ?? "not refused")")
  }

  /// 100,000 SETITEMs of one pair each (how protocol 0 writes a dict). The old
  /// linear key search made this quadratic: minutes, against well under a second.
  @Test func buildingALargeDictTakesLinearTime() throws {
    let n = 100_000
    var body: [UInt8] = [0x7D]
    body.reserveCapacity(1 + 11 * n)
    for i in 0..<n {
      for v in [i, 2 * i] {
        body.append(0x4A)  // BININT
        for k in 0..<4 { body.append(UInt8(truncatingIfNeeded: v >> (8 * k))) }
      }
      body.append(0x73)  // SETITEM
    }
    let data = pickle(body)
    var result = PickleValue.none
    let elapsed = try ContinuousClock().measure { result = try PickleReader.read(data, path: "big.pkl") }
    guard case .dict(let pairs) = result else {
      Issue.record("not a dict")
      return
    }
    #expect(pairs.count == n && pairs[n - 1].key == .int(n - 1) && pairs[n - 1].value == .int(2 * (n - 1)))
    #expect(elapsed < .seconds(20), "\(elapsed)")
  }

  /// Hashing keeps Python's semantics: a repeated key keeps its place and takes the new value.
  @Test func aRepeatedKeyKeepsItsPlaceAndTakesTheNewValue() throws {
    // {1: 10, 2: 20} then [1] = 30, by SETITEM one pair at a time and by DICT from a MARK.
    let bySetItem: [UInt8] = [0x7D, 0x4B, 1, 0x4B, 10, 0x73, 0x4B, 2, 0x4B, 20, 0x73, 0x4B, 1, 0x4B, 30, 0x73]
    let byDict: [UInt8] = [0x28, 0x4B, 1, 0x4B, 10, 0x4B, 2, 0x4B, 20, 0x4B, 1, 0x4B, 30, 0x64]
    for body in [bySetItem, byDict] {
      let v = try PickleReader.read(pickle(body), path: "d.pkl")
      guard case .dict(let pairs) = v else {
        Issue.record("not a dict")
        continue
      }
      #expect(pairs.map(\.key) == [.int(1), .int(2)])
      #expect(v[1] == PickleValue.int(30) && v[2] == PickleValue.int(20))
    }
  }

  @Test func rhdRefusesMoreSamplesThanTheDatasetHas() throws {
    let dir = scratchDirectory("rhd-many")
    try FileManager.default.createDirectory(atPath: dir + "/training", withIntermediateDirectories: true)
    let n = DatasetLimits.rhdSamples + 1
    var body: [UInt8] = [0x7D, 0x28]  // {}, MARK, (id, None) × n, SETITEMS
    for i in 0..<n {
      body.append(0x4A)
      for k in 0..<4 { body.append(UInt8(truncatingIfNeeded: i >> (8 * k))) }
      body.append(0x4E)
    }
    body.append(0x75)
    let file = dir + "/training/anno_training.pickle"
    try pickle(body).write(to: URL(fileURLWithPath: file))
    #expect(throws: DatasetError.malformed(file, "\(n) samples, more than the \(DatasetLimits.rhdSamples) an RHD split may have")) {
      try RHDReader(root: dir, split: .train)
    }
  }
}

/// MAT decompression and image decoding stay within what the headers declare and `DatasetLimits` allows.
@Suite struct FormatLimits {
  /// The inner tag declares a 64-byte element; 1 MiB more follows in the stream.
  /// It used to be inflated whole (up to 1 GiB), copied, and the excess ignored.
  @Test func aCompressedElementMayNotInflatePastItsDeclaredSize() {
    let file = fixtures + "/invalid/mat_inflates_past_tag.mat"
    let why = refusal(of: file) { _ = try MATFile.read(contentsOf: file) }
    #expect(why?.hasPrefix("MAT: miCOMPRESSED: inflates past the 64 bytes its tag declares") == true, "\(why ?? "not refused")")
  }

  /// A 1 GiB miMATRIX declared by a few compressed bytes is refused before anything is allocated for it.
  @Test func aCompressedElementMayNotDeclareMoreThanItsStreamCanHold() {
    let file = fixtures + "/invalid/mat_declares_1gib.mat"
    let why = refusal(of: file) { _ = try MATFile.read(contentsOf: file) }
    #expect(why?.contains("cannot inflate to the \(8 + (1 << 30)) its tag declares") == true, "\(why ?? "not refused")")
  }

  /// The fixtures still read, compressed and not, through the new inflation path.
  @Test func validFilesStillRead() throws {
    let compressed = try MATFile.read(contentsOf: fixtures + "/stb/labels/B1Counting_SK.mat")
    let plain = try MATFile.read(contentsOf: fixtures + "/stb/labels/B2Random_SK.mat")
    #expect(compressed["handPara"]?.dimensions == [3, 21, 3] && plain["handPara"]?.dimensions == [3, 21, 3])
    #expect(compressed["handPara"]?.values == plain["handPara"]?.values)
  }

  @Test func imagesAbovePixelLimitAreRefused() throws {
    let side = Int(Double(DatasetLimits.imagePixels).squareRoot()) + 1
    let path = scratchDirectory("big-image") + "/big.png"
    try Image(width: side, height: side, channels: 1).writePNG(to: path)
    #expect(throws: DatasetError.malformed(path, "cannot decode image: PNG dimensions are zero or too large")) {
      try Image(contentsOf: path, channels: 1)
    }
  }
}
