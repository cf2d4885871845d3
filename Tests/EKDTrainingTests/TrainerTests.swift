import EKDData
import EKDHand
import EKDLayers
import EKDLosses
import EKDModels
import EKDTensor
import EKDTraining
import Foundation
import Testing

func scratch(_ name: String) -> String {
  let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ekd-train-\(getpid())/\(name)").path
  try? FileManager.default.removeItem(atPath: dir)
  try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
  return dir
}

let source = SyntheticStream(count: 24, seed: 7, size: 64)
let bounds = try! AngleBounds(poses: (0..<24).map { SyntheticHands.pose(index: $0, seed: 7, size: 64) }, dataset: "test")

func configuration(_ mode: TrainingMode, steps: Int) -> TrainingConfiguration {
  var c = TrainingConfiguration()
  (c.student, c.inputSize, c.mode, c.steps, c.batchSize, c.threads, c.checkpointEvery, c.seed) = ("tiny", 32, mode, steps, 4, 2, 2, 3)
  // A dozen steps: the default warm-up would keep the learning rate near 0, and the
  // default teacher would only start half-way.
  (c.warmupSteps, c.teacherStart, c.teacherRamp) = (0, 0, 0)
  return c
}

@Suite(.serialized) struct Training {
  /// A few steps in every mode run, stay finite, and move the loss.
  @Test(arguments: TrainingMode.allCases)
  func stepsInEveryModeMoveTheLoss(mode: TrainingMode) throws {
    let trainer = try Trainer(configuration: configuration(mode, steps: 12), train: source, bounds: bounds)
    var totals: [Float] = []
    var seen: Set<LossTerm> = []
    try trainer.run { r in
      totals.append(r.terms[.total]!)
      seen.formUnion(r.terms.keys)
    }
    #expect(totals.count == 12 && totals.allSatisfy { $0.isFinite })
    #expect(totals.last! < totals.first!, "\(totals)")
    #expect(seen.contains(.angle) == mode.usesAngleLoss)
    #expect(seen.contains(.offset) == mode.usesOffsetNetwork && seen.contains(.modifiedPosition) == mode.usesOffsetNetwork)
  }

  /// N steps == N/2, checkpoint, resume in a new trainer, N/2 — bit for bit.
  @Test func resumeIsBitExact() throws {
    let straight = try Trainer(configuration: configuration(.full, steps: 8), train: source, bounds: bounds)
    try straight.run()
    let dir = scratch("resume")
    let first = try Trainer(configuration: configuration(.full, steps: 8), train: source, bounds: bounds)
    try first.run(until: 4, checkpointDirectory: dir)
    let resumed = try Trainer.resume(from: dir, train: source)
    #expect(resumed.step == 4)
    try resumed.run()
    for ((name, a), (_, b)) in zip(straight.student.namedParameters, resumed.student.namedParameters) {
      #expect(a.value == b.value, "\(name) differs after resume")
    }
    for ((name, a), (_, b)) in zip(straight.teacher.offsetNetwork.namedParameters, resumed.teacher.offsetNetwork.namedParameters) {
      #expect(a.value == b.value, "offset \(name) differs after resume")
    }
  }

