import EKDData
import EKDTensor
import Foundation

/// One training run as N replicas in this process (`ekd train --workers N`):
/// each replica has its own copy of the student, takes 1/N of every batch on its
/// own thread, normalises with the whole batch's statistics and sums gradients
/// with the others, so the step is the one a single trainer takes on the whole
/// batch, up to rounding. Replica 0 writes checkpoints and reports.
///
/// Why: on a few cores, data parallelism beats op-level threading for small
/// students, whose ops are too short to share out (docs/performance.md).
public final class LocalDataParallel {
  public let trainers: [Trainer]
  public let group: LocalReplicas

  /// `trainers` must share one configuration; each gets its share of the
  /// configuration's threads (at least one).
  public init(_ trainers: [Trainer]) throws(TrainingError) {
    guard let first = trainers.first else { throw .configuration("data-parallel training needs at least one replica") }
    guard trainers.allSatisfy({ $0.configuration == first.configuration }) else {
      throw .configuration("the replicas of one run must share its configuration")
    }
    self.trainers = trainers
    group = LocalReplicas(size: trainers.count)
    for (r, t) in trainers.enumerated() {
      t.replicas = trainers.count > 1 ? group.member(r) : nil
      t.threads = max(1, first.configuration.threads / trainers.count)
    }
  }

  /// Trains every replica up to `until`, as `Trainer.run` does; `report` sees replica 0's steps.
  /// When a replica fails the others stop, and its error is the one thrown.
  public func run(until last: Int? = nil, checkpointDirectory: String? = nil, report: @escaping (StepReport) -> Void = { _ in })
    throws(TrainingError)
  {
    let box = Outcome()
    nonisolated(unsafe) let (trainers, report) = (self.trainers, report)
    group.run { [group] r in
      do throws(TrainingError) {
        try trainers[r].run(until: last, checkpointDirectory: checkpointDirectory, report: r == 0 ? report : { _ in })
      } catch {
        box.record(error)
        group.cancel()
      }
    }
    if let e = box.first { throw e }
  }

  /// One step on every replica, replica r on `shards[r]`; replica 0's report.
  @discardableResult
  public func step(_ shards: [Batch]) throws(TrainingError) -> StepReport {
    precondition(shards.count == trainers.count, "one shard per replica")
    let box = Outcome()
    nonisolated(unsafe) let trainers = self.trainers
    let reports = group.run { [group] r -> StepReport? in
      do throws(TrainingError) {
        return try trainers[r].step(shards[r])
      } catch {
        box.record(error)
        group.cancel()
        return nil
      }
    }
    if let e = box.first { throw e }
    guard !group.isCancelled, let first = reports[0] else { throw .replicaFailed }
    return first
  }

  /// The first error any replica met (the others' follow from it).
  private final class Outcome: @unchecked Sendable {
    private let lock = NSLock()
    private var errors: [TrainingError] = []
    func record(_ e: TrainingError) { lock.withLock { errors.append(e) } }
    var first: TrainingError? { lock.withLock { errors.first { if case .replicaFailed = $0 { false } else { true } } ?? errors.first } }
  }
}
