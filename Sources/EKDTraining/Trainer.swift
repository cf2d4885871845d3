import EKDData
import EKDHand
import EKDLayers
import EKDLosses
import EKDModels
import EKDTensor
import Foundation

/// How the learning rate moves over a run (after the warm-up).
public enum LearningRateSchedule: String, CaseIterable, Codable, Sendable {
  /// Half a cosine from the peak to zero over the run.
  case cosine
  /// ×0.1 at 60% and ×0.01 at 85% of the run.
  case step
}

/// Everything that defines a training run; stored with every checkpoint.
public struct TrainingConfiguration: Codable, Equatable, Sendable {
  public var student = "small"
  public var inputSize: Int?
  public var mode = TrainingMode.full
  public var steps = 1500
  public var batchSize = 32
  public var learningRate: Float = 3e-3
  public var schedule = LearningRateSchedule.cosine
  /// Steps of linear learning-rate warm-up from 0 to the peak.
  public var warmupSteps = 100
  /// Weight of the heatmap term in the student's own loss (0: soft-argmax loss alone).
  public var lambdaHeatmap: Float = 1
  /// σ of the Gaussian heatmap targets, in head pixels.
  public var heatmapSigma: Float = 1
  public var lambdaAngle: Float = 1
  public var lambdaOffset: Float = 1
  public var lambdaModified: Float = 1
  /// The teacher's λs are 0 before this step (nil: half of `steps`)…
  public var teacherStart: Int?
  /// …then ramp linearly to their full value over this many steps (nil: a fifth of `steps`).
  public var teacherRamp: Int?
  public var seed: UInt64 = 0
  public var threads = 2
  public var checkpointEvery = 250
  public var augment = true
  public var dataset = "synth"

  public init() {}

  /// The weights of the objective, resolved once: the mode zeroes the
  /// teacher's terms it does not use.
  public var weights: LossWeights {
    LossWeights(
      heatmap: lambdaHeatmap, angle: mode.usesAngleLoss ? lambdaAngle : 0,
      offset: mode.usesOffsetNetwork ? lambdaOffset : 0, modifiedPosition: mode.usesOffsetNetwork ? lambdaModified : 0)
  }

  /// The teacher's start and ramp, defaults resolved (chosen on the validation split:
  /// docs/results.md).
  public var teacherSchedule: (start: Int, ramp: Int) { (teacherStart ?? steps / 2, teacherRamp ?? steps / 5) }

  /// `weights` at `step`, with the teacher's warm-up applied.
  public func weights(atStep step: Int) -> LossWeights {
    var w = weights
    let (start, length) = teacherSchedule
    let ramp = step < start ? 0 : length <= 0 ? 1 : min(Float(step - start + 1) / Float(length), 1)
    (w.angle, w.offset, w.modifiedPosition) = (w.angle * ramp, w.offset * ramp, w.modifiedPosition * ramp)
    return w
  }

  /// Refuses what cannot run, naming the option (a checkpoint's configuration comes from a file).
  public func validate() throws(TrainingError) {
    func need(_ ok: Bool, _ why: String) throws(TrainingError) { if !ok { throw .configuration(why) } }
    try need(steps > 0, "steps must be positive, got \(steps)")
    try need(batchSize > 0, "batch size must be positive, got \(batchSize)")
    try need(threads > 0 && threads <= 256, "threads must be in 1…256, got \(threads)")
    try need(checkpointEvery > 0, "checkpointEvery must be positive, got \(checkpointEvery)")
    try need(warmupSteps >= 0 && teacherSchedule.start >= 0 && teacherSchedule.ramp >= 0, "warm-up, teacher start and ramp must not be negative")
    try need(learningRate.isFinite && learningRate > 0, "learning rate must be positive and finite, got \(learningRate)")
    try need(heatmapSigma.isFinite && heatmapSigma >= 0.25, "heatmap σ must be at least 0.25 head pixels, got \(heatmapSigma)")
    for (name, l) in [("heatmap", lambdaHeatmap), ("angle", lambdaAngle), ("offset", lambdaOffset), ("modified", lambdaModified)] {
      try need(l.isFinite && l >= 0, "λ \(name) must be finite and not negative, got \(l)")
    }
    try need(inputSize.map { $0 > 0 && $0 <= StudentZoo.maximumInputSize } ?? true, "input size must be in 1…\(StudentZoo.maximumInputSize), got \(inputSize ?? 0)")
  }
}

