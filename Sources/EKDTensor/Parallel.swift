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
    // The pool's job must not outlive this call (withoutActuallyEscaping checks it);
    // Dispatch gets the non-escaping closure itself.
    let pooled =
      !WorkerPool.disabled
      && withoutActuallyEscaping(body) { body in
        WorkerPool.shared.perform(workers) { w in
          let lo = count * w / workers
          let hi = count * (w + 1) / workers
          if lo < hi { body(lo..<hi, w) }
        }
      }
    if !pooled {
      DispatchQueue.concurrentPerform(iterations: workers) { w in
        let lo = count * w / workers
        let hi = count * (w + 1) / workers
        if lo < hi { body(lo..<hi, w) }
      }
    }
  }
}

extension Parallel {
  /// Calls `body(i)` for every i in `0..<count` on up to `threads` threads, each taking
  /// the next index as it finishes one. Why not `chunks`: with one slice per thread, a
  /// thread the machine runs slowly (this VM has spells in which a second thread gets a
  /// fraction of a core) holds up the whole call; here the other thread takes its share.
  public static func each(_ count: Int, threads: Int, _ body: (Int) -> Void) {
    let workers = max(1, min(threads, count))
    guard workers > 1 else {
      for i in 0..<count { body(i) }
      return
    }
    let next = Counter()
    chunks(workers, threads: workers) { _, _ in
      while case let i = next.value.add(1, ordering: .relaxed).oldValue, i < count { body(i) }
    }
  }

  private final class Counter: Sendable {
    let value = Atomic<Int>(0)
  }

  /// `count` results of concurrent threads, each written into its own slot of the
  /// buffer `fill` gets (nil where none was written). Why not a shared Swift array:
  /// threads assigning its elements race on its copy-on-write check.
  public static func collect<T>(_ count: Int, _ fill: (UnsafeMutableBufferPointer<T?>) -> Void) -> [T?] {
    let slots = UnsafeMutableBufferPointer<T?>.allocate(capacity: count)
    slots.initialize(repeating: nil)
    defer {
      _ = slots.deinitialize()
      slots.deallocate()
    }
    fill(slots)
    return Array(slots)
  }
}

/// Threads that stay awake between the ops of a step.
///
/// Why: a small student's op runs for tens of microseconds, and handing it to
/// sleeping threads (as `DispatchQueue.concurrentPerform` does) costs about as
/// much again, every op. These workers spin for a while after each job, so the
/// next op starts on them at once; after a short idle spell they sleep, so an
/// idle process burns no CPU.
///
/// Slices are claimed, not assigned: the caller runs slice 0 and then claims
/// whatever no worker has claimed yet, so a worker the OS has not scheduled (a
/// busy machine) delays nothing. One job at a time: a caller that finds the pool
/// busy (another thread's op, or a job started inside a job) uses Dispatch.
final class WorkerPool: @unchecked Sendable {
  static let disabled = ProcessInfo.processInfo.environment["EKD_AB_NO_POOL"] != nil
  static let shared = WorkerPool(workers: min(max(ProcessInfo.processInfo.activeProcessorCount - 1, 0), 63))

  private struct Job {
    var body: ((Int) -> Void)?
    var count = 0, next = 0, generation = 0
  }
  private let workers: Int
  private let busy = Mutex(false)
  private let state = Mutex(Job())
  /// The generation of the latest job, for workers to spin on without the lock.
  private let posted = Atomic<Int>(0)
  private let finished = Atomic<Int>(0)
  private let sleepers = Atomic<Int>(0)
  private let wake = NSCondition()

  /// Spins (~50 µs) before a worker yields its core, then sleeps after ~2 ms idle.
  private static let spinsBeforeYield = 20_000, yieldsBeforeSleep = 2_000

  init(workers: Int) {
    self.workers = workers
    for index in 0..<workers {
      let t = Thread { [unowned self] in self.loop() }
      t.stackSize = 16 << 20
      t.name = "ekd-worker-\(index + 1)"
      t.start()
    }
  }

  /// Runs `body(i)` for every i in 0 ..< count, body(0) on the caller; false (nothing
  /// run) when the pool is busy or has no workers.
  func perform(_ count: Int, _ body: @escaping (Int) -> Void) -> Bool {
    guard workers > 0 else { return false }
    let acquired = busy.withLock { taken -> Bool in
      if taken { return false }
      taken = true
      return true
    }
    guard acquired else { return false }
    defer { busy.withLock { $0 = false } }
    finished.store(0, ordering: .relaxed)
    let generation = state.withLock { job -> Int in
      job = Job(body: body, count: count, next: 1, generation: job.generation + 1)
      return job.generation
    }
    // Sequentially consistent with the sleeper's count and re-check: either it sees
    // the new job or this sees it asleep (and wakes it).
    posted.store(generation, ordering: .sequentiallyConsistent)
    if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
      wake.lock()
      wake.broadcast()
      wake.unlock()
    }
    body(0)
    var ranHere = 1
    while let i = claim(generation) {
      body(i)
      ranHere += 1
    }
    // Wait only for slices a worker claimed (and so is running).
    var spins = 0
    while finished.load(ordering: .acquiring) < count - ranHere {
      spins += 1
      if spins > Self.spinsBeforeYield { sched_yield() }
    }
    state.withLock { $0.body = nil }
    return true
  }

  /// The next unclaimed slice of job `generation`, if any.
  private func claim(_ generation: Int) -> Int? {
    state.withLock { job -> Int? in
      guard job.generation == generation, job.next < job.count else { return nil }
      job.next += 1
      return job.next - 1
    }
  }

  private func loop() {
    var seen = 0
    while true {
      var spins = 0
      while posted.load(ordering: .acquiring) == seen {
        spins += 1
        if spins > Self.spinsBeforeYield + Self.yieldsBeforeSleep {
          wake.lock()
          sleepers.add(1, ordering: .sequentiallyConsistent)
          while posted.load(ordering: .sequentiallyConsistent) == seen { wake.wait() }
          sleepers.subtract(1, ordering: .sequentiallyConsistent)
          wake.unlock()
        } else if spins > Self.spinsBeforeYield {
          sched_yield()
        }
      }
      seen = posted.load(ordering: .acquiring)
      while true {
        // The body is taken together with the claim, so a late worker never runs a finished job.
        var claimed = state.withLock { job -> ((Int) -> Void, Int)? in
          guard job.generation == seen, job.next < job.count, let body = job.body else { return nil }
          job.next += 1
          return (body, job.next - 1)
        }
        guard let (body, i) = claimed else { break }
        body(i)
        // Let go of the body before saying so: the caller's closure must not outlive its call.
        claimed = nil
        _ = consume body
        finished.add(1, ordering: .releasing)
      }
    }
  }
}
