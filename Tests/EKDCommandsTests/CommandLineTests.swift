import Foundation
import Testing

/// The `ekd` binary, run as a user runs it: arguments in, stdout, stderr and exit code out.
struct EKDProcess {
  static let binary: URL = {
    let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    // The test runner sits next to the package's executables (.build/<triple>/<config>/).
    for candidate in [dir, dir.deletingLastPathComponent()] where FileManager.default.isExecutableFile(atPath: candidate.appendingPathComponent("ekd").path) {
      return candidate.appendingPathComponent("ekd")
    }
    return dir.appendingPathComponent("ekd")
  }()

  static func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let p = Process()
    p.executableURL = binary
    p.arguments = arguments
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
  }
}

func scratchFile(_ name: String, _ contents: String) throws -> String {
  let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ekd-cli-\(getpid())")
  try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  let url = dir.appendingPathComponent(name)
  try contents.write(to: url, atomically: true, encoding: .utf8)
  return url.path
}

/// A flat right hand (all angles zero) and the same hand with its index PIP bent 90°,
/// written out by hand: wrist at the origin, MCPs at y = −80, fingers along −y.
let flatHand: [[Double]] = {
  var j = [[Double]](repeating: [0, 0, 0], count: 21)
  let bases: [[Double]] = [[45, -20, 0], [30, -80, 0], [10, -80, 0], [-10, -80, 0], [-30, -80, 0]]
  for f in 0..<5 {
    for k in 0..<4 { j[1 + 4 * f + k] = [bases[f][0], bases[f][1] - 25 * Double(k), 0] }
  }
  return j
}()

func json(_ poses: [[[Double]]]) -> String {
  "[" + poses.map { "[" + $0.map { "[\($0[0]), \($0[1]), \($0[2])]" }.joined(separator: ",") + "]" }.joined(separator: ",") + "]"
}