extension TrainingConfiguration {
  /// Reads configurations written before a field existed with that field's old
  /// behaviour (no warm-up, no heatmap term, the teacher from step 0), so older
  /// checkpoints still evaluate and resume as they were trained.
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    self.init()
    student = try c.decode(String.self, forKey: .student)
    inputSize = try c.decodeIfPresent(Int.self, forKey: .inputSize)
    mode = try c.decode(TrainingMode.self, forKey: .mode)
    steps = try c.decode(Int.self, forKey: .steps)
    batchSize = try c.decode(Int.self, forKey: .batchSize)
    learningRate = try c.decode(Float.self, forKey: .learningRate)
    schedule = try c.decode(LearningRateSchedule.self, forKey: .schedule)
    warmupSteps = try c.decodeIfPresent(Int.self, forKey: .warmupSteps) ?? 0
    lambdaHeatmap = try c.decodeIfPresent(Float.self, forKey: .lambdaHeatmap) ?? 0
    heatmapSigma = try c.decodeIfPresent(Float.self, forKey: .heatmapSigma) ?? 1
    lambdaAngle = try c.decode(Float.self, forKey: .lambdaAngle)
    lambdaOffset = try c.decode(Float.self, forKey: .lambdaOffset)
    lambdaModified = try c.decode(Float.self, forKey: .lambdaModified)
    let hasSchedule = c.contains(.warmupSteps)
    teacherStart = try c.decodeIfPresent(Int.self, forKey: .teacherStart) ?? (hasSchedule ? nil : 0)
    teacherRamp = try c.decodeIfPresent(Int.self, forKey: .teacherRamp) ?? (hasSchedule ? nil : 0)
    seed = try c.decode(UInt64.self, forKey: .seed)
    threads = try c.decode(Int.self, forKey: .threads)
    checkpointEvery = try c.decode(Int.self, forKey: .checkpointEvery)
    augment = try c.decode(Bool.self, forKey: .augment)
    dataset = try c.decode(String.self, forKey: .dataset)
  }
}

/// Why training stopped early, naming the step and what went wrong.
public enum TrainingError: Error, CustomStringConvertible {
  case nonFinite(step: Int, term: String)
  case data(DatasetError)
  case checkpoint(String)
  case configuration(String)
  /// Another replica of an in-process data-parallel run failed; its error is the one to report.
  case replicaFailed

  public var description: String {
    switch self {
    case .nonFinite(let step, let term): return "step \(step): \(term) is not finite (NaN or Inf); stopped, the last good checkpoint is kept"
    case .data(let e): return e.description
    case .checkpoint(let why): return why
    case .configuration(let why): return why
    case .replicaFailed: return "stopped: another replica of this run failed"
    }
  }
}

/// One training step's figures, for progress output.
public struct StepReport: Sendable {
  public var step: Int, terms: [LossTerm: Float], invalidFraction: Float, learningRate: Float, imagesPerSecond: Double
  /// Seconds of this step spent summing gradients over the replicas (0 for one process).
  public var allReduceSeconds: Double = 0
}

/// The EKD trainer: a student, its teacher (by mode), Adam with a schedule,
/// checkpoints that resume bit for bit.
///
/// The loop is llm.c's, in one function: next batch → forward on a fresh tape →
/// the EKD objective → zero gradients → backward → check finiteness → Adam →
/// report; every `checkpointEvery` steps, an atomic checkpoint.
public final class Trainer {
  public let configuration: TrainingConfiguration
  public let student: Student
  public let teacher: Teacher
  public let optimizer: Adam
  public let bounds: AngleBounds
  public private(set) var step = 0
  let source: any SampleSource

