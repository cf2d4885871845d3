import EKDData
import EKDHand
import EKDInference
import EKDLayers
import EKDLosses
import EKDModels
import EKDONNX
import EKDTensor
import EKDTraining
import Foundation

/// Per student: MACs, parameters, inference and training throughput, peak
/// memory, and GFLOP/s against the machine's sgemm peak; optionally beside the
/// PyTorch twins of Benchmarks/peers/torch_students.py, run in the same process tree.
enum ModelSuite {
  struct Row {
    var name: String, input: Int, macs: Int, parameters: Int
    var inferB1: Double, inferB: Double, train: Double, trainTeacher: Double
    /// Training with `threads` in-process replicas of one thread each (`ekd train --workers`), and its peak memory.
    var trainReplicas: Double, replicas: Int, replicasPeakMiB: Double
    var peakMiB: Double
    var profile: [(String, Double, Double)]
    /// Inference at batch B through the plan: seconds per node (median of three profiled runs), kind.
    var inferenceProfile: [(String, Double)] = []
    /// The same at batch 1, where ops share out inside an image.
    var inferenceProfileB1: [(String, Double)] = []
    /// The costliest conv layers, timed one by one (forward, batch B): path, kind, seconds, MACs per image.
    var layers: [(String, String, Double, Int)] = []
    var torch: [String: Any]?

    func json(batch: Int, peak: Double) -> [String: Any] {
      var j: [String: Any] = [
        "name": name, "input": input, "macs": macs, "params": parameters,
        "infer_b1_ips": inferB1, "infer_b\(batch)_ips": inferB, "train_ips": train, "train_teacher_ips": trainTeacher,
        "train_replicas_ips": trainReplicas, "train_replicas": replicas, "train_replicas_peak_rss_mib": replicasPeakMiB,
        "infer_gflops": 2 * Double(macs) * inferB / 1e9, "infer_fraction_of_sgemm_peak": 2 * Double(macs) * inferB / 1e9 / peak,
        "peak_rss_mib": peakMiB,
        "profile": profile.map { ["op": $0.0, "forward_ms": $0.1 * 1000, "backward_ms": $0.2 * 1000] },
        "inference_profile": inferenceProfile.map { ["node": $0.0, "ms": $0.1 * 1000] },
        "inference_profile_b1": inferenceProfileB1.map { ["node": $0.0, "ms": $0.1 * 1000] },
        "layers": layers.map { ["layer": $0.0, "kind": $0.1, "forward_ms": $0.2 * 1000, "macs": $0.3, "gflops": 2 * Double($0.3 * batch) / $0.2 / 1e9] },
      ]
      if let torch { j["torch"] = torch }
      return j
    }
  }

  /// Resets the kernel's peak-RSS counter for this process (Linux), so each
  /// student's peak is its own.
  static func resetPeakMemory() {
    if let h = FileHandle(forWritingAtPath: "/proc/self/clear_refs") {
      h.write(Data("5".utf8))
      try? h.close()
    }
  }

  static var peakMemoryMiB: Double {
    guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
      let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
      let kb = Double(line.split(separator: " ").dropFirst().first ?? "")
    else { return Harness.peakResidentMiB }
    return kb / 1024
  }

  /// A synthetic batch with plausible labels (a hand 400 mm away, seen by a
  /// 1.2·S focal length): throughput does not depend on the content.
  static func batch(size: Int, count: Int, rng: inout SeededRandom) -> Batch {
    var xyz: [Float] = [], uv: [Float] = [], k: [Float] = []
    let f = 1.2 * Float(size), c = Float(size - 1) / 2
    for _ in 0..<count {
      for j in 0..<21 {
        let p = (Float(j % 5) * 15 - 30 + rng.nextNormal(), Float(j / 5) * -20 + 20 + rng.nextNormal(), 400 + Float(j % 3) * 10)
        xyz += [p.0, p.1, p.2]
        uv += [f * p.0 / p.2 + c, f * p.1 / p.2 + c]
      }
      k += [f, 0, c, 0, f, c, 0, 0, 1]
    }
    return Batch(
      images: Tensor.randomNormal([count, 3, size, size], using: &rng), uv: Tensor(shape: [count, 21, 2], scalars: uv),
      xyz: Tensor(shape: [count, 21, 3], scalars: xyz), intrinsics: Tensor(shape: [count, 3, 3], scalars: k))
  }