@Suite(.serialized) struct AngleCommandLine {
  @Test func anglesOfConstructedPoses() throws {
    var bent = flatHand
    bent[7] = [30, -105, -25]  // index DIP straight out of the palm: PIP bent 90°
    bent[8] = [30, -105, -50]
    let path = try scratchFile("poses.json", json([flatHand, bent]))
    let r = try EKDProcess.run(["angles", "--poses", path])
    #expect(r.status == 0, "\(r.stderr)")
    let rows = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
    #expect(rows.count == 2)
    let f0 = try #require(rows[0]["f"] as? [Double]), f1 = try #require(rows[1]["f"] as? [Double])
    #expect(f0.count == 20 && rows[0]["loss_theta"] == nil)
    for i in 0..<20 { #expect(abs(f0[i] - (i % 4 >= 2 ? 1 : 0)) < 1e-9) }
    #expect(abs(f1[6]) < 1e-9)  // cos θ2 of the index = 0
    let deg = try #require(rows[1]["degrees"] as? [Double])
    #expect(abs(deg[6] - 90) < 1e-6)
  }

  @Test func boundsThenAnglesWithBounds() throws {
    var bent = flatHand
    bent[7] = [30, -105, -25]
    bent[8] = [30, -105, -50]
    let flatPath = try scratchFile("flat.json", json([flatHand]))
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("ekd-cli-\(getpid())/bounds.json").path
    let b = try EKDProcess.run(["bounds", "--poses", flatPath, "--out", out])
    #expect(b.status == 0, "\(b.stderr)")
    let file = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])
    #expect(file["samples"] as? Int == 1 && (file["bounds"] as? [[Double]])?.count == 20)
    let both = try scratchFile("both.json", json([flatHand, bent]))
    let r = try EKDProcess.run(["angles", "--poses", both, "--bounds", out])
    let rows = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
    #expect(rows[0]["invalid"] as? Bool == false && rows[0]["loss_theta"] as? Double == 0)
    // Bounds from the flat hand alone allow cos θ2 = 1 only: the bent index overshoots by 1 (its θ3 stays 1).
    #expect(rows[1]["invalid"] as? Bool == true)
    #expect(abs((rows[1]["loss_theta"] as? Double ?? 0) - 1) < 1e-9)
  }

  /// train → export: the ONNX file is written whole (ModelProto bytes naming the graph's
  /// input and output), and `ekd` says where.
  @Test func exportWritesTheTrainedStudent() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ekd-cli-\(getpid())/export").path
    let t = try EKDProcess.run(["train", "--student", "tiny", "--mode", "baseline", "--steps", "2", "--batch", "4", "--threads", "1", "--out", dir])
    #expect(t.status == 0, "\(t.stderr)")
    let r = try EKDProcess.run(["export", "--checkpoint", dir, "--onnx", dir + "/tiny.onnx"])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.hasPrefix("wrote \(dir)/tiny.onnx"))
    let bytes = try Data(contentsOf: URL(fileURLWithPath: dir + "/tiny.onnx"))
    #expect(bytes.first == 0x08)  // field 1 (ir_version), varint
    let text = String(decoding: bytes, as: UTF8.self)
    #expect(text.contains("crops") && text.contains("uvz") && text.contains("ekd_tiny"))
  }

  @Test(
    arguments: [
      ("missing", nil, "no such file"),
      ("bad.json", "[[1, 2", "not valid JSON"),
      ("short.json", "[[" + String(repeating: "[0,0,0],", count: 19) + "[0,0,0]]]", "pose 0 has 20 joints, expected 21"),
      ("flat2d.json", "[[" + String(repeating: "[0,0],", count: 20) + "[0,0]]]", "pose 0 joint 0 is not [x, y, z]"),
      ("object.json", "{\"poses\": []}", "expected a JSON array of poses"),
    ] as [(String, String?, String)])
  func badInputIsOneLineOnStderrAndExitTwo(name: String, contents: String?, problem: String) throws {
    let path = try contents.map { try scratchFile(name, $0) } ?? "/nonexistent/\(name).json"
    for args in [["angles", "--poses", path], ["bounds", "--poses", path, "--out", "/tmp/ekd-never-written.json"]] {
      let r = try EKDProcess.run(args)
      #expect(r.status == 2)
      #expect(r.stdout.isEmpty)
      #expect(r.stderr.hasPrefix("ekd: \(path): \(problem)"), "\(r.stderr)")
      #expect(r.stderr.split(separator: "\n").count == 1)
    }
    #expect(!FileManager.default.fileExists(atPath: "/tmp/ekd-never-written.json"))
  }
}

/// The CLI contract for every subcommand: bad input or a bad option is one
/// `ekd: <file or option>: <problem>` line on stderr and exit code 2 — never a
/// signal, never a Swift `Error:` line.
@Suite struct ErrorContract {
  static let missing = "/nonexistent/ekd-contract"

  static let cases: [(name: String, arguments: [String], mentions: String)] = [
    ("train bad option", ["train", "--steps", "many"], "--steps"),
    ("train bad schedule", ["train", "--schedule", "foo"], "--schedule"),
    ("train bad mode", ["train", "--mode", "nope"], "--mode"),
    ("train bad root", ["train", "--root", missing, "--steps", "1"], missing),
    ("train bad checkpoint config", ["train", "--steps", "0"], "steps"),
    ("train refuses --split", ["train", "--split", "test"], "--split"),
    ("train bad student", ["train", "--student", "mobilenet"], "mobilenet"),
    ("eval bad checkpoint", ["eval", "--checkpoint", missing], missing),
    ("eval bad split", ["eval", "--checkpoint", missing, "--split", "holdout"], "--split"),
    ("predict bad checkpoint", ["predict", "--checkpoint", missing, missing + ".png"], missing),
    ("predict bad box", ["predict", "--checkpoint", missing, "--box", "1,2,3", missing + ".png"], "--box"),
    ("predict bad hand", ["predict", "--checkpoint", missing, "--hand", "middle", missing + ".png"], "--hand"),
    ("export bad checkpoint", ["export", "--checkpoint", missing, "--onnx", "/tmp/ekd-never-written.onnx"], missing),
    ("export without --onnx", ["export", "--checkpoint", missing], "--onnx"),
    ("ablation bad modes", ["ablation", "--modes", "baseline,sideways"], "--modes"),
    ("ablation no modes", ["ablation", "--modes", ","], "--modes"),
    ("ablation bad root", ["ablation", "--root", missing, "--modes", "baseline", "--seeds", "1", "--steps", "1"], missing),
    ("reference bad root", ["reference", "--root", missing], missing),
    ("reference bad dataset", ["reference", "--dataset", "mnist"], "mnist"),
    ("synth bad count", ["synth", "--out", missing, "--count", "0"], "--count"),
    ("synth bad views", ["synth", "--out", missing, "--views", "sideways"], "--views"),
    ("bounds bad file", ["bounds", "--poses", missing, "--out", missing + ".json"], missing),
    ("angles bad file", ["angles", "--poses", missing], missing),
    ("info bad model", ["info", "mobilenet"], "mobilenet"),
    ("info huge input", ["info", "tiny", "--input", "4000000000"], "input size"),
    ("data inspect bad root", ["data", "inspect", "--dataset", "rhd", "--root", missing], missing),
    ("checkpoint inspect bad file", ["checkpoint", "inspect", missing], missing),
    ("unknown subcommand", ["fly"], "fly"),
  ]

