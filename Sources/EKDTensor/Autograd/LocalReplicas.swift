import Foundation
import Synchronization

/// N replicas of a training run inside one process, one thread each: a
/// `ReplicaGroup` without MPI.
///
/// Why: on few cores, small students spend their time in per-op fixed costs and
/// in GEMMs too thin to share well between threads. Two replicas with one thread
/// each, each on half the batch, keep both cores busy with whole ops and meet
/// only at batch norm and the gradient sum (docs/performance.md has the figures).
///
/// Members meet at a spinning barrier (waits are microseconds: both replicas run
/// the same ops on equal shards) that yields the core when a wait grows long.
/// Sums are in place, in rank order, so every replica gets bit-identical results.
/// After `cancel()` (a replica failed) the survivors leave the collectives it will
/// never join, and `isCancelled` tells them to stop.
public final class LocalReplicas: @unchecked Sendable {
  public let size: Int
  /// generation · 1024 + members arrived at the barrier in progress, in one word, so
  /// that completing a barrier and leaving it (when cancelled) exclude each other.
  private let state = Atomic<Int>(0)
  private let cancelled = Atomic<Bool>(false)
  /// Each member's buffer for the collective in progress (member r writes slot r only).
  private let slots: UnsafeMutablePointer<UnsafeMutableRawPointer?>

  public init(size: Int) {
    precondition(size >= 1 && size < 1024, "a group has 1 to 1023 replicas")
    self.size = size
    slots = .allocate(capacity: size)
    slots.initialize(repeating: nil, count: size)
  }

  deinit { slots.deallocate() }

  /// The replica of rank `rank` (0 ..< size).
  public func member(_ rank: Int) -> any ReplicaGroup {
    precondition((0..<size).contains(rank), "rank \(rank) of \(size)")
    return Member(rank: rank, group: self)
  }

  /// Runs `body(rank)` on `size` threads at once (rank 0 on a new thread too), waits
  /// for all of them, and returns their results in rank order.
  ///
  /// Each thread writes only its own slot (`Parallel.collect`).
  @discardableResult
  public func run<T>(_ body: @escaping @Sendable (Int) -> T) -> [T] {
    Parallel.collect(size) { results in
      nonisolated(unsafe) let slots = results
      let done = DispatchGroup()
      for r in 0..<size {
        done.enter()
        let t = Thread {
          slots[r] = body(r)
          done.leave()
        }
        t.stackSize = 16 << 20
        t.start()
      }
      done.wait()
    }.map { $0! }
  }

  /// Called by a member that has failed and will call no collective again: the
  /// others leave any collective it has not joined, and every later one, at once.
  public func cancel() { cancelled.store(true, ordering: .releasing) }
  public var isCancelled: Bool { cancelled.load(ordering: .acquiring) }

  /// Waits until all `size` members have arrived: true. With `cancellable`, a member
  /// of a cancelled group may instead leave a barrier that not everyone has reached:
  /// false, and then nobody passes that barrier (a member that fails never arrives).
  /// Once everyone has arrived the barrier completes even if cancelled, so the
  /// collective after it can rely on every member's buffer; the barrier that ends a
  /// collective is therefore never cancellable (everyone who passed the first reaches it).
  private func barrier(cancellable: Bool) -> Bool {
    if size == 1 { return !(cancellable && isCancelled) }
    let arrival = state.add(1, ordering: .acquiringAndReleasing).newValue
    let generation = arrival / 1024
    var spins = 0
    while true {
      let now = state.load(ordering: .acquiring)
      if now / 1024 != generation { return true }
      if now % 1024 == size {
        // Everyone is here: complete it (whoever gets there first).
        if state.compareExchange(expected: now, desired: (generation + 1) * 1024, ordering: .acquiringAndReleasing).exchanged { return true }
        continue
      }
      if cancellable && isCancelled {
        if state.compareExchange(expected: now, desired: now - 1, ordering: .acquiringAndReleasing).exchanged { return false }
        continue
      }
      spins += 1
      // Spin first (the other replica is usually microseconds away), then give the
      // core to anyone runnable (the data loader, more replicas than cores), then sleep.
      if spins > 20_000 { usleep(50) } else if spins > 2_000 { sched_yield() }
    }
  }

  /// `values` (of `count` elements of `T`) becomes the sum over all members, each
  /// member summing one slice of every member's buffer, in rank order.
  fileprivate func sum<T: FloatingPoint>(_ rank: Int, _ values: UnsafeMutablePointer<T>, count: Int) {
    slots[rank] = UnsafeMutableRawPointer(values)
    guard barrier(cancellable: true) else { return }
    let lo = count * rank / size, hi = count * (rank + 1) / size
    if lo < hi {
      let parts = (0..<size).map { slots[$0]!.assumingMemoryBound(to: T.self) }
      if size == 2 {
        let (a, b) = (parts[0], parts[1])
        for i in lo..<hi {
          let s = a[i] + b[i]
          (a[i], b[i]) = (s, s)
        }
      } else {
        for i in lo..<hi {
          var s = parts[0][i]
          for m in 1..<size { s += parts[m][i] }
          for m in 0..<size { parts[m][i] = s }
        }
      }
    }
    _ = barrier(cancellable: false)  // nobody reuses its buffer while another member still reads it
  }

  fileprivate func broadcast(_ rank: Int, _ values: UnsafeMutableBufferPointer<Float>, from root: Int) {
    slots[rank] = UnsafeMutableRawPointer(values.baseAddress)
    guard barrier(cancellable: true) else { return }
    if rank != root, let base = values.baseAddress, let source = slots[root] {
      base.update(from: source.assumingMemoryBound(to: Float.self), count: values.count)
    }
    _ = barrier(cancellable: false)
  }

  private final class Member: ReplicaGroup {
    let rank: Int, group: LocalReplicas
    init(rank: Int, group: LocalReplicas) { (self.rank, self.group) = (rank, group) }
    var size: Int { group.size }
    var isCancelled: Bool { group.isCancelled }

    func sum(_ values: UnsafeMutableBufferPointer<Float>) {
      group.sum(rank, values.baseAddress ?? UnsafeMutablePointer(bitPattern: 8)!, count: values.count)
    }
    func sum(_ values: UnsafeMutableBufferPointer<Double>) {
      group.sum(rank, values.baseAddress ?? UnsafeMutablePointer(bitPattern: 8)!, count: values.count)
    }
    func broadcast(_ values: UnsafeMutableBufferPointer<Float>, from root: Int) { group.broadcast(rank, values, from: root) }
  }
}
