import ArgumentParser
import EKDData
import EKDLayers
import EKDHand
import EKDLosses
import EKDModels
import EKDTraining
import EKDTensor
import Foundation

/// Options every training command shares.
struct TrainingOptions: ParsableArguments {
  @Option(help: "Student: \(StudentZoo.names.joined(separator: ", ")).") var student = "tiny"
  @Option(help: "Training steps.") var steps = 1500
  @Option(help: "Batch size.") var batch = 32
  @Option(help: "Peak learning rate (Adam).") var lr: Float = 2e-3
  @Option(help: "Learning-rate schedule after the warm-up: cosine or step.") var schedule = LearningRateSchedule.cosine
  @Option(help: "Steps of linear learning-rate warm-up.") var warmup = 0
  @Option(help: "Weight of the heatmap term (KL to Gaussian targets) in the student's own loss; 0 turns it off.") var lambdaHeatmap: Float = 0
  @Option(help: "σ of the Gaussian heatmap targets, in heatmap pixels.") var heatmapSigma: Float = 1
  @Option(help: "λ1, the weight of Loss_θ.") var lambdaAngle: Float = 1
  @Option(help: "λ2, the weight of Loss_off.") var lambdaOffset: Float = 1
  @Option(help: "λ3, the weight of Loss_pos_mod.") var lambdaModified: Float = 1
  @Option(help: "The teacher's λs are 0 before this step.") var teacherStart = 0
  @Option(help: "…then ramp linearly to full over this many steps.") var teacherRamp = 0
  @Option(help: "Seed (weights, data order, augmentation).") var seed: UInt64 = 0
  @Option(help: "Threads.") var threads = 2
  @Option(help: "Student input size (default: the student's).") var input: Int?
  @Option(help: "Bounds file (default: computed from the training split).") var bounds: String?
  @Flag(help: "Train without augmentation.") var noAugment = false

  func configuration(mode: TrainingMode, dataset: String) throws -> TrainingConfiguration {
    var c = TrainingConfiguration()
    (c.student, c.inputSize, c.mode, c.steps, c.batchSize) = (student, input, mode, steps, batch)
    (c.learningRate, c.schedule, c.warmupSteps, c.seed, c.threads, c.augment, c.dataset) = (lr, schedule, warmup, seed, threads, !noAugment, dataset)
    (c.lambdaHeatmap, c.heatmapSigma) = (lambdaHeatmap, heatmapSigma)
    (c.lambdaAngle, c.lambdaOffset, c.lambdaModified, c.teacherStart, c.teacherRamp) = (lambdaAngle, lambdaOffset, lambdaModified, teacherStart, teacherRamp)
    do { try c.validate() } catch { throw CommandFailure(error.description) }
    return c
  }

  func angleBounds(_ train: any SampleSource) throws -> AngleBounds {
    if let bounds { return try readBounds(bounds) }
    FileHandle.standardError.write(Data("computing angle bounds from \(train.count) training labels…\n".utf8))
    do { return try BoundsFromLabels.compute(train) } catch { throw CommandFailure(error.description) }
  }
}

/// Bounds from a split's labels alone (no images decoded).
enum BoundsFromLabels {
  static func compute(_ source: any SampleSource) throws(DatasetError) -> AngleBounds {
    var poses: [[Vector3<Double>]] = []
    for i in 0..<source.count { poses.append(try source.pose(i)) }
    return AngleBounds(poses: poses, dataset: source.name)
  }
}

/// Trains one student and reports it on the validation split.
func trainOne(_ config: TrainingConfiguration, train: any SampleSource, val: (any SampleSource)?, bounds: AngleBounds,
              out: String, resume: Bool) throws -> Trainer {
  let trainer: Trainer
  do {
    if resume && FileManager.default.fileExists(atPath: out + "/checkpoint.safetensors") {
      trainer = try Trainer.resume(from: out, train: train)
      guard trainer.configuration == config else {
        throw CommandFailure("\(out): holds a checkpoint of another configuration; remove it or choose another --out")
      }
      FileHandle.standardError.write(Data("resuming \(out) at step \(trainer.step)\n".utf8))
    } else {
      trainer = try Trainer(configuration: config, train: train, bounds: bounds)
    }
  } catch let e as CommandFailure { throw e } catch { throw CommandFailure("\(error)") }
  let progress = Progress(total: config.steps, label: "\(config.student)/\(config.mode.rawValue)")
  var last: [String: Float] = [:]
  do {
    try trainer.run(checkpointDirectory: out) { r in
      last = Dictionary(uniqueKeysWithValues: r.terms.map { ($0.key.rawValue, $0.value) })
      let terms = LossTerm.allCases.filter { $0 != .total }.compactMap { k in r.terms[k].map { "\(k.rawValue) \(String(format: "%.3f", $0))" } }
      progress.update(r.step, detail: terms.joined(separator: " ") + String(format: " w %.2f %.0f img/s", r.invalidFraction, r.imagesPerSecond))
    }
  } catch { throw CommandFailure(error.description) }
  progress.finish()
  if let val {
    let (m, _) = try evaluate(trainer.student, source: val, bounds: bounds, threads: config.threads, label: "validate")
    try? Report.writeJSON(["split": "val", "metrics": m.report, "last_terms": last], to: out + "/validation.json")
    print(String(format: "%@/%@ validation: 3D AUC %.3f, EPE %.1f mm, V.F. %.4f", config.student, config.mode.rawValue, m.auc3D, m.meanError, m.violationFrequency))
  }
  return trainer
}

