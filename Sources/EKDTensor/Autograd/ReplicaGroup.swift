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
}

extension ReplicaGroup {
  /// Sums an array over all replicas.
  public func sum(_ values: inout [Double]) { values.withUnsafeMutableBufferPointer { sum($0) } }
  public func sum(_ values: inout [Float]) { values.withUnsafeMutableBufferPointer { sum($0) } }
}