  static func run(students: [String], inputs: [String: Int], threads: Int, batch: Int, repetitions: Int) throws -> [Row] {
    var rows: [Row] = []
    for name in students {
      // The previous student's freed blocks are the pool's, not this student's: a
      // process that runs only this student would not hold them.
      BufferPool.shared.drain()
      resetPeakMemory()
      let student = try StudentZoo.make(name, inputSize: inputs[name])
      let size = student.inputSize
      let summary = try ModelSummary(student, inputSize: size)
      var rng = SeededRandom(seed: 11)
      let one = Tensor.randomNormal([1, 3, size, size], using: &rng)
      let many = Tensor.randomNormal([batch, 3, size, size], using: &rng)
      // Validate before timing: the forward output has the predicted shape and is finite.
      let check = student(Tape(mode: .inference, threads: threads).constant(one)).value
      precondition(check.shape == summary.output && check.scalars.allSatisfy(\.isFinite), "\(name): bad forward output")
      let reps = summary.macs > 10_000_000_000 ? max(1, repetitions / 2) : repetitions
      // Inference as `ekd predict` and `ekd eval` run it: the student's InferencePlan
      // (batch norm folded, ReLU fused into the convs, no tape).
      let plan = try InferencePlan(student)
      let inferB1 = Harness.median(repetitions: reps) { _ = plan.run(one, threads: threads) }.median
      let inferB = Harness.median(repetitions: reps) { _ = plan.run(many, threads: threads) }.median
      func profile(_ input: Tensor, runs: Int) -> [(String, Double)] {
        let runs = (0..<runs).map { _ in plan.profile(input, threads: threads) }
        return runs[0].indices.map { i in (runs[0][i].kind, runs.map { $0[i].seconds }.sorted()[runs.count / 2]) }
      }
      let inferenceProfile = profile(many, runs: 3)
      let inferenceProfileB1 = profile(one, runs: 9)

      let data = self.batch(size: size, count: batch, rng: &rng)
      let bounds = AngleBounds(lower: [Double](repeating: -0.5, count: 20), upper: [Double](repeating: 0.9, count: 20), dataset: "bench", sampleCount: 0)
      // The very step `ekd train` runs (Trainer.step), in the baseline and in full EKD
      // with the teacher on from the first step; one trainer at a time, so the peak
      // memory is one training run's.
      func configuration(_ mode: TrainingMode) -> TrainingConfiguration {
        var c = TrainingConfiguration()
        (c.student, c.inputSize, c.mode, c.batchSize, c.threads, c.learningRate) = (name, size, mode, batch, threads, 1e-4)
        (c.warmupSteps, c.teacherStart, c.teacherRamp) = (0, 0, 0)
        return c
      }
      func timeSteps(_ mode: TrainingMode, profile: Bool) throws -> (seconds: Double, profile: [String: Tape.OpProfile]) {
        let trainer = try Trainer(configuration: configuration(mode), train: SyntheticStream(count: batch, seed: 0, size: size), bounds: bounds)
        func step() {
          do { try trainer.step(data) } catch { fatalError("\(name): training step failed: \(error)") }
        }
        let seconds = Harness.median(repetitions: reps) { step() }.median
        trainer.profileNextStep = profile
        if profile { step() }
        return (seconds, trainer.lastProfile ?? [:])
      }
      let (train, lastProfile) = try timeSteps(.baseline, profile: true)
      let trainTeacher = try timeSteps(.full, profile: false).seconds
      let peak = peakMemoryMiB
      // The same baseline step as `ekd train --workers T` takes it: T replicas, one thread
      // each, each on batch / T images, synchronised batch norm, gradients summed.
      let replicas = batch % threads == 0 ? threads : 1
      resetPeakMemory()
      let parallel = try LocalDataParallel(
        (0..<replicas).map { _ in try Trainer(configuration: configuration(.baseline), train: SyntheticStream(count: batch, seed: 0, size: size), bounds: bounds) })
      let shards = (0..<replicas).map { r in data.slice(r * batch / replicas..<(r + 1) * batch / replicas) }
      let trainReplicas = Harness.median(repetitions: reps) {
        do { try parallel.step(shards) } catch { fatalError("\(name): data-parallel training step failed: \(error)") }
      }.median
      let profile = lastProfile.map { ($0.key, $0.value.forward, $0.value.backward) }.sorted { $0.1 + $0.2 > $1.1 + $1.2 }
      // Caffe-time style: the costliest convs, each timed alone at its traced input shape.
      var layerTimes: [(String, String, Double, Int)] = []
      for t in summary.rows.filter({ $0.layer != nil }).sorted(by: { $0.macs > $1.macs }).prefix(8) {
        var shape = t.input
        shape[0] = batch
        let x = Tensor.randomNormal(shape, using: &rng)
        let secs = Harness.median(repetitions: reps) { _ = t.layer!(Tape(mode: .inference, threads: threads).constant(x)) }.median
        layerTimes.append((t.path, t.kind, secs, t.macs))
      }
      rows.append(
        Row(
          name: name, input: size, macs: summary.macs, parameters: summary.parameters,
          inferB1: 1 / inferB1, inferB: Double(batch) / inferB, train: Double(batch) / train,
          trainTeacher: Double(batch) / trainTeacher, trainReplicas: Double(batch) / trainReplicas, replicas: replicas,
          replicasPeakMiB: peakMemoryMiB, peakMiB: peak, profile: profile, inferenceProfile: inferenceProfile, inferenceProfileB1: inferenceProfileB1,
          layers: layerTimes))
      print("  \(name): done", to: &standardError)
    }
    return rows
  }