func evaluate(_ student: Student, source: any SampleSource, bounds: AngleBounds, threads: Int, label: String,
              keepWorst: Int = 0) throws -> (MetricAccumulator, [Evaluator.Prediction]) {
  let progress = Progress(total: (source.count + 31) / 32, label: label)
  defer { progress.finish() }
  do {
    return try Evaluator.evaluate(student, source: source, bounds: bounds, threads: threads, keepWorst: keepWorst) { done, _ in progress.update(done) }
  } catch { throw CommandFailure(error.description) }
}

/// `ekd train`: one batch training job.
struct TrainCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train", abstract: "Train a student in one of the paper's modes (baseline, theta, op, full), with checkpoints.")

  @Option(help: "baseline, theta (+Loss_θ), op (+Loss_off +Loss_pos_mod) or full (EKD).") var mode = TrainingMode.full
  @OptionGroup var data: DatasetOptions
  @OptionGroup var options: TrainingOptions
  @Option(help: "Output directory (checkpoint, reports).") var out = "runs/train"
  @Flag(help: "Continue from OUT/checkpoint.safetensors if it exists.") var resume = false

  func run() throws {
    var trainOptions = data
    trainOptions.split = "train"
    var valOptions = data
    valOptions.split = "val"
    let train = try trainOptions.source(), val = try? valOptions.source()
    let bounds = try options.angleBounds(train)
    _ = try trainOne(try options.configuration(mode: mode, dataset: data.dataset), train: train, val: val, bounds: bounds, out: out, resume: resume)
    print("checkpoint: \(out)/checkpoint.safetensors")
  }
}

/// `ekd eval`: metrics of a checkpoint on a split, with plots.
struct EvalCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "eval", abstract: "Evaluate a checkpoint: 3D AUC (20–50 mm), PCK, EPE, 2D AUC, V.F.; writes JSON, a PCK plot and the worst predictions.")

  @Option(help: "Checkpoint directory or .safetensors file from `ekd train`.") var checkpoint: String
  @OptionGroup var data: DatasetOptions
  @Option(help: "Report path (JSON); the plot and picture go beside it.") var out: String?

  func run() throws {
    var split = data
    if split.split == "train" { split.split = "test" }
    let (config, bounds, contents) = try checkpointParts(checkpoint)
    let student = try studentFrom(config, contents)
    let (m, worst) = try evaluate(student, source: try split.source(), bounds: bounds, threads: config.threads, label: "eval", keepWorst: 6)
    printTable([(config.student + "/" + config.mode.rawValue, m)])
    let report = out ?? (checkpoint.hasSuffix(".safetensors") ? URL(fileURLWithPath: checkpoint).deletingLastPathComponent().path : checkpoint) + "/eval-\(split.split).json"
    try Report.writeJSON(["checkpoint": checkpoint, "split": split.split, "dataset": split.describe()].merging(m.report) { a, _ in a }, to: report)
    let base = report.hasSuffix(".json") ? String(report.dropLast(5)) : report
    try AtomicFile.write(Data(Report.pckSVG([(config.mode.rawValue, m.pckCurve)]).utf8), to: URL(fileURLWithPath: base + "-pck.svg"))
    if let picture = Report.worstPredictions(worst) { try picture.writePNG(to: base + "-worst.png") }
    print("wrote \(report), \(base)-pck.svg" + (worst.isEmpty ? "" : ", \(base)-worst.png"))
  }
}

func checkpointParts(_ path: String) throws -> (TrainingConfiguration, AngleBounds, Safetensors.Contents) {
  do { return try Trainer.readCheckpoint(path) } catch { throw CommandFailure(error.description) }
}

func studentFrom(_ config: TrainingConfiguration, _ contents: Safetensors.Contents) throws -> Student {
  let student: Student
  do { student = try StudentZoo.make(config.student, inputSize: config.inputSize) } catch { throw CommandFailure(error.description) }
  for (name, p) in student.namedParameters {
    guard let t = contents.tensors["student." + name], t.shape == p.shape else { throw CommandFailure("checkpoint lacks student.\(name)") }
    p.value = t
  }
  return student
}