  public init(configuration c: TrainingConfiguration, train: any SampleSource, bounds: AngleBounds) throws(TrainingError) {
    try c.validate()
    configuration = c
    do { student = try StudentZoo.make(c.student, inputSize: c.inputSize, seed: c.seed) } catch { throw .configuration(error.description) }
    teacher = Teacher(bounds: bounds, featureChannels: student.featureChannels, seed: c.seed)
    optimizer = Adam(learningRate: c.learningRate)
    threads = c.threads
    self.bounds = bounds
    source = train
  }

  /// Learning rate for `step`: linear warm-up, then the configured schedule.
  public func learningRate(at step: Int) -> Float {
    let c = configuration
    if step < c.warmupSteps { return c.learningRate * Float(step + 1) / Float(c.warmupSteps) }
    switch c.schedule {
    case .step: return c.learningRate * (step >= c.steps * 85 / 100 ? 0.01 : step >= c.steps * 60 / 100 ? 0.1 : 1)
    case .cosine:
      let t = Double(step - c.warmupSteps) / Double(max(c.steps - c.warmupSteps, 1))
      return c.learningRate * Float(0.5 * (1 + cos(Double.pi * t)))
    }
  }

  /// Parameters saved in checkpoints: the student's and the offset network's.
  var trainedParameters: [(name: String, parameter: Parameter)] {
    student.namedParameters.map { ("student." + $0.name, $0.parameter) }
      + teacher.offsetNetwork.namedParameters.map { ("teacher.offset." + $0.name, $0.parameter) }
  }

  /// Parameters the optimizer updates at a step: the offset network's only while its
  /// losses weigh something (so it starts, with Adam's own step count, when the teacher does).
  func updated(at step: Int) -> [Parameter] {
    student.trainableParameters + (configuration.weights(atStep: step).usesOffsetNetwork ? teacher.offsetNetwork.trainableParameters : [])
  }
  lazy var checked: [(name: String, parameter: Parameter)] = trainedParameters.filter { $0.parameter.isTrainable }
  /// Set to profile the next `step` per op kind (the benchmark's op table); its result lands in `lastProfile`.
  public var profileNextStep = false
  public private(set) var lastProfile: [String: Tape.OpProfile]?

  /// Data-parallel training (`mpirun -np N ekd train`): each replica takes its
  /// 1/N of every global batch, gradients are summed over the replicas and
  /// divided by N, and replica 0 alone writes checkpoints. Set before `run`.
  public var replicas: (any ReplicaGroup)?
  /// With `replicas`: batch norm uses the global batch's statistics, so N
  /// replicas compute the step one process computes on the whole batch. Off:
  /// each replica normalises with its own shard's (faster, not equivalent).
  public var synchronisesBatchNorm = true
  /// With `replicas`: gradients are summed in buckets of about this many floats (1 MiB),
  /// each started as soon as backward has completed it.
  public var gradientBucketFloats = 1 << 18
  /// Kernel threads of this trainer's steps: the configuration's, unless an
  /// in-process data-parallel run (`LocalDataParallel`) shares them out over its replicas.
  public var threads: Int

