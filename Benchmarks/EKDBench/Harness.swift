import EKDTensor
import Foundation

/// Timing helpers: warm-up, repeats, medians, peak memory.
enum Harness {
  /// Seconds of one call, median of `repetitions` after `warmup` untimed calls (and
  /// more, until `warmupSeconds` have passed).
  ///
  /// A repetition is as many back-to-back calls as fill `minimumSeconds` (judged by
  /// the last warm-up call), divided out: a sub-millisecond call timed alone measures
  /// the clock and the wake-up of idle threads more than the call (no warm-up: one
  /// call per repetition, as the pool suite's fault count needs). The warm-up lasts a
  /// quarter of a second because this VM runs the first fifth of a second of work on two
  /// threads after an idle spell slower, by up to a third on tiny at batch 1, the first
  /// figure a student's run takes. The peer script (`Benchmarks/peers/torch_students.py`)
  /// times PyTorch and ONNX Runtime the same way.
  static func median(
    warmup: Int = 1, warmupSeconds: Double = 0.25, repetitions: Int, minimumSeconds: Double = 0.025, _ body: () -> Void
  )
    -> (median: Double, all: [Double])
  {
    var last = 0.0
    let start = DispatchTime.now().uptimeNanoseconds
    var done = 0
    while done < warmup || (warmup > 0 && Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 < warmupSeconds) {
      let t0 = DispatchTime.now().uptimeNanoseconds
      body()
      last = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
      done += 1
    }
    let calls = last > 0 ? max(1, min(1000, Int(minimumSeconds / last))) : 1
    var times: [Double] = []
    for _ in 0..<max(repetitions, 1) {
      let t0 = DispatchTime.now().uptimeNanoseconds
      for _ in 0..<calls { body() }
      times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9 / Double(calls))
    }
    let sorted = times.sorted()
    let mid = sorted.count / 2
    return (sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2, times)
  }

  /// Medians of several candidates, timed in alternating blocks (A×r, B×r,
  /// A×r, B×r …, with r = repetitions/3 rounded up), so that drift in the
  /// machine's speed (a busy VM) hits all of them alike. A short pause
  /// before each block lets spinning BLAS threads go to sleep.
  static func alternatingBlocks(warmup: Int = 1, repetitions: Int, _ bodies: [() -> Void]) -> [Double] {
    let block = max(1, (repetitions + 2) / 3)
    var times = [[Double]](repeating: [], count: bodies.count)
    for round in 0..<3 {
      for (i, body) in bodies.enumerated() {
        usleep(200_000)
        if round == 0 { for _ in 0..<warmup { body() } }
        for _ in 0..<block {
          let t0 = DispatchTime.now().uptimeNanoseconds
          body()
          times[i].append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
        }
      }
    }
    return times.map { t in
      let s = t.sorted(), m = s.count / 2
      return s.count % 2 == 1 ? s[m] : (s[m - 1] + s[m]) / 2
    }
  }

  /// Peak resident set size of this process so far, in MiB.
  static var peakResidentMiB: Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
  }

  static func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
    s.count >= width ? s : (right ? s + String(repeating: " ", count: width - s.count) : String(repeating: " ", count: width - s.count) + s)
  }

  static func format(_ x: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", x) }

  /// Writes JSON atomically (temp file + rename).
  static func writeJSON(_ object: Any, to path: String) throws {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
    let url = URL(fileURLWithPath: path)
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try AtomicFile.write(data, to: url)
  }
}
