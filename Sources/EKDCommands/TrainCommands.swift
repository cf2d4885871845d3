import ArgumentParser
import EKDData
import EKDDistributed
import EKDHand
import EKDLayers
import EKDLosses
import EKDModels
import EKDTensor
import EKDTraining
import Foundation

/// Options every training command shares.
struct TrainingOptions: ParsableArguments {
  @Option(help: "Student: \(StudentZoo.names.joined(separator: ", ")).") var student = "small"
  @Option(help: "Training steps.") var steps = 1500
  @Option(help: "Batch size.") var batch = 32
  @Option(help: "Peak learning rate (Adam).") var lr: Float = 3e-3
  @Option(help: "Learning-rate schedule after the warm-up: cosine or step.") var schedule = LearningRateSchedule.cosine
  @Option(help: "Steps of linear learning-rate warm-up.") var warmup = 100
  @Option(help: "Weight of the heatmap term (KL to Gaussian targets) in the student's own loss; 0 turns it off.") var lambdaHeatmap: Float = 1
  @Option(help: "σ of the Gaussian heatmap targets, in heatmap pixels.") var heatmapSigma: Float = 1
  @Option(help: "λ1, the weight of Loss_θ.") var lambdaAngle: Float = 1
  @Option(help: "λ2, the weight of Loss_off.") var lambdaOffset: Float = 1
  @Option(help: "λ3, the weight of Loss_pos_mod.") var lambdaModified: Float = 1
  @Option(help: "The teacher's λs are 0 before this step (default: half of --steps).") var teacherStart: Int?
  @Option(help: "…then ramp linearly to full over this many steps (default: a fifth of --steps).") var teacherRamp: Int?
  @Option(help: "Seed (weights, data order, augmentation).") var seed: UInt64 = 0
  @Option(help: "Threads.") var threads = 2
  @Option(
    help: ArgumentHelp(
      "Replicas of the student in this process, sharing --threads: each trains on 1/N of every batch, with synchronised batch norm.",
      discussion: "Data parallelism without MPI: on few cores it is faster than sharing each op between threads, most of all for small students."))
  var workers = 1
  @Option(help: "Student input size (default: the student's).") var input: Int?
  @Option(help: "Bounds file (default: computed from the training split).") var bounds: String?
  @Flag(help: "Train without augmentation.") var noAugment = false
  @Option(help: "Write a checkpoint every this many steps (and at the end).") var checkpointEvery = 250
  @Flag(help: "Under mpirun: each rank normalises with its own shard's batch statistics (faster; not the single-process step).")
  var localBatchNorm = false

  func configuration(mode: TrainingMode, dataset: String) throws -> TrainingConfiguration {
    var c = TrainingConfiguration()
    (c.student, c.inputSize, c.mode, c.steps, c.batchSize) = (student, input, mode, steps, batch)
    (c.learningRate, c.schedule, c.warmupSteps, c.seed, c.threads, c.augment, c.dataset) = (lr, schedule, warmup, seed, threads, !noAugment, dataset)
    c.checkpointEvery = checkpointEvery
    (c.lambdaHeatmap, c.heatmapSigma) = (lambdaHeatmap, heatmapSigma)
    (c.lambdaAngle, c.lambdaOffset, c.lambdaModified, c.teacherStart, c.teacherRamp) = (lambdaAngle, lambdaOffset, lambdaModified, teacherStart, teacherRamp)
    do { try c.validate() } catch { throw CommandFailure(error.description) }
    // The student before any data: a typo in --student or --input fails at once.
    do { _ = try StudentZoo.make(student, inputSize: input) } catch { throw CommandFailure("--student: \(error)") }
    return c
  }

  func angleBounds(_ train: any SampleSource) throws -> AngleBounds {
    if let bounds { return try readBounds(bounds) }
    FileHandle.standardError.write(Data("computing angle bounds from \(train.count) training labels…\n".utf8))
    do { return try BoundsFromLabels.compute(train) } catch { throw CommandFailure(error.description) }
  }
}

/// Bounds from a split's labels alone (no images decoded).
/// The labels are streamed: an in-memory synthetic split of steps × batch poses (millions
/// for long runs) never sits in memory at once.
enum BoundsFromLabels {
  static func compute(_ source: any SampleSource) throws(DatasetError) -> AngleBounds {
    let stream = PoseStream(source: source)
    let bounds: AngleBounds
    do { bounds = try AngleBounds(poses: stream, dataset: source.name) } catch {
      if let failure = stream.failure.error { throw failure }
      throw .malformed(error.source, error.problem)
    }
    if let failure = stream.failure.error { throw failure }
    return bounds
  }