  @Test func nonFiniteValuesStopWithTheStepAndTheTerm() throws {
    let trainer = try Trainer(configuration: configuration(.full, steps: 4), train: source, bounds: bounds)
    let w = trainer.student.trainableParameters[0]
    w.value[flat: 0] = .nan
    #expect {
      try trainer.run()
    } throws: { error in
      guard case TrainingError.nonFinite(let step, let term) = error else { return false }
      return step == 0 && term.contains("pos_stu")
    }
  }

  /// A finite loss with a non-finite gradient: the first batch norm's scale blown up.
  /// The next batch norm normalises the blow-up away, so the forward stays finite, but
  /// the stem conv's gradient passes through the huge scale and overflows. (Scaling the
  /// head's logits no longer did it: the rewritten batch-norm backward does not overflow
  /// where the old one did, and a saturated softmax passes no gradient.) The gradient
  /// check must stop the run, name a gradient, and leave the last checkpoint on disk as
  /// it was (step 2, the weights before the blow-up).
  @Test func aNonFiniteGradientStopsTheRunAndKeepsTheLastCheckpoint() throws {
    var caught: [String] = []
    for exponent in stride(from: 30.0, through: 38.0, by: 1) {
      let dir = scratch("nan-gradient-\(exponent)")
      let trainer = try Trainer(configuration: configuration(.baseline, steps: 6), train: source, bounds: bounds)
      try trainer.run(until: 2, checkpointDirectory: dir)
      let good = trainer.student.namedParameters.map { ($0.name, $0.parameter.value) }
      let scale = trainer.student.namedParameters.first { $0.name == "stage1.1.weight" }!.parameter
      for i in 0..<scale.value.count { scale.value[flat: i] *= Float(pow(10.0, exponent)) }
      let failure: TrainingError
      do {
        try trainer.run(checkpointDirectory: dir)
        continue
      } catch { failure = error }
      guard case .nonFinite(let step, let term) = failure else { throw failure }
      #expect(step == 2)
      caught.append("\(exponent): \(term)")
      guard term.hasPrefix("gradient of ") else { continue }
      let back = try Trainer.resume(from: dir, train: source)
      #expect(back.step == 2)
      for ((name, a), (_, b)) in zip(good, back.student.namedParameters) { #expect(a == b.value, "\(name) changed on disk") }
      return
    }
    Issue.record("no scale of the first batch norm gave a finite loss with a non-finite gradient: \(caught)")
  }
}

/// A tiny student, its teacher and the objective of one fixed batch under `weights`,
/// on a tape that leaves batch-norm statistics alone.
func teacherProbe(seed: UInt64, bounds: AngleBounds, weights: LossWeights) throws -> (Student, Teacher, Objective, Tape) {
  let student = try StudentZoo.make("tiny", inputSize: 32, seed: seed)
  let teacher = Teacher(bounds: bounds, featureChannels: student.featureChannels)
  let loader = BatchLoader(source: source, batchSize: 4, cropSize: 32, shuffle: false)
  let batch = try loader.next()!
  loader.stop()
  let tape = Tape(mode: .training, threads: 1)
  tape.updatesRunningStatistics = false
  return (student, teacher, Objective(student: student, teacher: teacher, batch: batch, weights: weights, tape: tape), tape)
}

@Suite struct TeacherGradients {
  /// Loss_off alone trains the offset network and nothing of the student,
  /// neither through its target nor through the offset network's inputs.
  @Test func offsetLossLeavesTheStudentAlone() throws {
    let (student, teacher, objective, tape) = try teacherProbe(seed: 1, bounds: bounds, weights: LossWeights(angle: 0, offset: 1, modifiedPosition: 0))
    student.zeroGradients()
    teacher.offsetNetwork.zeroGradients()
    tape.backward(from: objective.loss - objective.studentLoss)  // = λ2·Loss_off
    #expect(student.trainableParameters.allSatisfy { $0.grad.scalars.allSatisfy { $0 == 0 } })
    #expect(teacher.offsetNetwork.trainableParameters.contains { $0.grad.scalars.contains { $0 != 0 } })
  }
}