  @Test(arguments: cases.map(\.name))
  func badInputExitsTwoWithOneLine(name: String) throws {
    let c = Self.cases.first { $0.name == name }!
    let r = try EKDProcess.run(c.arguments)
    #expect(r.status == 2, "\(c.arguments): status \(r.status), stderr \(r.stderr)")
    let lines = r.stderr.split(separator: "\n")
    #expect(lines.count == 1, "\(r.stderr)")
    #expect(r.stderr.hasPrefix("ekd: "), "\(r.stderr)")
    #expect(!r.stderr.contains("Error:") && !r.stderr.contains("crashed"), "\(r.stderr)")
    #expect(r.stderr.contains(c.mentions), "\(r.stderr) should name \(c.mentions)")
  }
}

/// Checkpoints survive a writer killed at any moment: a real `ekd train` that
/// checkpoints every step is SIGKILLed again and again, and after every kill the
/// checkpoint on disk is whole (it loads) and training resumes from it. (The `small`
/// student's checkpoint with Adam's moments is ~6 MB: a kill lands inside a write often,
/// so a writer that wrote in place would fail this test.)
@Suite(.serialized) struct KilledWriter {
  @Test func aKilledTrainingRunLeavesALoadableCheckpoint() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ekd-killed-\(getpid())").path
    try? FileManager.default.removeItem(atPath: dir)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let train = [
      "train", "--student", "small", "--input", "32", "--mode", "baseline", "--steps", "100000", "--batch", "2", "--count", "8",
      "--checkpoint-every", "1", "--threads", "1", "--resume", "--out", dir,
    ]
    var rng = SystemRandomNumberGenerator()
    var loaded = 0
    for round in 0..<12 {
      let p = Process()
      p.executableURL = EKDProcess.binary
      p.arguments = train
      p.standardOutput = FileHandle.nullDevice
      p.standardError = FileHandle.nullDevice
      try p.run()
      // The first run kills only once a checkpoint exists (start-up takes longer on a
      // loaded machine); then each kill lands at a random moment of the writes.
      let start = Date()
      while round == 0 && !FileManager.default.fileExists(atPath: dir + "/checkpoint.safetensors") && Date().timeIntervalSince(start) < 60 {
        usleep(10_000)
      }
      usleep(UInt32.random(in: 300_000...700_000, using: &rng))
      kill(p.processIdentifier, SIGKILL)
      p.waitUntilExit()
      guard FileManager.default.fileExists(atPath: dir + "/checkpoint.safetensors") else {
        Issue.record("no checkpoint after \(round + 1) runs")
        continue
      }
      let r = try EKDProcess.run(["checkpoint", "inspect", dir + "/checkpoint.safetensors"])
      #expect(r.status == 0, "round \(round): \(r.stderr)")
      loaded += 1
    }
    #expect(loaded >= 9)
  }
}