  /// One optimisation step on `batch`: forward on a fresh tape, the objective,
  /// backward, a finiteness check of every term and gradient, Adam. The
  /// benchmark times this very function.
  @discardableResult
  public func step(_ batch: Batch) throws(TrainingError) -> StepReport {
    let t0 = Date()
    let c = configuration
    guard batch.count > 0 else { throw .data(.malformed("batch of step \(step)", "it is empty")) }
    let tape = Tape(mode: .training, threads: threads)
    if synchronisesBatchNorm { tape.replicas = replicas }
    if profileNextStep { tape.enableProfiling() }
    defer {
      if profileNextStep { (lastProfile, profileNextStep) = (tape.profile, false) }
    }
    let objective = Objective(
      student: student, teacher: teacher, batch: batch, weights: c.weights(atStep: step),
      heatmapSigma: c.heatmapSigma, tape: tape)
    // In a fixed order, so the message names the first term that broke.
    for term in LossTerm.allCases where !(objective.terms[term]?.isFinite ?? true) {
      throw .nonFinite(step: step, term: "loss term \(term.rawValue)")
    }
    student.zeroGradients()
    teacher.offsetNetwork.zeroGradients()
    let buckets = replicas.flatMap { $0.size > 1 ? GradientBuckets(replicas: $0, parameters: checked.map(\.parameter), floats: gradientBucketFloats) : nil }
    if let buckets { tape.parameterGradientReady = { buckets.ready($0) } }
    tape.backward(from: objective.loss)
    var terms = objective.terms, invalidFraction = objective.invalidFraction
    var allReduceSeconds = 0.0
    if let replicas, let buckets {
      buckets.finish()
      allReduceSeconds = buckets.seconds
      // The report's figures, averaged over the replicas: the global batch's.
      let keys = LossTerm.allCases.filter { terms[$0] != nil }
      var figures = keys.map { Double(terms[$0]!) } + [Double(invalidFraction)]
      replicas.sum(&figures)
      for (k, key) in keys.enumerated() { terms[key] = Float(figures[k] / Double(replicas.size)) }
      invalidFraction = Float(figures.last! / Double(replicas.size))
    }
    // A cancelled group summed nothing: this replica's gradient is its shard's alone.
    if replicas?.isCancelled == true { throw .replicaFailed }
    for (name, p) in checked where !p.grad.withUnsafeBufferPointer({ $0.allSatisfy(\.isFinite) }) {
      throw .nonFinite(step: step, term: "gradient of \(name)")
    }
    optimizer.learningRate = learningRate(at: step)
    optimizer.step(updated(at: step))
    step += 1
    return StepReport(
      step: step, terms: terms, invalidFraction: invalidFraction,
      learningRate: optimizer.learningRate, imagesPerSecond: Double(batch.count * (replicas?.size ?? 1)) / Date().timeIntervalSince(t0),
      allReduceSeconds: allReduceSeconds)
  }

  /// Makes every replica's weights (and batch-norm statistics) replica 0's.
  public func broadcastParameters() {
    guard let replicas, replicas.size > 1 else { return }
    for (_, p) in trainedParameters where p.storageType == .float32 {
      p.value.withUnsafeMutableBufferPointer { replicas.broadcast($0, from: 0) }
    }
  }

  /// Trains from the current step up to `until` (default: the configured steps).
  public func run(until last: Int? = nil, checkpointDirectory: String? = nil, report: (StepReport) -> Void = { _ in }) throws(TrainingError) {
    let c = configuration
    let end = min(last ?? c.steps, c.steps)
    let shards = replicas?.size ?? 1
    guard c.batchSize % shards == 0 else {
      throw .configuration("batch \(c.batchSize) does not split into \(shards) equal parts, one per replica; choose a multiple of \(shards)")
    }
    if let replicas, replicas.size > 1 {
      // Every rank must continue from the same step (a rank that could not see the
      // checkpoint would start at 0 and the collectives would no longer match), so
      // this comes before any rank may return. Rank 0's step, summed exactly in Double.
      var steps = [replicas.rank == 0 ? Double(step) : 0]
      replicas.sum(&steps)
      guard Int(steps[0]) == step else {
        throw .configuration("rank \(replicas.rank) is at step \(step) but rank 0 at step \(Int(steps[0])): do all ranks see the same output directory?")
      }
    }
    guard step < end else { return }
    broadcastParameters()
    let loader = BatchLoader(
      source: source, batchSize: c.batchSize, cropSize: student.inputSize,
      augmentation: c.augment ? Augmentation() : .none, shuffle: true, seed: c.seed, startStep: step,
      shard: (replicas?.rank ?? 0, shards))
    defer { loader.stop() }
    while step < end {
      let t0 = Date()
      let batch: Batch
      do { batch = try loader.next()! } catch { throw .data(error) }
      var r = try step(batch)
      if replicas?.isCancelled == true { throw .replicaFailed }
      r.imagesPerSecond = Double(batch.count * shards) / Date().timeIntervalSince(t0)
      report(r)
      if let dir = checkpointDirectory, step % c.checkpointEvery == 0 || step == end, (replicas?.rank ?? 0) == 0 { try save(to: dir) }
    }
  }