  /// A split's poses in order; the first reader error stops it and is kept.
  struct PoseStream: Sequence, IteratorProtocol {
    final class Failure { var error: DatasetError? }
    let source: any SampleSource
    let failure = Failure()
    var index = 0

    init(source: any SampleSource) { self.source = source }

    mutating func next() -> [Vector3<Double>]? {
      guard index < source.count, failure.error == nil else { return nil }
      defer { index += 1 }
      do { return try source.pose(index) } catch {
        failure.error = error
        return nil
      }
    }
  }
}

/// The validation split, or nil with a note on stderr when the dataset has none.
func validationSplit(_ data: DatasetOptions) -> (any SampleSource)? {
  do { return try data.source(.val) } catch {
    FileHandle.standardError.write(Data("note: no validation split (\(error)); training without validation\n".utf8))
    return nil
  }
}

/// The ranks of an `mpirun` job, or nil for one process.
func distributedWorld() throws -> (any ProcessGroup)? {
  do { return try Distributed.world() } catch { throw CommandFailure(error.description) }
}

/// Trains one student and reports it on the validation split. With `replicas`
/// (several ranks), data-parallel: the rank of index 0 alone writes and prints.
func trainOne(
  _ config: TrainingConfiguration, train: any SampleSource, val: (any SampleSource)?, bounds: AngleBounds,
  out: String, resume: Bool, replicas: (any ProcessGroup)? = nil, localBatchNorm: Bool = false, workers: Int = 1, quiet: Bool = false
) throws -> Trainer {
  // `lead` writes the reports and validates (rank 0 of the ranks training this
  // student); `talks` also prints progress (rank 0 of the whole job).
  let lead = (replicas?.rank ?? 0) == 0
  let talks = lead && !quiet
  guard workers >= 1 else { throw CommandFailure("--workers: must be positive, got \(workers)") }
  guard workers == 1 || (replicas?.size ?? 1) == 1 else {
    throw CommandFailure("--workers: under mpirun every rank is already a replica; use more ranks instead")
  }
  func makeTrainer(announce: Bool) throws -> Trainer {
    do {
      if resume && FileManager.default.fileExists(atPath: out + "/checkpoint.safetensors") {
        let trainer = try Trainer.resume(from: out, train: train)
        guard trainer.configuration == config else {
          throw CommandFailure("\(out): holds a checkpoint of another configuration; remove it or choose another --out")
        }
        if announce { FileHandle.standardError.write(Data("resuming \(out) at step \(trainer.step)\n".utf8)) }
        return trainer
      }
      return try Trainer(configuration: config, train: train, bounds: bounds)
    } catch let e as CommandFailure { throw e } catch { throw CommandFailure("\(error)") }
  }
  let trainer = try makeTrainer(announce: talks)
  var local: LocalDataParallel?
  if workers > 1 {
    do { local = try LocalDataParallel([trainer] + (1..<workers).map { _ in try makeTrainer(announce: false) }) } catch let e as CommandFailure { throw e } catch {
      throw CommandFailure("\(error)")
    }
    if talks {
      FileHandle.standardError.write(
        Data(
          ("data-parallel over \(workers) replicas in this process: global batch \(config.batchSize), \(config.batchSize / workers) per replica, "
            + "\(trainer.threads) thread(s) each, synchronised batch norm\n").utf8))
    }
  }
  if let replicas, replicas.size > 1 {
    trainer.replicas = replicas
    trainer.synchronisesBatchNorm = !localBatchNorm
    if talks {
      let per = config.batchSize / replicas.size
      FileHandle.standardError.write(
        Data(
          ("data-parallel over \(replicas.size) ranks: global batch \(config.batchSize), \(per) per rank, "
            + "\(localBatchNorm ? "per-rank" : "synchronised") batch norm; weights broadcast from rank 0\n").utf8))
    }
  }
  let progress = Progress(total: config.steps, label: "\(config.student)/\(config.mode.rawValue)", silent: !talks)
  var last: [String: Float] = [:]
  var allReduce = 0.0
  let (start, first) = (Date(), trainer.step)
  let report = { (r: StepReport) in
    allReduce += r.allReduceSeconds
    last = Dictionary(uniqueKeysWithValues: r.terms.map { ($0.key.rawValue, $0.value) })
    guard talks else { return }
    let terms = LossTerm.allCases.filter { $0 != .total }.compactMap { k in r.terms[k].map { "\(k.rawValue) \(String(format: "%.3f", $0))" } }
    progress.update(r.step, detail: terms.joined(separator: " ") + String(format: " w %.2f %.0f img/s", r.invalidFraction, r.imagesPerSecond))
  }
  do {
    if let local { try local.run(checkpointDirectory: out, report: report) } else { try trainer.run(checkpointDirectory: out, report: report) }
  } catch { throw CommandFailure(error.description) }
  guard lead else { return trainer }
  progress.finish()
  let seconds = Date().timeIntervalSince(start), images = (trainer.step - first) * config.batchSize
  if images > 0 && talks { FileHandle.standardError.write(Data(String(format: "trained %d images in %.1f s: %.1f img/s\n", images, seconds, Double(images) / seconds).utf8)) }
  let shards = max(replicas?.size ?? 1, workers)
  if shards > 1, trainer.step > first {
    let steps = Double(trainer.step - first)
    FileHandle.standardError.write(
      Data(
        String(
          format: "gradient all-reduce over %d %@: %.2f ms per step, %.1f%% of the step time (replica 0; includes waiting for the slowest)\n",
          shards, workers > 1 ? "replicas" : "ranks", 1000 * allReduce / steps,
          100 * allReduce / seconds
        ).utf8))
  }
  if let val {
    let (m, _) = try evaluate(trainer.student, source: val, bounds: bounds, threads: config.threads, label: "validate", quiet: !talks)
    try writeReport(["split": "val", "metrics": m.report, "last_terms": last], to: out + "/validation.json")
    print(String(format: "%@/%@ validation: 3D AUC %.3f, EPE %.1f mm, 2D AUC %.3f, V.F. %.4f", config.student, config.mode.rawValue, m.auc3D, m.meanError, m.auc2D, m.violationFrequency))
  }
  return trainer
}

