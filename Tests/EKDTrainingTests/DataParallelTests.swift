import EKDData
import EKDLayers
import EKDTensor
import EKDTraining
import Foundation
import Testing
import _EKDTestSupport

/// Data-parallel training in one process (two replicas on two threads, summing
/// through `LocalReplicas`, as `ekd train --workers 2` does): the step two replicas take on the halves of a batch
/// is the step one trainer takes on the whole batch.
@Suite(.serialized) struct DataParallel {
  func batch(shard: (Int, Int)) throws -> Batch {
    let loader = BatchLoader(source: source, batchSize: 8, cropSize: 32, augmentation: Augmentation(), shuffle: true, seed: 3, shard: shard)
    defer { loader.stop() }
    return try loader.next()!
  }

  /// The gradients of every student and offset-network tensor, after one step.
  func gradients(_ t: Trainer) -> [(String, [Float])] {
    t.student.namedParameters.filter(\.parameter.isTrainable).map { ($0.name, $0.parameter.grad.scalars) }
      + t.teacher.offsetNetwork.namedParameters.filter(\.parameter.isTrainable).map { ("offset." + $0.name, $0.parameter.grad.scalars) }
  }

  @Test func twoReplicasTakeTheStepOfOneProcessOnTheWholeBatch() throws {
    let whole = try Trainer(configuration: configuration(.full, steps: 4), train: source, bounds: bounds)
    let wholeReport = try whole.step(try batch(shard: (0, 1)))
    let expected = gradients(whole)

    let group = LocalReplicas(size: 2)
    // Rank 1 starts from other weights: the broadcast must make them rank 0's.
    var configs = [configuration(.full, steps: 4), configuration(.full, steps: 4)]
    configs[1].seed = 99
    let trainers = try configs.map { try Trainer(configuration: $0, train: source, bounds: bounds) }
    let halves = try [batch(shard: (0, 2)), batch(shard: (1, 2))]
    #expect(halves[0].count == 4 && halves[1].count == 4)
    let outcomes = group.run { r -> Result<StepReport, TrainingError> in
      trainers[r].replicas = group.member(r)
      // Many small buckets, started while backward runs (the default fits tiny in one).
      trainers[r].gradientBucketFloats = 5000
      trainers[r].broadcastParameters()
      return Result { () throws(TrainingError) in try trainers[r].step(halves[r]) }
    }
    let reports = try outcomes.map { try $0.get() }
    let globalScale = expected.flatMap(\.1).map(abs).max()!
    for r in 0..<2 {
      for ((name, got), (_, want)) in zip(gradients(trainers[r]), expected) {
        let worst = zip(got, want).map { abs($0 - $1) }.max() ?? 0
        let scale = want.map(abs).max() ?? 0
        #expect(worst <= 1e-4 * scale + 1e-6 * globalScale, "rank \(r) \(name): \(worst) of \(scale)")
      }
      // After Adam every replica holds the very same weights: replicas never drift apart.
      // (Against the whole batch's weights there is no useful bound: an element whose
      // gradient is rounding noise — the heatmap channels' output bias, which the
      // spatial softmax ignores — moves by Adam's normalised step whatever its sign.)
      for ((name, a), (_, b)) in zip(trainers[r].student.namedParameters, trainers[0].student.namedParameters) {
        #expect(a.value == b.value, "rank \(r) \(name) differs from rank 0 after the step")
      }
      // The report's terms are the whole batch's.
      #expect(Set(reports[r].terms.keys) == Set(wholeReport.terms.keys))
      for (term, value) in wholeReport.terms { #expect(abs((reports[r].terms[term] ?? .nan) - value) <= 1e-4 * max(abs(value), 1), "\(term)") }
    }
  }

  /// A rank that resumed elsewhere (here: rank 0 finished, rank 1 at step 0) is an
  /// error on that rank, before any rank can return: nothing waits forever in a collective.
  @Test func ranksAtDifferentStepsFailInsteadOfHanging() throws {
    let group = LocalReplicas(size: 2)
    let finished = try Trainer(configuration: configuration(.baseline, steps: 2), train: source, bounds: bounds)
    try finished.run()
    let fresh = try Trainer(configuration: configuration(.baseline, steps: 2), train: source, bounds: bounds)
    let trainers = [finished, fresh]
    let outcomes = group.run { r -> String in
      trainers[r].replicas = group.member(r)
      do {
        try trainers[r].run()
        return "returned"
      } catch { return "\(error)" }
    }
    #expect(outcomes[0] == "returned")
    #expect(outcomes[1].contains("rank 1 is at step 0 but rank 0 at step 2"), "\(outcomes[1])")
  }

  @Test func aBatchThatDoesNotSplitIsAConfigurationError() throws {
    let group = LocalReplicas(size: 3)
    let trainer = try Trainer(configuration: configuration(.baseline, steps: 1), train: source, bounds: bounds)
    trainer.replicas = group.member(0)
    #expect {
      try trainer.run()
    } throws: { error in
      guard case TrainingError.configuration(let message) = error else { return false }
      return message.contains("3 equal parts")
    }
  }

  /// `ekd train --workers 2`: replica 0 saves, every replica ends with the same
  /// weights, and the run resumes from its own checkpoint.
  @Test func workersTrainOneStudentAndCheckpointIt() throws {
    let dir = scratch("local-data-parallel")
    var c = configuration(.full, steps: 3)
    c.batchSize = 8
    let parallel = try LocalDataParallel((0..<2).map { _ in try Trainer(configuration: c, train: source, bounds: bounds) })
    #expect(parallel.trainers.allSatisfy { $0.threads == 1 }, "two threads shared out over two replicas")
    var steps: [Int] = []
    try parallel.run(checkpointDirectory: dir) { steps.append($0.step) }
    #expect(steps == [1, 2, 3], "replica 0's steps are reported, once each")
    for ((name, a), (_, b)) in zip(parallel.trainers[1].student.namedParameters, parallel.trainers[0].student.namedParameters) {
      #expect(a.value == b.value, "\(name) differs between the replicas")
    }
    let resumed = try Trainer.resume(from: dir, train: source)
    #expect(resumed.step == 3)
    for ((name, a), (_, b)) in zip(resumed.student.namedParameters, parallel.trainers[0].student.namedParameters) {
      #expect(a.value == b.value, "\(name): the checkpoint is not replica 0's student")
    }
  }

  /// A replica whose shard breaks the loss stops every replica, without a hang, and
  /// its own error (naming the term) is the one thrown, not "another replica failed".
  @Test func aFailingReplicaStopsTheOthersWithItsOwnError() throws {
    let parallel = try LocalDataParallel((0..<2).map { _ in try Trainer(configuration: configuration(.baseline, steps: 4), train: source, bounds: bounds) })
    // Per-replica batch norm keeps the NaN out of replica 0, which goes on into backward
    // and waits in the gradient sum for a replica that has already given up.
    for t in parallel.trainers { t.synchronisesBatchNorm = false }
    let good = try batch(shard: (0, 2))
    var bad = try batch(shard: (1, 2))
    bad.images.withUnsafeMutableBufferPointer { $0[0] = .nan }
    #expect {
      try parallel.step([good, bad])
    } throws: { error in
      guard case TrainingError.nonFinite(let step, let term) = error else { return false }
      return step == 0 && term.contains("loss term")
    }
    #expect(parallel.group.isCancelled)
  }
}
