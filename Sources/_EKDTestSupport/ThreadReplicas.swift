import EKDTensor
import Foundation

/// N replicas in one process, one thread each: an all-reduce without MPI, so the
/// data-parallel arithmetic (synchronised batch norm, the gradient sum) can be
/// tested against one process on the whole batch, exactly and fast.
///
/// Every replica must call the same sequence of `sum`/`broadcast`, as MPI ranks
/// must. Sums are formed in rank order, in Double.
public final class ThreadReplicas: @unchecked Sendable {
  private let condition = NSCondition()
  private let size: Int
  private var deposits: [[Double]?]
  private var arrived = 0, generation = 0
  private var result: [Double] = []

  public init(size: Int) {
    self.size = size
    deposits = Array(repeating: nil, count: size)
  }

  /// The replica of rank `rank` (0 ..< size).
  public func member(_ rank: Int) -> any ReplicaGroup { Member(rank: rank, group: self) }

  /// Runs `body(rank)` on `size` threads at once and waits for all of them.
  public func run(_ body: @escaping @Sendable (Int) -> Void) {
    let done = DispatchGroup()
    for r in 0..<size {
      done.enter()
      let t = Thread {
        body(r)
        done.leave()
      }
      t.stackSize = 16 << 20
      t.start()
    }
    done.wait()
  }

  /// Deposits `values`, waits for every replica, and returns `combine` of all deposits in rank order.
  fileprivate func exchange(_ rank: Int, _ values: [Double], _ combine: ([[Double]]) -> [Double]) -> [Double] {
    condition.lock()
    defer { condition.unlock() }
    let mine = generation
    deposits[rank] = values
    arrived += 1
    if arrived == size {
      result = combine(deposits.map { $0! })
      (arrived, generation) = (0, generation + 1)
      deposits = Array(repeating: nil, count: size)
      condition.broadcast()
    } else {
      while generation == mine { condition.wait() }
    }
    return result
  }

  private final class Member: ReplicaGroup {
    let rank: Int, group: ThreadReplicas
    init(rank: Int, group: ThreadReplicas) { (self.rank, self.group) = (rank, group) }
    var size: Int { group.size }

    private func summed(_ v: [Double]) -> [Double] {
      group.exchange(rank, v) { all in (0..<v.count).map { i in all.reduce(0) { $0 + $1[i] } } }
    }

    func sum(_ values: UnsafeMutableBufferPointer<Float>) {
      let s = summed(values.map(Double.init))
      for i in values.indices { values[i] = Float(s[i]) }
    }

    func sum(_ values: UnsafeMutableBufferPointer<Double>) {
      let s = summed(Array(values))
      for i in values.indices { values[i] = s[i] }
    }

    func broadcast(_ values: UnsafeMutableBufferPointer<Float>, from root: Int) {
      let s = group.exchange(rank, values.map(Double.init)) { $0[root] }
      for i in values.indices { values[i] = Float(s[i]) }
    }
  }
}
