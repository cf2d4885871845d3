/// The processes of a data-parallel run, each holding one shard of the global batch.
///
/// EKDTensor only states what it needs from them: sums across all replicas (for
/// synchronised batch norm and the gradients) and a broadcast (for the initial
/// weights). EKDDistributed implements it over MPI; a single process has none.
public protocol ReplicaGroup: AnyObject {
  /// This process's index, 0 ..< `size`; replica 0 writes checkpoints and reports.
  var rank: Int { get }
  var size: Int { get }
  /// Replaces `values` by their sum over all replicas (every replica gets the sum).
  func sum(_ values: UnsafeMutableBufferPointer<Float>)
  func sum(_ values: UnsafeMutableBufferPointer<Double>)
  /// Replaces `values` on every replica by replica `root`'s.
  func broadcast(_ values: UnsafeMutableBufferPointer<Float>, from root: Int)
  /// Starts `sum(values)` and returns at once, so that backward can go on while it
  /// runs; `values` must stay allocated and untouched until the sum's `wait()`.
  /// Every replica must start the same sums in the same order.
  func startSum(_ values: UnsafeMutableBufferPointer<Float>) -> any PendingSum
  /// True once another replica has failed (in-process replicas only: an MPI rank
  /// that fails aborts the job): the survivors stop at the end of their step.
  var isCancelled: Bool { get }
}

/// A sum in flight (`ReplicaGroup.startSum`).
public protocol PendingSum: AnyObject {
  /// Lets the sum make progress (MPI moves non-blocking collectives only inside its calls).
  func poll()
  /// Returns when the buffer holds the sum.
  func wait()
}

/// A sum that was done before it was returned.
final class FinishedSum: PendingSum {
  func poll() {}
  func wait() {}
}

extension ReplicaGroup {
  public var isCancelled: Bool { false }

  /// Without a non-blocking sum of its own: sums at once.
  public func startSum(_ values: UnsafeMutableBufferPointer<Float>) -> any PendingSum {
    sum(values)
    return FinishedSum()
  }

  /// Sums an array over all replicas.
  public func sum(_ values: inout [Double]) { values.withUnsafeMutableBufferPointer { sum($0) } }
  public func sum(_ values: inout [Float]) { values.withUnsafeMutableBufferPointer { sum($0) } }
}
