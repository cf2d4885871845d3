import EKDHand
import Foundation

/// Evaluation metrics of hand-model.md §8, accumulated over batches.
///
/// - 3D error of joint k: ‖Cᵖₖ − Cᵍₖ‖ (mm) after reconstruction with the
///   ground-truth root depth and scale; PCK(t) over all (sample, joint) pairs;
///   3D AUC = area under PCK for t in 20…50 mm (61 thresholds, trapezoids) / 30.
/// - 2D PCK and AUC over 0…30 px on (u, v) in the crop.
/// - V.F.: fraction of (sample, angle) pairs whose predicted f is out of the
///   training bounds; also per angle and per sample (≥ 1 violation).
public struct MetricAccumulator: Sendable {
  public let bounds: AngleBounds
  public private(set) var errors3D: [Double] = []
  public private(set) var errors2D: [Double] = []
  public private(set) var violationsPerAngle = [Int](repeating: 0, count: 20)
  public private(set) var samplesWithViolation = 0
  public private(set) var samples = 0

  public init(bounds: AngleBounds) { self.bounds = bounds }

  /// Adds one sample: predicted and true joints (mm) and 2D positions (px).
  public mutating func add(predicted: [Vector3<Double>], truth: [Vector3<Double>], predictedUV: [SIMD2<Double>], trueUV: [SIMD2<Double>]) {
    for k in 0..<predicted.count {
      errors3D.append((predicted[k] - truth[k]).length)
      let d = predictedUV[k] - trueUV[k]
      errors2D.append((d * d).sum().squareRoot())
    }
    let v = bounds.violations(JointAngles.values(predicted))
    for i in 0..<20 where v[i] { violationsPerAngle[i] += 1 }
    if v.contains(true) { samplesWithViolation += 1 }
    samples += 1
  }

  /// 3D errors when the root depth is not given but estimated from the prediction and the
  /// true bone length (`Reconstruction.rootDepth`), and the root-depth errors (mm).
  public private(set) var errors3DEstimatedRoot: [Double] = []
  public private(set) var rootDepthErrors: [Double] = []
  /// Samples whose prediction admitted no root depth (counted as missing every threshold).
  public private(set) var rootDepthFailures = 0

  /// Adds one sample reconstructed with an estimated root depth (nil: no solution).
  public mutating func addEstimatedRoot(predicted: [Vector3<Double>]?, truth: [Vector3<Double>], rootDepth: Double?) {
    guard let predicted, let rootDepth else {
      rootDepthFailures += 1
      errors3DEstimatedRoot += [Double](repeating: .infinity, count: truth.count)
      return
    }
    errors3DEstimatedRoot += zip(predicted, truth).map { ($0 - $1).length }
    rootDepthErrors.append(abs(rootDepth - truth[HandSkeleton.root].z))
  }

  /// Fraction of errors ≤ t.
  public static func pck(_ errors: [Double], _ t: Double) -> Double {
    errors.isEmpty ? 0 : Double(errors.filter { $0 <= t }.count) / Double(errors.count)
  }

  /// Area under PCK on [lo, hi] with `count` evenly spaced thresholds (trapezoids), divided by hi − lo.
  public static func auc(_ errors: [Double], from lo: Double, to hi: Double, thresholds count: Int) -> Double {
    let ts = (0..<count).map { lo + (hi - lo) * Double($0) / Double(count - 1) }
    let p = ts.map { pck(errors, $0) }
    var area = 0.0
    for i in 1..<count { area += (p[i] + p[i - 1]) / 2 * (ts[i] - ts[i - 1]) }
    return area / (hi - lo)
  }

  public var auc3D: Double { Self.auc(errors3D, from: 20, to: 50, thresholds: 61) }
  /// The 3D AUC with the root depth estimated from one bone instead of given.
  public var auc3DEstimatedRoot: Double { Self.auc(errors3DEstimatedRoot, from: 20, to: 50, thresholds: 61) }
  /// Mean |Ẑ₀ − Z₀| (mm) over the samples that had a solution.
  public var rootDepthErrorMean: Double { rootDepthErrors.isEmpty ? .nan : rootDepthErrors.reduce(0, +) / Double(rootDepthErrors.count) }
  public var auc2D: Double { Self.auc(errors2D, from: 0, to: 30, thresholds: 61) }
  public var meanError: Double { errors3D.isEmpty ? 0 : errors3D.reduce(0, +) / Double(errors3D.count) }
  public var medianError: Double {
    let s = errors3D.sorted()
    guard !s.isEmpty else { return 0 }
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
  }
  /// Violation frequency over (sample, angle) pairs.
  public var violationFrequency: Double { samples == 0 ? 0 : Double(violationsPerAngle.reduce(0, +)) / Double(20 * samples) }
  public var invalidSampleFraction: Double { samples == 0 ? 0 : Double(samplesWithViolation) / Double(samples) }
  /// The 3D PCK curve for plots: thresholds 0…50 mm.
  public var pckCurve: [(threshold: Double, pck: Double)] { (0...50).map { (Double($0), Self.pck(errors3D, Double($0))) } }

  public var report: [String: Any] {
    [
      "auc_3d": auc3D, "auc_2d": auc2D, "epe_mean_mm": meanError, "epe_median_mm": medianError,
      "vf": violationFrequency, "vf_samples": invalidSampleFraction, "samples": samples,
      "vf_per_angle": Dictionary(uniqueKeysWithValues: zip(HandSkeleton.angleNames, violationsPerAngle.map { samples == 0 ? 0 : Double($0) / Double(samples) })),
      "pck_3d": pckCurve.map { ["mm": $0.threshold, "pck": $0.pck] },
      "auc_3d_estimated_root": auc3DEstimatedRoot, "root_depth_error_mm_mean": rootDepthErrorMean.isFinite ? rootDepthErrorMean : -1,
      "root_depth_failures": rootDepthFailures,
    ]
  }
}