  // MARK: Checkpoints

  /// Writes DIR/checkpoint.safetensors (student, offset network, Adam moments;
  /// step, configuration and bounds in its metadata) and DIR/checkpoint.json
  /// (the same metadata, for people). Each file is written to a temp file,
  /// fsync'ed and renamed, and the safetensors file alone is enough to resume,
  /// so a crash at any moment leaves a loadable latest checkpoint.
  public func save(to directory: String) throws(TrainingError) {
    do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
      throw .checkpoint("\(directory): cannot create the directory")
    }
    let named = trainedParameters
    var entries = named.map { Safetensors.Entry(name: $0.name, tensor: $0.parameter.value, storageType: $0.parameter.storageType) }
    entries += optimizer.state(named.filter { $0.parameter.isTrainable }).map { Safetensors.Entry(name: "optimizer." + $0.0, tensor: $0.1) }
    let metadata = self.metadata
    do {
      try Safetensors.write(entries, metadata: metadata, to: URL(fileURLWithPath: directory + "/checkpoint.safetensors"))
      let sidecar = try JSONSerialization.data(withJSONObject: metadata, options: [.prettyPrinted, .sortedKeys])
      try AtomicFile.write(sidecar, to: URL(fileURLWithPath: directory + "/checkpoint.json"))
    } catch { throw .checkpoint("\(directory): \(error)") }
  }

  var metadata: [String: String] {
    let config = (try? JSONEncoder().encode(configuration)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    return [
      "format": "ekd-checkpoint", "step": String(step), "adam_step": String(optimizer.stepCount),
      "configuration": config, "bounds": String(decoding: bounds.jsonData(), as: UTF8.self), "student": student.name,
    ]
  }

  /// Rebuilds a trainer from a checkpoint directory (same configuration, step,
  /// weights, optimizer state): training on continues exactly as it would have.
  public static func resume(from directory: String, train: any SampleSource) throws(TrainingError) -> Trainer {
    let (config, bounds, contents) = try readCheckpoint(directory)
    let trainer = try Trainer(configuration: config, train: train, bounds: bounds)
    try trainer.load(contents, path: directory)
    return trainer
  }

  /// The configuration, bounds and tensors of a checkpoint.
  public static func readCheckpoint(_ directory: String) throws(TrainingError) -> (TrainingConfiguration, AngleBounds, Safetensors.Contents) {
    let path = directory.hasSuffix(".safetensors") ? directory : directory + "/checkpoint.safetensors"
    let contents: Safetensors.Contents
    do { contents = try Safetensors.read(URL(fileURLWithPath: path)) } catch { throw .checkpoint(error.description) }
    guard contents.metadata["format"] == "ekd-checkpoint", let configText = contents.metadata["configuration"],
      let boundsText = contents.metadata["bounds"]
    else { throw .checkpoint("\(path): not an EKD training checkpoint (metadata missing)") }
    let config: TrainingConfiguration
    do { config = try JSONDecoder().decode(TrainingConfiguration.self, from: Data(configText.utf8)) } catch {
      throw .checkpoint("\(path): its configuration cannot be read: \(error)")
    }
    do { try config.validate() } catch { throw .checkpoint("\(path): its configuration is invalid: \(error)") }
    let bounds: AngleBounds
    do { bounds = try AngleBounds(jsonData: Data(boundsText.utf8), path: path) } catch { throw .checkpoint(error.description) }
    return (config, bounds, contents)
  }

  /// The trained student of a checkpoint, for evaluation or prediction
  /// (no teacher, no optimizer state), with its configuration and bounds.
  public static func student(fromCheckpoint path: String) throws(TrainingError) -> (Student, TrainingConfiguration, AngleBounds) {
    let (config, bounds, contents) = try readCheckpoint(path)
    let student: Student
    do { student = try StudentZoo.make(config.student, inputSize: config.inputSize) } catch { throw .checkpoint("\(path): \(error)") }
    try assign(student.namedParameters.map { ("student." + $0.name, $0.parameter) }, from: contents, path: path)
    return (student, config, bounds)
  }

  static func assign(_ named: [(name: String, parameter: Parameter)], from contents: Safetensors.Contents, path: String) throws(TrainingError) {
    for (name, p) in named {
      guard let t = contents.tensors[name], t.shape == p.shape else { throw .checkpoint("\(path): tensor '\(name)' missing or of the wrong shape") }
      p.value = t
    }
  }

  func load(_ contents: Safetensors.Contents, path: String) throws(TrainingError) {
    try Self.assign(trainedParameters, from: contents, path: path)
    step = Int(contents.metadata["step"] ?? "") ?? 0
    let optimizerTensors = Dictionary(uniqueKeysWithValues: contents.names.filter { $0.hasPrefix("optimizer.") }.map { (String($0.dropFirst(10)), contents.tensors[$0]!) })
    optimizer.restore(optimizerTensors, named: trainedParameters, stepCount: Int(contents.metadata["adam_step"] ?? "") ?? 0)
  }
}