@Suite struct Targets {
  /// The batch's derived targets agree with each other: the true (u, v, z),
  /// reconstructed with the batch's K, Z₀ and s, is the true pose; the student
  /// loss of a perfect prediction is zero.
  @Test func aPerfectPredictionReconstructsThePoseAndCostsNothing() throws {
    let loader = BatchLoader(source: source, batchSize: 6, cropSize: 48, shuffle: false)
    let batch = try loader.next()!
    loader.stop()
    let tape = Tape(mode: .training)
    let uvz = tape.constant(batch.uvz)
    let xyz = tape.reconstruct(uvz, intrinsics: batch.intrinsics, rootDepth: batch.rootDepth, scale: batch.scale)
    let pose = tape.rootRelative(xyz, scale: batch.scale).value
    for i in 0..<pose.count { #expect(abs(pose[flat: i] - batch.pose[flat: i]) < 1e-4) }
    for i in 0..<xyz.value.count { #expect(abs(xyz.value[flat: i] - batch.xyz[flat: i]) < 1e-2) }
    #expect(EKDLoss.studentPosition(uvz, target: batch.uvz, cropWidth: 48, cropHeight: 48).value.scalar == 0)
    // Z₀ is the wrist's depth and s the wrist-to-middle-MCP length of each sample.
    for b in 0..<batch.count {
      let joints = PoseTensor.joints(batch.xyz, sample: b)
      #expect(batch.rootDepth[flat: b] == joints[0].z)
      #expect(abs(batch.scale[flat: b] - HandSkeleton.scale(joints)) < 1e-3)
    }
  }
}

@Suite struct TeacherReachesTheStudent {
  /// Loss_θ and Loss_pos_mod must move the student (through Pᵖ): detaching
  /// the predicted pose from either would leave these gradients at zero.
  @Test(arguments: [LossWeights(angle: 1, offset: 0, modifiedPosition: 0), LossWeights(angle: 0, offset: 0, modifiedPosition: 1)])
  func theTeachersTermsGiveTheStudentAGradient(weights: LossWeights) throws {
    let (student, _, objective, tape) = try teacherProbe(seed: 2, bounds: tightBounds, weights: weights)
    #expect((objective.terms[.angle] ?? objective.terms[.modifiedPosition] ?? 0) > 0)
    student.zeroGradients()
    tape.backward(from: objective.loss - objective.studentLoss)
    let norm = student.trainableParameters.map { $0.grad.scalars.map { $0 * $0 }.reduce(0, +) }.reduce(0, +)
    #expect(norm > 1e-12, "the teacher's term sent no gradient to the student")
  }
}

/// Bounds so tight that every untrained prediction violates them.
let tightBounds = AngleBounds(lower: [Double](repeating: 0.3, count: 20), upper: [Double](repeating: 0.31, count: 20), dataset: "tight", sampleCount: 1)

@Suite(.serialized) struct Overfit {
  /// The default demo student can learn: on four fixed images it drives its
  /// training loss close to zero. (How well it generalises is the benchmark
  /// job's business, `make run`, not a unit test's.)
  @Test func theDemoStudentFitsAFewImages() throws {
    var c = TrainingConfiguration()
    (c.student, c.mode, c.steps, c.batchSize, c.threads, c.seed, c.augment) = ("small", .baseline, 150, 4, 2, 1, false)
    (c.learningRate, c.lambdaHeatmap, c.warmupSteps) = (3e-3, 1, 10)
    let trainer = try Trainer(configuration: c, train: SyntheticStream(count: 4, seed: 9, size: 64), bounds: bounds)
    var first: Float?, last: Float = 0
    try trainer.run { r in
      first = first ?? r.terms[.studentPosition]
      last = r.terms[.studentPosition]!
    }
    #expect(last < 0.1 * first!, "Loss_pos_stu \(first!) → \(last)")
  }
}

@Suite struct Schedules {
  /// Warm-up rises linearly to the peak, the cosine falls to zero at the end; the step
  /// schedule divides by 10 at 60% and by 100 at 85%.
  @Test func learningRateFollowsWarmUpThenTheSchedule() throws {
    var c = configuration(.baseline, steps: 1000)
    (c.learningRate, c.warmupSteps, c.schedule) = (1, 100, .cosine)
    let t = try Trainer(configuration: c, train: source, bounds: bounds)
    #expect(abs(t.learningRate(at: 0) - 0.01) < 1e-6 && abs(t.learningRate(at: 49) - 0.5) < 1e-6)
    #expect(abs(t.learningRate(at: 100) - 1) < 1e-6)
    #expect(abs(t.learningRate(at: 550) - 0.5) < 1e-6)  // half-way through the cosine
    #expect(t.learningRate(at: 999) < 1e-4)
    c.schedule = .step
    c.warmupSteps = 0
    let s = try Trainer(configuration: c, train: source, bounds: bounds)
    #expect(s.learningRate(at: 599) == 1 && s.learningRate(at: 600) == Float(0.1) && s.learningRate(at: 850) == Float(0.01))
  }

  /// The teacher's λs are 0 before the start, ramp linearly, then stay full; the
  /// student's own weights never ramp.
  @Test func teacherRampsFromItsStart() {
    var c = configuration(.full, steps: 100)
    (c.teacherStart, c.teacherRamp, c.lambdaAngle, c.lambdaHeatmap) = (40, 20, 2, 1)
    #expect(c.weights(atStep: 39).angle == 0 && c.weights(atStep: 39).heatmap == 1)
    #expect(abs(c.weights(atStep: 49).angle - 1) < 1e-6)
    #expect(c.weights(atStep: 59).angle == 2 && c.weights(atStep: 99).offset == c.lambdaOffset)
    c.mode = .baseline
    #expect(c.weights(atStep: 99) == LossWeights(heatmap: 1, angle: 0, offset: 0, modifiedPosition: 0))
  }
}

@Suite(.serialized) struct CheckpointsOnDisk {
  /// The student a checkpoint yields is exactly a zoo student: none of the offset
  /// network's tensors live under `student.`, and they are all saved beside it.
  @Test func theOffsetNetworkStaysOutOfTheStudent() throws {
    let dir = scratch("separate")
    let trainer = try Trainer(configuration: configuration(.full, steps: 2), train: source, bounds: bounds)
    try trainer.run(checkpointDirectory: dir)
    let contents = try Safetensors.read(URL(fileURLWithPath: dir + "/checkpoint.safetensors"))
    let zoo = try StudentZoo.make("tiny", inputSize: 32)
    #expect(Set(contents.names.filter { $0.hasPrefix("student.") }) == Set(zoo.namedParameters.map { "student." + $0.name }))
    #expect(Set(contents.names.filter { $0.hasPrefix("teacher.offset.") }) == Set(trainer.teacher.offsetNetwork.namedParameters.map { "teacher.offset." + $0.name }))
    let (student, _, _) = try Trainer.student(fromCheckpoint: dir)
    #expect(try ModelSummary(student, inputSize: 32).parameters == (try ModelSummary(zoo, inputSize: 32).parameters))
    for ((name, a), (_, b)) in zip(student.namedParameters, trainer.student.namedParameters) { #expect(a.value == b.value, "\(name)") }
  }

  /// A run that breaks (a NaN) stops, and the checkpoint on disk is the last good one.
  @Test func aBrokenRunKeepsTheLastGoodCheckpoint() throws {
    let dir = scratch("last-good")
    let trainer = try Trainer(configuration: configuration(.baseline, steps: 6), train: source, bounds: bounds)
    var saved: [Tensor] = []
    #expect(throws: TrainingError.self) {
      try trainer.run(checkpointDirectory: dir) { r in
        if r.step == 2 { saved = trainer.student.trainableParameters.map(\.value) }
        if r.step == 3 { trainer.student.trainableParameters[0].value[flat: 0] = .nan }  // after the step-2 save
      }
    }
    let back = try Trainer.resume(from: dir, train: source)
    #expect(back.step == 2)
    #expect(back.student.trainableParameters.map(\.value) == saved)
  }
}

@Suite struct Evaluation {
  /// The evaluator scores every sample once, in order, with the decode and the
  /// reconstruction a caller would do by hand.
  @Test func evaluatorScoresEverySampleAsADecodeWould() throws {
    let student = try StudentZoo.make("tiny", inputSize: 32, seed: 4)
    let test = SyntheticStream(count: 10, seed: 31, size: 48)
    let (metrics, _) = try Evaluator.evaluate(student, source: test, bounds: bounds, batchSize: 4, threads: 1, keepWorst: 2)
    #expect(metrics.samples == 10 && metrics.errors3D.count == 210 && metrics.errors2D.count == 210)
    // By hand, for the first batch.
    let loader = BatchLoader(source: test, batchSize: 4, cropSize: 32, shuffle: false)
    let batch = try loader.next()!
    loader.stop()
    let tape = Tape(mode: .inference, threads: 1)
    let out = student.predict(tape.constant(batch.images))
    let uvz = tape.decode25D(heatmaps: out.heatmaps, depths: out.depths, cropWidth: 32, cropHeight: 32)
    let xyz = tape.reconstruct(uvz, intrinsics: batch.intrinsics, rootDepth: batch.rootDepth, scale: batch.scale).value
    let p = PoseTensor.joints(xyz, sample: 0), g = PoseTensor.joints(batch.xyz, sample: 0)
    for k in 0..<21 { #expect(abs(metrics.errors3D[k] - Double((p[k] - g[k]).length)) < 1e-3) }
  }
}

@Suite struct Prediction {
  /// A left hand is mirrored in, predicted as a right hand and mirrored back: the
  /// mirror image predicted as a left hand is the mirror of the right-hand prediction.
  @Test func aLeftHandIsTheMirrorOfTheRightHand() throws {
    let student = try StudentZoo.make("tiny", inputSize: 32, seed: 6)
    let s = SyntheticHands.sample(index: 2, seed: 8, size: 96)
    let k = s.intrinsics, w = s.image.width
    let box = (x: 20.0, y: 14.0, width: 50.0, height: 60.0)
    let right = Predictor.predict(student, bounds: bounds, inputs: [.init(image: s.image, box: box, hand: .right, intrinsics: k)], boneLength: 90)[0]
    let mirroredBox = (x: Double(w) - box.x - box.width, y: box.y, width: box.width, height: box.height)
    let left = Predictor.predict(
      student, bounds: bounds, inputs: [.init(image: s.image.flippedHorizontally(), box: mirroredBox, hand: .left, intrinsics: Mirroring.mirror(intrinsics: k, width: w))],
      boneLength: 90)[0]
    for j in 0..<21 {
      #expect(abs(left.uv[j].x - (Double(w - 1) - right.uv[j].x)) < 1e-3 && abs(left.uv[j].y - right.uv[j].y) < 1e-3)
      #expect(abs(left.relative[j].x + right.relative[j].x) < 1e-6 && abs(left.relative[j].z - right.relative[j].z) < 1e-6)
    }
    #expect(left.f == right.f && left.violated == right.violated)
    #expect(right.rootDepth != nil && abs(left.rootDepth! - right.rootDepth!) < 1e-6)
  }

  /// With intrinsics, the metric joints reproject onto the predicted 2D and the
  /// wrist-to-middle-MCP bone has the length asked for.
  @Test func metricJointsReprojectAndKeepTheBoneLength() throws {
    let student = try StudentZoo.make("tiny", inputSize: 32, seed: 7)
    let s = SyntheticHands.sample(index: 5, seed: 8, size: 96)
    let r = Predictor.predict(student, bounds: bounds, inputs: [.init(image: s.image, hand: .right, intrinsics: s.intrinsics)], boneLength: 85)[0]
    let c = try #require(r.camera)
    let k = Intrinsics(matrix: s.intrinsics)
    for j in 0..<21 {
      let (u, v) = k.project(c[j])
      #expect(abs(u - r.uv[j].x) < 1e-6 && abs(v - r.uv[j].y) < 1e-6)
    }
    #expect(abs(HandSkeleton.scale(c) - 85) < 1e-6)
    #expect(abs(c[0].z - r.rootDepth!) < 1e-9)
  }
}

@Suite struct OlderCheckpoints {
  /// A configuration written before warm-up, the heatmap term and the teacher's
  /// schedule existed reads back with their old behaviour (all off).
  @Test func aConfigurationWithoutTheNewFieldsReadsAsItWasTrained() throws {
    let old = """
      {"student": "tiny", "inputSize": 32, "mode": "full", "steps": 1500, "batchSize": 32, "learningRate": 0.002, "schedule": "cosine",
       "lambdaAngle": 1, "lambdaOffset": 1, "lambdaModified": 1, "seed": 0, "threads": 2, "checkpointEvery": 250, "augment": true, "dataset": "synth"}
      """
    let c = try JSONDecoder().decode(TrainingConfiguration.self, from: Data(old.utf8))
    #expect(c.warmupSteps == 0 && c.lambdaHeatmap == 0 && c.teacherStart == 0 && c.teacherRamp == 0 && c.heatmapSigma == 1)
    #expect(c.mode == .full && c.student == "tiny" && c.learningRate == 0.002)
    // And today's round-trips, defaults included.
    var now = TrainingConfiguration()
    now.teacherStart = 7
    #expect(try JSONDecoder().decode(TrainingConfiguration.self, from: JSONEncoder().encode(now)) == now)
  }
}
