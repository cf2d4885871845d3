import ArgumentParser
import EKDTensor
import Foundation

/// The benchmark executable: `make bench` runs it in release.
@main
struct EKDBench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "EKDBench", abstract: "Measure EKD's kernels against raw OpenBLAS (and, for students, PyTorch).")

  @Option(help: "Threads for BLAS and batch parallelism.") var threads = 2
  @Option(help: "Batch size for the convolution shapes.") var batch = 8
  @Option(help: "Timed repetitions per measurement (median reported).") var repetitions = 5
  @Option(help: "Write the results as JSON here.") var json: String?
  @Option(help: "Override the conv tile width in output columns (for tuning).") var tileColumns: Int?
  @Flag(help: "Skip checking each kernel against a reference before timing it.") var noValidate = false

  func validate() throws {
    guard threads >= 1, batch >= 1, repetitions >= 1 else { throw ValidationError("threads, batch and repetitions must be ≥ 1") }
  }

  func run() throws {
    print("EKDBench: release build, \(threads) threads, batch \(batch), median of \(repetitions)")
    print(BLAS.configuration)
    let peak1 = GEMMSuite.sgemmPeak(threads: 1, repetitions: repetitions)
    let peak = GEMMSuite.sgemmPeak(threads: threads, repetitions: repetitions)
    let rows = GEMMSuite.run(threads: threads, batch: batch, repetitions: repetitions, validate: !noValidate, tileColumns: tileColumns)
    GEMMSuite.printTable(rows, peak: peak, peakOneThread: peak1, threads: threads)
    print("peak resident memory: \(Harness.format(Harness.peakResidentMiB)) MiB")
    if let json {
      try Harness.writeJSON(
        ["threads": threads, "batch": batch, "repetitions": repetitions, "blas": BLAS.configuration,
         "sgemm_peak_gflops": peak, "sgemm_peak_1thread_gflops": peak1,
         "peak_rss_mib": Harness.peakResidentMiB, "conv": rows.map(\.json)] as [String: Any],
        to: json)
      print("wrote \(json)")
    }
  }
}