/// A step's gradients summed over the replicas and divided by their number (the
/// gradient of the global batch's mean loss), in buckets of about `floats` values.
/// A bucket's sum starts as soon as backward has completed all its parameters, so
/// it runs while backward goes on; `finish` starts the rest (parameters backward
/// never reached, in their fixed order), waits, and unpacks.
final class GradientBuckets {
  let replicas: any ReplicaGroup
  let order: [Parameter]
  let floats: Int
  private var wanted: Set<ObjectIdentifier>
  private var current: [Parameter] = []
  private var currentCount = 0
  private var inFlight: [(buffer: UnsafeMutableBufferPointer<Float>, members: [Parameter], sum: any PendingSum)] = []
  /// Time spent packing, starting, polling, waiting and unpacking: communication on the step's critical path.
  private(set) var seconds = 0.0

  init(replicas: any ReplicaGroup, parameters: [Parameter], floats: Int) {
    (self.replicas, order, self.floats) = (replicas, parameters, floats)
    wanted = Set(parameters.map(ObjectIdentifier.init))
  }

  func ready(_ p: Parameter) {
    guard wanted.remove(ObjectIdentifier(p)) != nil else { return }
    let start = Date()
    defer { seconds += Date().timeIntervalSince(start) }
    for f in inFlight { f.sum.poll() }
    current.append(p)
    currentCount += p.value.count
    if currentCount >= floats { launch() }
  }

  private func launch() {
    guard !current.isEmpty else { return }
    let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: currentCount)
    var offset = 0
    for p in current {
      p.grad.withUnsafeBufferPointer { g in _ = UnsafeMutableBufferPointer(rebasing: buffer[offset..<(offset + g.count)]).initialize(from: g) }
      offset += p.value.count
    }
    inFlight.append((buffer, current, replicas.startSum(buffer)))
    (current, currentCount) = ([], 0)
  }

  func finish() {
    for p in order where wanted.contains(ObjectIdentifier(p)) { ready(p) }
    let start = Date()
    launch()
    let scale = 1 / Float(replicas.size)
    for f in inFlight {
      f.sum.wait()
      var offset = 0
      for p in f.members {
        let g = p.gradPointer(), n = p.value.count
        for i in 0..<n { g[i] = f.buffer[offset + i] * scale }
        offset += n
      }
      f.buffer.deallocate()
    }
    inFlight = []
    seconds += Date().timeIntervalSince(start)
  }
}