func evaluate(
  _ student: Student, source: any SampleSource, bounds: AngleBounds, threads: Int, label: String,
  keepWorst: Int = 0, quiet: Bool = false
) throws -> (MetricAccumulator, [Evaluator.Prediction]) {
  let progress = Progress(total: (source.count + 31) / 32, label: label, silent: quiet)
  defer { progress.finish() }
  do {
    return try Evaluator.evaluate(student, source: source, bounds: bounds, threads: threads, keepWorst: keepWorst) { done, _ in progress.update(done) }
  } catch { throw CommandFailure(error.description) }
}

/// Writes a JSON report atomically; a failure names the file (exit 2).
func writeReport(_ object: Any, to path: String) throws {
  do { try Report.writeJSON(object, to: path) } catch { throw CommandFailure("\(path): cannot write the report: \(error)") }
}

func writeFile(_ data: Data, to path: String) throws {
  do { try AtomicFile.write(data, to: URL(fileURLWithPath: path)) } catch { throw CommandFailure(error.description) }
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
    try data.refuseSplit("train")
    let config = try options.configuration(mode: mode, dataset: data.dataset)
    let train = try data.source(.train, trainCount: config.steps * config.batchSize)
    let world = try distributedWorld()
    let bounds = try options.angleBounds(train)
    _ = try trainOne(
      config, train: train, val: validationSplit(data), bounds: bounds, out: out, resume: resume, replicas: world,
      localBatchNorm: options.localBatchNorm, workers: options.workers)
    if (world?.rank ?? 0) == 0 { print("checkpoint: \(out)/checkpoint.safetensors") }
  }
}

