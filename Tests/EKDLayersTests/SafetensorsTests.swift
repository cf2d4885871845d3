import EKDLayers
import EKDTensor
import Foundation
import Testing

let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

/// Whether `python3` can import the reference safetensors package.
let pythonHasSafetensors: Bool = {
  let p = Process()
  p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  p.arguments = ["python3", "-c", "import safetensors, numpy"]
  p.standardOutput = FileHandle.nullDevice
  p.standardError = FileHandle.nullDevice
  guard (try? p.run()) != nil else { return false }
  p.waitUntilExit()
  return p.terminationStatus == 0
}()

func temporaryURL(_ name: String) -> URL {
  let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ekd-tests-\(getpid())")
  try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  return dir.appendingPathComponent(name)
}

@Suite struct SafetensorsFormat {
  /// Written by Python's safetensors (Fixtures/make_fixtures.py); values are closed-form there.
  @Test func readsAFileWrittenByPython() throws {
    let c = try Safetensors.read(fixtures.appendingPathComponent("python_written.safetensors"))
    #expect(c.metadata == ["producer": "make_fixtures.py", "format": "pt"])
    let w = try #require(c.tensors["layer1.0.conv1.weight"])
    #expect(w.shape == [2, 3, 2, 2])
    for i in 0..<w.count { #expect(w[flat: i] == Float(i) * 0.5 - 3) }
    let v = try #require(c.tensors["layer1.0.bn1.running_var"])
    #expect(v.shape == [5])
    for i in 0..<5 { #expect(v[flat: i] == Float(Double(i) / 7)) }
    let h = try #require(c.tensors["head.bias"])
    #expect(h.scalars == [0, 0.25, 0.5, 0.75])
    #expect(c.dtypes["head.bias"] == "F16")
    let n = try #require(c.tensors["layer1.0.bn1.num_batches_tracked"])
    #expect(n.shape == [])
    #expect(n.scalar == 12345)
  }

  @Test(.enabled(if: pythonHasSafetensors, "python3 lacks the safetensors package: run `make setup`"))
  func pythonReadsWhatWeWrite() throws {
    var rng = SeededRandom(seed: 4)
    let model = Sequential(Conv2d(inputChannels: 2, outputChannels: 3, kernelSize: 3, using: &rng), BatchNorm2d(3))
    (model.layers[1] as! BatchNorm2d).batchesTracked.value = Tensor(7)
    let url = temporaryURL("ours.safetensors")
    try Checkpoint.save(model, metadata: ["step": "7"], to: url)

    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", fixtures.appendingPathComponent("read_safetensors.py").path, url.path]
    let pipe = Pipe()
    p.standardOutput = pipe
    try p.run()
    let out = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    #expect(p.terminationStatus == 0)
    let json = try #require(try JSONSerialization.jsonObject(with: out) as? [String: Any])
    #expect(json["metadata"] as? [String: String] == ["step": "7"])
    let tensors = try #require(json["tensors"] as? [String: [String: Any]])
    #expect(Set(tensors.keys) == Set(model.namedParameters.map(\.name)))
    for (name, parameter) in model.namedParameters {
      let t = try #require(tensors[name])
      #expect(t["shape"] as? [Int] == parameter.shape.dimensions, "\(name)")
      let values = (t["values"] as? [Double] ?? []).map(Float.init)
      #expect(values == parameter.value.scalars, "\(name)")
    }
    #expect(tensors["1.num_batches_tracked"]?["dtype"] as? String == "int64")
  }

  @Test func roundTripsAModelAndRefusesMismatches() throws {
    var rng = SeededRandom(seed: 5)
    let a = Sequential(Conv2d(inputChannels: 2, outputChannels: 3, kernelSize: 3, using: &rng), BatchNorm2d(3))
    let b = Sequential(Conv2d(inputChannels: 2, outputChannels: 3, kernelSize: 3, using: &rng), BatchNorm2d(3))
    let url = temporaryURL("roundtrip.safetensors")
    try Checkpoint.save(a, to: url)
    #expect(a.namedParameters[0].parameter.value != b.namedParameters[0].parameter.value)
    try Checkpoint.load(url, into: b)
    for (pa, pb) in zip(a.namedParameters, b.namedParameters) { #expect(pa.parameter.value == pb.parameter.value) }

    let wider = Sequential(Conv2d(inputChannels: 2, outputChannels: 4, kernelSize: 3, using: &rng), BatchNorm2d(4))
    #expect(throws: CheckpointError.shapeMismatch(url.path, tensor: "0.weight", expected: [4, 2, 3, 3], got: [3, 2, 3, 3])) {
      try Checkpoint.load(url, into: wider)
    }
    let more = Sequential(Conv2d(inputChannels: 2, outputChannels: 3, kernelSize: 3, using: &rng), BatchNorm2d(3), Linear(inputFeatures: 1, outputFeatures: 1, using: &rng))
    #expect(throws: CheckpointError.missingTensor(url.path, tensor: "2.weight")) { try Checkpoint.load(url, into: more) }
    let fewer = Sequential(Conv2d(inputChannels: 2, outputChannels: 3, kernelSize: 3, using: &rng))
    #expect(throws: CheckpointError.unexpectedTensor(url.path, tensor: "1.weight")) { try Checkpoint.load(url, into: fewer) }
    #expect(throws: CheckpointError.io("/nonexistent/x.safetensors", "no such file")) {
      try Checkpoint.load(URL(fileURLWithPath: "/nonexistent/x.safetensors"), into: a)
    }
  }

  /// Thousands of random corruptions of a real file: every one is either read
  /// or refused with a typed error; none crashes.
  @Test func survivesCorruption() throws {
    let original = try Data(contentsOf: fixtures.appendingPathComponent("python_written.safetensors"))
    var rng = SeededRandom(seed: 77)
    var refused = 0
    for trial in 0..<3000 {
      var bytes = [UInt8](original)
      switch trial % 3 {
      case 0: bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count))))  // truncate
      case 1:  // flip a few bytes, mostly in the header
        for _ in 0..<(1 + Int(rng.next() % 4)) {
          let i = Int(rng.next() % UInt64(min(bytes.count, 400)))
          bytes[i] = UInt8(truncatingIfNeeded: rng.next())
        }
      default:  // a huge or off-by-one header length
        let n = [UInt64.max, 1 << 40, UInt64(bytes.count), UInt64(rng.next() % 600)][trial % 4]
        withUnsafeBytes(of: n.littleEndian) { for k in 0..<8 { bytes[k] = $0[k] } }
      }
      do { _ = try Safetensors.decode(Data(bytes), path: "fuzz") } catch { refused += 1 }
    }
    #expect(refused > 1500)
  }
}