func printTable(_ rows: [(String, MetricAccumulator)]) {
  print("model                       3D AUC    V.F.     EPE mean  EPE median  2D AUC  invalid samples")
  for (name, m) in rows {
    print(name.padding(toLength: 26, withPad: " ", startingAt: 0)
      + String(format: "  %.3f   %.4f   %6.1f mm  %6.1f mm   %.3f   %.3f", m.auc3D, m.violationFrequency, m.meanError, m.medianError, m.auc2D, m.invalidSampleFraction))
  }
}

/// `ekd ablation`: the paper's Table 1 — modes × seeds, mean ± std on the test split.
struct AblationCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ablation", abstract: "Train every mode with several seeds and report 3D AUC / V.F. (mean ± std) on the test split.")

  @Option(help: "Modes, comma-separated.") var modes = "baseline,theta,op,full"
  @Option(help: "Number of seeds per mode.") var seeds = 3
  @OptionGroup var data: DatasetOptions
  @OptionGroup var options: TrainingOptions
  @Option(help: "Output directory.") var out = "runs/ablation"

  func run() throws {
    var d = data
    d.split = "train"
    let train = try d.source()
    d.split = "val"
    let val = try? d.source()
    d.split = "test"
    let test = try d.source()
    let bounds = try options.angleBounds(train)
    try? FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    try AtomicFile.write(bounds.jsonData(), to: URL(fileURLWithPath: out + "/bounds.json"))
    var results: [String: [(auc: Double, vf: Double, epe: Double, curve: [(threshold: Double, pck: Double)])]] = [:]
    var reports: [[String: Any]] = []
    let modeList = try modes.split(separator: ",").map { m -> String in
      guard TrainingMode(rawValue: String(m)) != nil else { throw CommandFailure("--modes: unknown mode '\(m)'; choose from baseline, theta, op, full") }
      return String(m)
    }
    for mode in modeList {
      for s in 0..<seeds {
        var opts = options
        opts.seed = options.seed + UInt64(s)
        let dir = "\(out)/\(mode)-seed\(opts.seed)"
        let trainer = try trainOne(try opts.configuration(mode: TrainingMode(rawValue: mode)!, dataset: data.dataset), train: train, val: val, bounds: bounds, out: dir, resume: true)
        let (m, worst) = try evaluate(trainer.student, source: test, bounds: bounds, threads: options.threads, label: "test", keepWorst: 6)
        results[mode, default: []].append((m.auc3D, m.violationFrequency, m.meanError, m.pckCurve))
        reports.append(["mode": mode, "seed": opts.seed, "test": m.report])
        try Report.writeJSON(["mode": mode, "seed": opts.seed, "split": "test", "metrics": m.report], to: dir + "/test.json")
        if let picture = Report.worstPredictions(worst) { try picture.writePNG(to: dir + "/worst-test.png") }
      }
    }
    func stats(_ v: [Double]) -> (Double, Double) {
      let mean = v.reduce(0, +) / Double(v.count)
      return (mean, v.count > 1 ? (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(v.count - 1)).squareRoot() : 0)
    }
    print("\n\(options.student) on \(data.describe().replacingOccurrences(of: "[train]", with: "")) — test split, \(seeds) seed(s), \(options.steps) steps")
    print("mode        3D AUC            V.F.               EPE mean (mm)")
    var table: [[String: Any]] = []
    for mode in modeList {
      let r = results[mode] ?? []
      let (a, sa) = stats(r.map(\.auc)), (v, sv) = stats(r.map(\.vf)), (e, se) = stats(r.map(\.epe))
      print(mode.padding(toLength: 10, withPad: " ", startingAt: 0) + String(format: "  %.3f ± %.3f   %.4f ± %.4f   %.1f ± %.1f", a, sa, v, sv, e, se))
      table.append(["mode": mode, "auc_3d_mean": a, "auc_3d_std": sa, "vf_mean": v, "vf_std": sv, "epe_mean_mm": e, "epe_std_mm": se, "runs": r.count])
    }
    try Report.writeJSON(["student": options.student, "steps": options.steps, "seeds": seeds, "table": table, "runs": reports], to: out + "/ablation.json")
    let curves = modeList.map { mode -> (label: String, points: [(threshold: Double, pck: Double)]) in
      let r = results[mode] ?? []
      let points = (0...50).map { t in (Double(t), r.map { $0.curve[t].pck }.reduce(0, +) / Double(max(r.count, 1))) }
      return ("\(mode) (AUC \(String(format: "%.3f", stats(r.map(\.auc)).0)))", points)
    }
    try AtomicFile.write(Data(Report.pckSVG(curves).utf8), to: URL(fileURLWithPath: out + "/pck.svg"))
    print("\nreport: \(out)/ablation.json; PCK plot: \(out)/pck.svg; worst angle-violating test predictions: \(out)/<mode>-seed<k>/worst-test.png")
  }
}

extension TrainingMode: ExpressibleByArgument {}
extension LearningRateSchedule: ExpressibleByArgument {}