/// `ekd eval`: metrics of a checkpoint on a split, with plots.
struct EvalCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "eval", abstract: "Evaluate a checkpoint on the test split (by default): 3D AUC (20–50 mm), PCK, EPE, 2D AUC, V.F.; writes JSON, a PCK plot and the worst predictions.")

  @Option(help: "Checkpoint directory or .safetensors file from `ekd train`.") var checkpoint: String
  @OptionGroup var data: DatasetOptions
  @Option(help: "Report path (JSON); the plot and picture go beside it.") var out: String?

  func run() throws {
    let split = data.split ?? .test
    let student: Student, config: TrainingConfiguration, bounds: AngleBounds
    do { (student, config, bounds) = try Trainer.student(fromCheckpoint: checkpoint) } catch { throw CommandFailure(error.description) }
    let (m, worst) = try evaluate(student, source: try data.source(split), bounds: bounds, threads: config.threads, label: "eval", keepWorst: 6)
    printTable([(config.student + "/" + config.mode.rawValue, m)])
    print(
      String(
        format: "without the true root depth (from the wrist-to-middle-MCP bone): 3D AUC %.3f, mean |Z₀ error| %.1f mm, %d without a solution",
        m.auc3DEstimatedRoot, m.rootDepthErrorMean, m.rootDepthFailures))
    let report = out ?? (checkpoint.hasSuffix(".safetensors") ? URL(fileURLWithPath: checkpoint).deletingLastPathComponent().path : checkpoint) + "/eval-\(split.rawValue).json"
    try writeReport(["checkpoint": checkpoint, "split": split.rawValue, "dataset": data.describe(split)].merging(m.report) { a, _ in a }, to: report)
    let base = report.hasSuffix(".json") ? String(report.dropLast(5)) : report
    try writeFile(Data(Report.pckSVG([(config.mode.rawValue, m.pckCurve)]).utf8), to: base + "-pck.svg")
    if let picture = Report.worstPredictions(worst) {
      do { try picture.writePNG(to: base + "-worst.png") } catch { throw CommandFailure(error.description) }
    }
    print("wrote \(report), \(base)-pck.svg" + (worst.isEmpty ? "" : ", \(base)-worst.png"))
  }
}

func printTable(_ rows: [(String, MetricAccumulator)]) {
  let width = max(26, rows.map(\.0.count).max() ?? 0)
  print("model".padding(toLength: width, withPad: " ", startingAt: 0) + "  3D AUC    V.F.     EPE mean  EPE median  2D AUC  invalid samples")
  for (name, m) in rows {
    print(
      name.padding(toLength: width, withPad: " ", startingAt: 0)
        + String(format: "  %.3f   %.4f   %6.1f mm  %6.1f mm   %.3f   %.3f", m.auc3D, m.violationFrequency, m.meanError, m.medianError, m.auc2D, m.invalidSampleFraction))
  }
}

