import Dispatch

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
    DispatchQueue.concurrentPerform(iterations: workers) { w in
      let lo = count * w / workers
      let hi = count * (w + 1) / workers
      if lo < hi { body(lo..<hi, w) }
    }
  }
}
