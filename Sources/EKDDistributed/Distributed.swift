import EKDTensor
import Foundation

#if MPI
  import CMPI
#endif

/// The ranks of an `mpirun` job, as EKD uses them: sums and a broadcast for
/// data-parallel training (`ReplicaGroup`), and the few collectives the
/// commands need to share out work and stop together.
public protocol ProcessGroup: ReplicaGroup {
  /// Waits until every rank has arrived.
  func barrier()
  /// Rank 0 gets every rank's bytes, in rank order; the others get nil.
  func gather(_ bytes: [UInt8]) -> [[UInt8]]?
  /// Ranks with the same `color` form a new group (ordered by their rank here).
  func split(color: Int) -> any ProcessGroup
  /// Stops every rank of the job with `code`; for a failure no rank can recover from.
  func abort(code: Int32) -> Never
}

/// Starting and stopping MPI, when `mpirun` started this process.
///
/// MPI lives behind the package trait `MPI` (`swift build --traits MPI`, which the
/// Makefile uses): a plain build has no MPI dependency at all, runs one process,
/// and refuses to be started by `mpirun -np N` with N > 1 rather than train N
/// independent copies into one output directory.
public enum Distributed {
  /// Whether this binary can run data-parallel.
  public static var isAvailable: Bool {
    #if MPI
      return true
    #else
      return false
    #endif
  }

  /// The ranks `mpirun` started, read from its environment (1 when not under mpirun).
  public static var launchedSize: Int {
    let e = ProcessInfo.processInfo.environment
    return Int(e["OMPI_COMM_WORLD_SIZE"] ?? e["PMI_SIZE"] ?? "") ?? 1
  }

  nonisolated(unsafe) private static var started: (any ProcessGroup)?

  /// The world group: MPI is initialised on the first call when mpirun started
  /// more than one rank; nil for a single process (which then needs no MPI at all,
  /// so `-np 1` runs exactly the single-process code).
  public static func world() throws(DistributedError) -> (any ProcessGroup)? {
    if let started { return started }
    guard launchedSize > 1 else { return nil }
    #if MPI
      var provided: Int32 = 0
      guard MPI_Init_thread(nil, nil, ekd_mpi_thread_funneled(), &provided) == ekd_mpi_success() else {
        throw DistributedError(description: "MPI_Init_thread failed")
      }
      let group = MPIGroup(ekd_mpi_comm_world())
      started = group
      return group
    #else
      throw DistributedError(
        description: "started by mpirun with \(launchedSize) ranks, but this ekd was built without MPI; build it with `swift build --traits MPI` (or `make build`)")
    #endif
  }

  /// Finalises MPI if it was started; call before a normal exit.
  public static func finish() {
    #if MPI
      if started != nil { MPI_Finalize() }
    #endif
    started = nil
  }
}

public struct DistributedError: Error, CustomStringConvertible {
  public var description: String
}

#if MPI
  /// A communicator of Open MPI (the world, or a split of it).
  final class MPIGroup: ProcessGroup {
    let communicator: MPI_Comm
    let rank: Int, size: Int

    init(_ communicator: MPI_Comm) {
      self.communicator = communicator
      var r: Int32 = 0, s: Int32 = 0
      MPI_Comm_rank(communicator, &r)
      MPI_Comm_size(communicator, &s)
      (rank, size) = (Int(r), Int(s))
    }

    func sum(_ values: UnsafeMutableBufferPointer<Float>) {
      guard size > 1, let base = values.baseAddress else { return }
      check(MPI_Allreduce(ekd_mpi_in_place(), base, Int32(values.count), ekd_mpi_float(), ekd_mpi_sum(), communicator), "MPI_Allreduce")
    }

    func sum(_ values: UnsafeMutableBufferPointer<Double>) {
      guard size > 1, let base = values.baseAddress else { return }
      check(MPI_Allreduce(ekd_mpi_in_place(), base, Int32(values.count), ekd_mpi_double(), ekd_mpi_sum(), communicator), "MPI_Allreduce")
    }

    func startSum(_ values: UnsafeMutableBufferPointer<Float>) -> any PendingSum {
      let pending = MPIPendingSum(group: self)
      guard size > 1, let base = values.baseAddress else { return pending }
      check(
        MPI_Iallreduce(ekd_mpi_in_place(), base, Int32(values.count), ekd_mpi_float(), ekd_mpi_sum(), communicator, &pending.request),
        "MPI_Iallreduce")
      return pending
    }

    func broadcast(_ values: UnsafeMutableBufferPointer<Float>, from root: Int) {
      guard size > 1, let base = values.baseAddress else { return }
      check(MPI_Bcast(base, Int32(values.count), ekd_mpi_float(), Int32(root), communicator), "MPI_Bcast")
    }

    func barrier() { check(MPI_Barrier(communicator), "MPI_Barrier") }

    func gather(_ bytes: [UInt8]) -> [[UInt8]]? {
      var count = Int32(bytes.count)
      var counts = [Int32](repeating: 0, count: size)
      check(MPI_Gather(&count, 1, ekd_mpi_int(), &counts, 1, ekd_mpi_int(), 0, communicator), "MPI_Gather")
      var offsets = [Int32](repeating: 0, count: size)
      for i in 1..<max(size, 1) where i < size { offsets[i] = offsets[i - 1] + counts[i - 1] }
      var all = [UInt8](repeating: 0, count: rank == 0 ? Int(counts.reduce(0, +)) : 0)
      var mine = bytes
      check(
        MPI_Gatherv(&mine, count, ekd_mpi_byte(), &all, &counts, &offsets, ekd_mpi_byte(), 0, communicator), "MPI_Gatherv")
      guard rank == 0 else { return nil }
      return (0..<size).map { Array(all[Int(offsets[$0])..<Int(offsets[$0] + counts[$0])]) }
    }

    func split(color: Int) -> any ProcessGroup {
      var part: MPI_Comm? = nil
      check(MPI_Comm_split(communicator, Int32(color), Int32(rank), &part), "MPI_Comm_split")
      return MPIGroup(part!)
    }

    func abort(code: Int32) -> Never {
      MPI_Abort(communicator, code)
      exit(code)
    }

    /// MPI's default handler aborts the job on an error; this is for a handler that returns.
    fileprivate func check(_ result: Int32, _ what: String) {
      guard result != ekd_mpi_success() else { return }
      FileHandle.standardError.write(Data("ekd: rank \(rank): \(what) failed with MPI error \(result)\n".utf8))
      abort(code: 2)
    }
  }

  /// An MPI_Iallreduce in flight.
  final class MPIPendingSum: PendingSum {
    var request: MPI_Request? = nil
    let group: MPIGroup
    init(group: MPIGroup) { self.group = group }

    func poll() {
      guard request != nil else { return }
      var done: Int32 = 0
      group.check(MPI_Test(&request, &done, ekd_mpi_status_ignore()), "MPI_Test")
    }

    func wait() {
      guard request != nil else { return }
      group.check(MPI_Wait(&request, ekd_mpi_status_ignore()), "MPI_Wait")
    }
  }
#endif
