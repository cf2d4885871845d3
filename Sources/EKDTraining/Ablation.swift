import Foundation

/// The paper's Table 1 over seeds: per mode, 3D AUC / V.F. / EPE as mean ± std,
/// the PCK curve averaged over seeds, and each mode's paired difference to the
/// baseline seed by seed (same seed, same data order and initial weights), which
/// removes the seed-to-seed spread that both runs share.
public struct AblationTable {
  /// One trained and tested (mode, seed) cell.
  public struct Run: Sendable {
    public var mode: TrainingMode, seed: UInt64
    public var auc: Double, vf: Double, epe: Double
    public var curve: [(threshold: Double, pck: Double)]
    public init(mode: TrainingMode, seed: UInt64, metrics m: MetricAccumulator) {
      (self.mode, self.seed, auc, vf, epe, curve) = (mode, seed, m.auc3D, m.violationFrequency, m.meanError, m.pckCurve)
    }
  }

  /// A statistic over seeds.
  public struct Spread: Sendable {
    public var mean: Double, std: Double, count: Int
    /// Sample standard deviation (n − 1); 0 for a single value.
    public init(_ v: [Double]) {
      count = v.count
      mean = v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count)
      let m = mean
      std = v.count > 1 ? (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count - 1)).squareRoot() : 0
    }
  }

  public struct Row: Sendable {
    public var mode: TrainingMode, auc: Spread, vf: Spread, epe: Spread
    /// AUC(mode) − AUC(baseline) over the seeds both ran; nil for the baseline or without one.
    public var aucVersusBaseline: Spread?
  }

  public var runs: [Run]
  public init(runs: [Run]) { self.runs = runs }

  /// The modes in the order they were run.
  public var modes: [TrainingMode] { runs.map(\.mode).reduce(into: []) { if !$0.contains($1) { $0.append($1) } } }

  public var rows: [Row] {
    let baseline = Dictionary(runs.filter { $0.mode == .baseline }.map { ($0.seed, $0.auc) }, uniquingKeysWith: { a, _ in a })
    return modes.map { mode in
      let r = runs.filter { $0.mode == mode }
      let paired = r.compactMap { run in baseline[run.seed].map { run.auc - $0 } }
      return Row(
        mode: mode, auc: Spread(r.map(\.auc)), vf: Spread(r.map(\.vf)), epe: Spread(r.map(\.epe)),
        aucVersusBaseline: mode == .baseline || paired.isEmpty ? nil : Spread(paired))
    }
  }

  /// The table as the paper prints it (3D AUC / V.F.), with EPE and the paired difference.
  public var text: String {
    var s = "mode        3D AUC            V.F.               EPE mean (mm)   ΔAUC vs baseline (paired)\n"
    for r in rows {
      s +=
        r.mode.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)
        + String(format: "  %.3f ± %.3f   %.4f ± %.4f   %5.1f ± %4.1f", r.auc.mean, r.auc.std, r.vf.mean, r.vf.std, r.epe.mean, r.epe.std)
        + (r.aucVersusBaseline.map { String(format: "     %+.3f ± %.3f (n=%d)", $0.mean, $0.std, $0.count) } ?? "") + "\n"
    }
    return s
  }

  public var json: [String: Any] {
    [
      "table": rows.map { r -> [String: Any] in
        var o: [String: Any] = [
          "mode": r.mode.rawValue, "auc_3d_mean": r.auc.mean, "auc_3d_std": r.auc.std, "vf_mean": r.vf.mean, "vf_std": r.vf.std,
          "epe_mean_mm": r.epe.mean, "epe_std_mm": r.epe.std, "runs": r.auc.count,
        ]
        if let d = r.aucVersusBaseline { o["auc_3d_minus_baseline_mean"] = d.mean; o["auc_3d_minus_baseline_std"] = d.std }
        return o
      },
      "runs": runs.map { ["mode": $0.mode.rawValue, "seed": $0.seed, "auc_3d": $0.auc, "vf": $0.vf, "epe_mean_mm": $0.epe] as [String: Any] },
    ]
  }

  /// Each mode's PCK curve averaged over its seeds, labelled with its mean AUC, for `Report.pckSVG`.
  public var pckCurves: [(label: String, points: [(threshold: Double, pck: Double)])] {
    rows.map { row in
      let r = runs.filter { $0.mode == row.mode }
      let points = r[0].curve.indices.map { i in (r[0].curve[i].threshold, r.map { $0.curve[i].pck }.reduce(0, +) / Double(r.count)) }
      return ("\(row.mode.rawValue) (AUC \(String(format: "%.3f", row.auc.mean)))", points)
    }
  }
}

extension AblationTable.Run: Codable {
  enum CodingKeys: String, CodingKey { case mode, seed, auc, vf, epe, thresholds, pck }

  /// A cell as another process sends it (`mpirun -np N ekd ablation` gathers the cells on rank 0).
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    (mode, seed) = (try c.decode(TrainingMode.self, forKey: .mode), try c.decode(UInt64.self, forKey: .seed))
    (auc, vf, epe) = (try c.decode(Double.self, forKey: .auc), try c.decode(Double.self, forKey: .vf), try c.decode(Double.self, forKey: .epe))
    let (t, p) = (try c.decode([Double].self, forKey: .thresholds), try c.decode([Double].self, forKey: .pck))
    guard t.count == p.count else { throw DecodingError.dataCorruptedError(forKey: .pck, in: c, debugDescription: "PCK curve lengths differ") }
    curve = zip(t, p).map { ($0, $1) }
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(mode, forKey: .mode)
    try c.encode(seed, forKey: .seed)
    try c.encode(auc, forKey: .auc)
    try c.encode(vf, forKey: .vf)
    try c.encode(epe, forKey: .epe)
    try c.encode(curve.map(\.threshold), forKey: .thresholds)
    try c.encode(curve.map(\.pck), forKey: .pck)
  }
}