  /// Whether `python` exists to run the peers; if not, says so (once, by the caller).
  static func peersInstalled(python: String) -> Bool {
    guard FileManager.default.isExecutableFile(atPath: python) else {
      print("PyTorch side-by-side skipped: \(python) not found (run `make peers` to create the venv)")
      return false
    }
    return true
  }

  /// Runs the PyTorch twins (`python` as `peersInstalled` found it); nil if they fail.
  static func torch(python: String, rows: [Row], threads: Int, batch: Int, repetitions: Int) -> [String: [String: Any]]? {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("peers/torch_students.py")
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("ekd-peers-\(getpid())")
    try? FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: work) }
    let out = work.appendingPathComponent("torch.json")
    // Our own graphs for ONNX Runtime: `ekd export` of each student (weights do not matter for speed).
    var exported: [String] = []
    for r in rows {
      guard let student = try? StudentZoo.make(r.name, inputSize: r.input), let bytes = try? StudentExport.onnx(student) else { continue }
      let file = work.appendingPathComponent("ekd-\(r.name).onnx")
      if (try? Data(bytes).write(to: file)) != nil { exported.append("\(r.name)=\(file.path)") }
    }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: python)
    p.arguments = [
      script.path, "--students", rows.map(\.name).joined(separator: ","),
      "--sizes", rows.map { "\($0.name)=\($0.input)" }.joined(separator: ","),
      "--threads", "\(threads)", "--batch", "\(batch)", "--reps", "\(repetitions)", "--out", out.path,
      "--ekd-onnx", exported.joined(separator: ","), "--workdir", work.path,
    ]
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    var env = ProcessInfo.processInfo.environment
    env["OMP_NUM_THREADS"] = "\(threads)"
    p.environment = env
    guard (try? p.run()) != nil else { return nil }
    p.waitUntilExit()
    guard p.terminationStatus == 0, let data = try? Data(contentsOf: out),
      let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let students = json["students"] as? [String: [String: Any]]
    else {
      print("PyTorch side-by-side failed (exit \(p.terminationStatus))")
      return nil
    }
    return students
  }

  static func printTable(_ rows: [Row], batch: Int, peak: Double) {
    func f(_ x: Double, _ d: Int = 1) -> String { Harness.format(x, d) }
    print("students (images/s, median; GFLOP/s = 2·MACs·images/s; peak = sgemm \(f(peak)) GFLOP/s):")
    let cols = ["student", "input", "GMACs", "params(M)", "infer b1", "infer b\(batch)", "GFLOP/s", "% peak", "train", "train+EKD", "peak MiB", "train dp", "dp MiB"]
    print(cols.enumerated().map { Harness.pad($1, $0 == 0 ? 14 : 10, right: $0 == 0) }.joined(separator: " "))
    for r in rows {
      let gf = 2 * Double(r.macs) * r.inferB / 1e9
      let cells = [
        r.name, "\(r.input)", f(Double(r.macs) / 1e9, 3), f(Double(r.parameters) / 1e6, 2), f(r.inferB1, 2), f(r.inferB, 2),
        f(gf), f(100 * gf / peak), f(r.train, 2), f(r.trainTeacher, 2), f(r.peakMiB, 0),
        f(r.trainReplicas, 2), f(r.replicasPeakMiB, 0),
      ]
      print(cells.enumerated().map { Harness.pad($1, $0 == 0 ? 14 : 10, right: $0 == 0) }.joined(separator: " "))
    }
    if rows.contains(where: { $0.torch != nil }) {
      print("beside PyTorch and ONNX Runtime (same threads, batch, input; images/s, ratios ours / peer).")
      print("ORT = the PyTorch twin exported by torch.onnx; ORT(ekd) = our own `ekd export` of the student, decode included:")
      let heads = [
        "student", "fvcore MACs", "ours MACs", "b1 ours", "b1 torch", "b1 ORT", "b1 ORT(ekd)", "/torch", "/ORT",
        "b\(batch) ours", "b\(batch) torch", "b\(batch) ORT", "b\(batch) ORT(ekd)", "/torch", "/ORT", "train", "train dp", "torch", "/torch",
        "dp/torch", "MiB", "torch MiB",
      ]
      print(heads.enumerated().map { Harness.pad($1, $0 == 0 ? 14 : 11, right: $0 == 0) }.joined(separator: " "))
      for r in rows {
        guard let t = r.torch else { continue }
        func v(_ key: String) -> Double { t[key] as? Double ?? .nan }
        let (tb1, tb, tt) = (v("infer_b1_ips"), v("infer_b\(batch)_ips"), v("train_ips"))
        let (ob1, ob, eb1, eb) = (v("ort_b1_ips"), v("ort_b\(batch)_ips"), v("ort_ekd_b1_ips"), v("ort_ekd_b\(batch)_ips"))
        let cells = [
          r.name, "\(t["fvcore_macs"] ?? "-")", "\(r.macs)", f(r.inferB1, 2), f(tb1, 2), f(ob1, 2), f(eb1, 2), f(r.inferB1 / tb1, 2),
          f(r.inferB1 / ob1, 2), f(r.inferB, 2), f(tb, 2), f(ob, 2), f(eb, 2), f(r.inferB / tb, 2), f(r.inferB / ob, 2), f(r.train, 2), f(r.trainReplicas, 2),
          f(tt, 2), f(r.train / tt, 2), f(r.trainReplicas / tt, 2), f(r.peakMiB, 0), f(v("peak_rss_mib"), 0),
        ]
        print(cells.enumerated().map { Harness.pad($1, $0 == 0 ? 14 : 11, right: $0 == 0) }.joined(separator: " "))
        for key in ["ort_error", "ort_ekd_error"] { if let e = t[key] { print("  \(r.name) \(key): \(e)") } }
      }
    }
    for r in rows {
      let total = r.profile.reduce(0) { $0 + $1.1 + $1.2 }
      let top = r.profile.prefix(6).map { "\($0.0.split(separator: "(").first ?? "") \(f(100 * ($0.1 + $0.2) / max(total, 1e-9), 0))%" }
      print("profile \(r.name) training step: " + top.joined(separator: ", "))
      // Inference: share per kind of node (its first word), then the costliest nodes.
      for (b, nodes) in [(batch, r.inferenceProfile), (1, r.inferenceProfileB1)] {
        let inferTotal = nodes.reduce(0) { $0 + $1.1 }
        var byKind: [String: Double] = [:]
        for (kind, secs) in nodes { byKind[String(kind.split(separator: " ").first ?? ""), default: 0] += secs }
        let kinds = byKind.sorted { $0.value > $1.value }.prefix(5).map { "\($0.key) \(f(100 * $0.value / max(inferTotal, 1e-9), 0))%" }
        print("profile \(r.name) inference, batch \(b), one thread group: \(f(inferTotal * 1000, 2)) ms; " + kinds.joined(separator: ", "))
        for (kind, secs) in nodes.sorted(by: { $0.1 > $1.1 }).prefix(b == 1 ? 8 : 4) {
          print("    \(Harness.pad(kind, 62, right: true)) \(f(secs * 1000, 3)) ms")
        }
      }
      for (path, kind, secs, macs) in r.layers {
        print("    \(Harness.pad(path, 28, right: true)) \(Harness.pad(kind, 34, right: true)) \(f(secs * 1000, 2)) ms  \(f(2 * Double(macs * batch) / secs / 1e9)) GFLOP/s")
      }
    }
  }
}

var standardError = FileHandle.standardError
extension FileHandle: @retroactive TextOutputStream {
  public func write(_ string: String) { write(Data(string.utf8)) }
}