/// `ekd ablation`: the paper's Table 1 — modes × seeds, mean ± std on the test split.
struct AblationCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ablation", abstract: "Train every mode with several seeds and report 3D AUC / V.F. (mean ± std, paired differences) on the test split.")

  @Option(help: "Modes, comma-separated.") var modes = "baseline,theta,op,full"
  @Option(help: "Number of seeds per mode.") var seeds = 3
  @OptionGroup var data: DatasetOptions
  @OptionGroup var options: TrainingOptions
  @Option(help: "Output directory.") var out = "runs/ablation"

  func run() throws {
    let modeList = try modes.split(separator: ",").map { m throws -> TrainingMode in
      guard let mode = TrainingMode(rawValue: String(m)) else { throw CommandFailure("--modes: unknown mode '\(m)'; choose from baseline, theta, op, full") }
      return mode
    }
    guard seeds > 0 else { throw CommandFailure("--seeds: must be positive, got \(seeds)") }
    guard !modeList.isEmpty else { throw CommandFailure("--modes: no mode given; choose from baseline, theta, op, full") }
    let configs = try modeList.map { try options.configuration(mode: $0, dataset: data.dataset) }
    try data.refuseSplit("ablation")
    let train = try data.source(.train, trainCount: options.steps * options.batch)
    let val = validationSplit(data), test = try data.source(.test)
    let bounds = try options.angleBounds(train)
    try? FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    try writeFile(bounds.jsonData(), to: out + "/bounds.json")
    // Under mpirun the (mode, seed) cells are shared out: cell i on rank i mod N, or,
    // with more ranks than cells, on a group of N / cells ranks training it data-parallel.
    let world = try distributedWorld()
    var cells: [TrainingConfiguration] = []
    for var config in configs {
      for s in 0..<UInt64(seeds) {
        config.seed = options.seed + s
        cells.append(config)
      }
    }
    let size = world?.size ?? 1, rank = world?.rank ?? 0
    let groupSize = max(size / cells.count, 1)
    let group = groupSize > 1 ? world?.split(color: rank / groupSize) : nil
    let mine = cells.indices.filter { groupSize > 1 ? $0 == rank / groupSize : $0 % size == rank }
    if let world, rank == 0 {
      FileHandle.standardError.write(
        Data("\(cells.count) cells over \(world.size) ranks, \(groupSize > 1 ? "\(groupSize) ranks per cell" : "one rank per cell")\n".utf8))
    }
    var runs: [AblationTable.Run] = []
    for config in mine.map({ cells[$0] }) {
      let dir = "\(out)/\(config.mode.rawValue)-seed\(config.seed)"
      let trainer = try trainOne(
        config, train: train, val: val, bounds: bounds, out: dir, resume: true, replicas: group, localBatchNorm: options.localBatchNorm,
        workers: options.workers, quiet: rank != 0)
      guard (group?.rank ?? 0) == 0 else { continue }
      let (m, worst) = try evaluate(
        trainer.student, source: test, bounds: bounds, threads: options.threads, label: "test", keepWorst: 6, quiet: rank != 0)
      runs.append(AblationTable.Run(mode: config.mode, seed: config.seed, metrics: m))
      try writeReport(["mode": config.mode.rawValue, "seed": config.seed, "split": "test", "metrics": m.report], to: dir + "/test.json")
      if let picture = Report.worstPredictions(worst) {
        do { try picture.writePNG(to: dir + "/worst-test.png") } catch { throw CommandFailure(error.description) }
      }
    }
    if let world {
      // Non-finite figures (a diverged cell) travel as strings rather than vanish.
      let encoder = JSONEncoder()
      encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
      let bytes: [UInt8]
      do { bytes = [UInt8](try encoder.encode(runs)) } catch { throw CommandFailure("sending this rank's cells: \(error)") }
      guard let gathered = world.gather(bytes) else { return }
      runs = try gathered.flatMap { part -> [AblationTable.Run] in
        guard !part.isEmpty else { return [] }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do { return try decoder.decode([AblationTable.Run].self, from: Data(part)) } catch { throw CommandFailure("gathering the cells: \(error)") }
      }
      // The single-process order: by mode, then seed.
      func order(_ r: AblationTable.Run) -> (Int, UInt64) { (modeList.firstIndex(of: r.mode) ?? 0, r.seed) }
      runs.sort { order($0) < order($1) }
    }
    let table = AblationTable(runs: runs)
    print("\n\(options.student) on \(data.describe(.test)) — test split, \(seeds) seed(s), \(options.steps) steps")
    print(table.text, terminator: "")
    try writeReport(
      ["student": options.student, "steps": options.steps, "seeds": seeds, "dataset": data.describe(.test)].merging(table.json) { a, _ in a },
      to: out + "/ablation.json")
    try writeFile(Data(Report.pckSVG(table.pckCurves).utf8), to: out + "/pck.svg")
    print("\nreport: \(out)/ablation.json; PCK plot: \(out)/pck.svg; worst angle-violating test predictions: \(out)/<mode>-seed<k>/worst-test.png")
  }
}

extension TrainingMode: ExpressibleByArgument {}
extension LearningRateSchedule: ExpressibleByArgument {}

/// `ekd reference`: what a 3D AUC means on a split, from predictors that need no network.
struct ReferenceCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "reference",
    abstract: "Score predictors that need no network (mean pose; perfect 2D with flat or noisy depth; noisy 2D) on a split, as `ekd eval` scores a student.")

  @OptionGroup var data: DatasetOptions
  @Option(help: "Crop side in pixels (the student's input).") var input = 64
  @Option(help: "Report path (JSON).") var out: String?

  func run() throws {
    let split = data.split ?? .test
    let train = try data.source(.train, trainCount: 2000), test = try data.source(split)
    let bounds: AngleBounds
    do { bounds = try BoundsFromLabels.compute(train) } catch { throw CommandFailure(error.description) }
    let rows: [(ReferencePredictor, MetricAccumulator)]
    do { rows = try ReferencePredictor.evaluate(train: train, test: test, bounds: bounds, cropSize: input) } catch { throw CommandFailure(error.description) }
    print("reference predictors on \(data.describe(split)), crops of \(input) px, ground-truth root depth and scale")
    printTable(rows.map { ($0.0.label, $0.1) })
    if let out { try writeReport(["split": split.rawValue, "dataset": data.describe(split), "rows": rows.map { ["predictor": $0.0.label, "metrics": $0.1.report] as [String: Any] }], to: out) }
  }
}
