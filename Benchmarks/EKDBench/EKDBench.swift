import ArgumentParser
import EKDModels
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
  @Option(help: "Suites to run: gemm, pool, students (comma-separated).") var suites = "gemm,pool,students"
  @Option(help: "Students to benchmark (comma-separated; 'all' adds ts120g, which takes minutes per step).")
  var students = "tiny,squeezenet1_1,squeezenet1_0,resnet50,ts500m,ts20g"
  @Option(help: "Input sizes per student, e.g. resnet50=128,tiny=64 (default: each student's own).") var inputs = ""
  @Option(help: "Python with PyTorch for the side-by-side peers (empty to skip).") var python = ".venv-peers/bin/python"
  @Option(help: "Override the conv tile width in output columns (for tuning).") var tileColumns: Int?
  @Flag(help: "Skip checking each kernel against a reference before timing it.") var noValidate = false

  func validate() throws {
    guard threads >= 1, batch >= 1, repetitions >= 1 else { throw ValidationError("threads, batch and repetitions must be ≥ 1") }
  }

  func run() throws {
    print("EKDBench: release build, \(threads) threads, batch \(batch), median of \(repetitions)")
    print(BLAS.configuration)
    let chosen = Set(suites.split(separator: ",").map(String.init))
    var report: [String: Any] = ["threads": threads, "batch": batch, "repetitions": repetitions, "blas": BLAS.configuration]
    if chosen.contains("gemm") {
      let peak1 = GEMMSuite.sgemmPeak(threads: 1, repetitions: repetitions)
      let peak = GEMMSuite.sgemmPeak(threads: threads, repetitions: repetitions)
      let rows = GEMMSuite.run(threads: threads, batch: batch, repetitions: repetitions, validate: !noValidate, tileColumns: tileColumns)
      GEMMSuite.printTable(rows, peak: peak, peakOneThread: peak1, threads: threads)
      report["sgemm_peak_gflops"] = peak
      report["sgemm_peak_1thread_gflops"] = peak1
      report["conv"] = rows.map(\.json)
    }
    if chosen.contains("students") {
      let peak = (report["sgemm_peak_gflops"] as? Double) ?? GEMMSuite.sgemmPeak(threads: threads, repetitions: repetitions)
      let names = students == "all" ? StudentZoo.names : students.split(separator: ",").map(String.init)
      var sizes: [String: Int] = [:]
      for kv in inputs.split(separator: ",") {
        let parts = kv.split(separator: "=")
        guard parts.count == 2, let n = Int(parts[1]) else { throw ValidationError("--inputs wants name=size pairs, got \(kv)") }
        sizes[String(parts[0])] = n
      }
      // Each student's peers right after it, so that ours and theirs are timed about a
      // minute apart, not a whole suite: this VM drifts between a fast and a slow mode
      // over minutes, and a ratio across the two means nothing (docs/performance.md).
      let peers = !python.isEmpty && ModelSuite.peersInstalled(python: python)
      var rows: [ModelSuite.Row] = []
      for name in names {
        var row = try ModelSuite.run(students: [name], inputs: sizes, threads: threads, batch: batch, repetitions: repetitions)
        if peers, let torch = ModelSuite.torch(python: python, rows: row, threads: threads, batch: batch, repetitions: repetitions) {
          for i in row.indices { row[i].torch = torch[row[i].name] }
        }
        rows += row
      }
      ModelSuite.printTable(rows, batch: batch, peak: peak)
      report["students"] = rows.map { $0.json(batch: batch, peak: peak) }
      report["sgemm_peak_gflops"] = peak
    }
    if chosen.contains("pool") {
      let pool = PoolSuite.run(threads: threads, batch: batch, repetitions: repetitions)
      print(
        "training step of 3×(conv3x3 64→64, BN, ReLU) @56, batch \(batch): "
          + "\(Harness.format(pool.poolOn * 1000)) ms with the buffer pool (\(Int(pool.faultsOn)) page faults/step), "
          + "\(Harness.format(pool.poolOff * 1000)) ms without (\(Int(pool.faultsOff)) page faults/step)")
      report["pool"] = [
        "step_ms_pool": pool.poolOn * 1000, "step_ms_no_pool": pool.poolOff * 1000,
        "faults_per_step_pool": pool.faultsOn, "faults_per_step_no_pool": pool.faultsOff,
      ]
    }
    print("peak resident memory: \(Harness.format(Harness.peakResidentMiB)) MiB")
    report["peak_rss_mib"] = Harness.peakResidentMiB
    if let json {
      try Harness.writeJSON(report, to: json)
      print("wrote \(json)")
    }
  }
}
