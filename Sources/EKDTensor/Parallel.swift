import Foundation
import Synchronization

/// Static work splitting over a fixed number of workers.
///
/// `threads` is always an argument: the caller (a tape, a benchmark) decides,
/// so that the same thread count gives the same numbers.
public enum Parallel {
  /// Calls `body(range, worker)` for `workers` contiguous slices of `0..<count`.
  /// Runs inline when one worker suffices.
  @inline(__always)
  public static func chunks(
    _ count: Int, threads: Int, minimumPerWorker: Int = 1,
    _ body: (Range<Int>, Int) -> Void
  ) {
    let workers = max(1, min(threads, count / max(minimumPerWorker, 1)))
    if workers <= 1 {
      if count > 0 { body(0..<count, 0) }
      return
    }
    withoutActuallyEscaping(body) { body in
      let slice = { (w: Int) in
        let lo = count * w / workers
        let hi = count * (w + 1) / workers
        if lo < hi { body(lo..<hi, w) }
      }
      if !WorkerPool.shared.perform(workers, slice) {
        DispatchQueue.concurrentPerform(iterations: workers, execute: slice)
      }
    }
  }
}

/// Threads that stay awake between the ops of a step.
///
/// Why: a small student's op runs for tens of microseconds, and handing it to
/// sleeping threads (as `DispatchQueue.concurrentPerform` does) costs about as
/// much again, every op. These workers spin for a while after each job, so the
/// next op starts on them at once; after a short idle spell they sleep, so an
/// idle process burns no CPU. One job at a time: a caller that finds the pool
/// busy (another thread's op, or a job started from inside a job) is told to
/// use Dispatch instead.
final class WorkerPool: @unchecked Sendable {
  static let shared = WorkerPool(workers: min(max(ProcessInfo.processInfo.activeProcessorCount - 1, 0), 63))

  private let workers: Int
  private let busy = Mutex(false)
  private let generation = Atomic<Int>(0)
  private let remaining = Atomic<Int>(0)
  private let sleepers = Atomic<Int>(0)
  private let wake = NSCondition()
  /// The job in progress and its worker count; written before `generation` is bumped.
  nonisolated(unsafe) private var job: ((Int) -> Void)?
  nonisolated(unsafe) private var jobWorkers = 0

  /// Spins (~50 µs) before a worker yields its core, then sleeps after ~2 ms idle.
  private static let spinsBeforeYield = 20_000, yieldsBeforeSleep = 2_000

  init(workers: Int) {
    self.workers = workers
    for index in 0..<workers {
      let t = Thread { [unowned self] in self.loop(index + 1) }
      t.stackSize = 16 << 20
      t.name = "ekd-worker-\(index + 1)"
      t.start()
    }
  }

  /// Runs `body(0 ..< count)` with body(0) on the caller; false (nothing run) when
  /// the pool is busy or too small.
  func perform(_ count: Int, _ body: @escaping (Int) -> Void) -> Bool {
    guard count - 1 <= workers else { return false }
    let acquired = busy.withLock { taken -> Bool in
      if taken { return false }
      taken = true
      return true
    }
    guard acquired else { return false }
    defer { busy.withLock { $0 = false } }
    job = body
    jobWorkers = count
    remaining.store(workers, ordering: .relaxed)
    // Sequentially consistent with the sleeper's count and re-check: either it sees
    // the new job or this sees it asleep (and wakes it).
    generation.add(1, ordering: .sequentiallyConsistent)
    if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
      wake.lock()
      wake.broadcast()
      wake.unlock()
    }
    body(0)
    var spins = 0
    while remaining.load(ordering: .acquiring) > 0 {
      spins += 1
      if spins > Self.spinsBeforeYield { sched_yield() }
    }
    job = nil
    return true
  }

  private func loop(_ index: Int) {
    var seen = 0
    while true {
      var spins = 0
      while generation.load(ordering: .acquiring) == seen {
        spins += 1
        if spins > Self.spinsBeforeYield + Self.yieldsBeforeSleep {
          wake.lock()
          sleepers.add(1, ordering: .sequentiallyConsistent)
          while generation.load(ordering: .sequentiallyConsistent) == seen { wake.wait() }
          sleepers.subtract(1, ordering: .sequentiallyConsistent)
          wake.unlock()
        } else if spins > Self.spinsBeforeYield {
          sched_yield()
        }
      }
      seen = generation.load(ordering: .acquiring)
      if index < jobWorkers, let job { job(index) }
      remaining.subtract(1, ordering: .releasing)
    }
  }
}
