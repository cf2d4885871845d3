import EKDData
import EKDHand
import EKDTensor
import Foundation

/// Predictors that need no network, scored exactly like a student: they tell
/// a user what a 3D AUC means on a given split (docs/results.md).
///
/// All of them reconstruct with the ground-truth root depth and scale, as the
/// paper's evaluation and `Evaluator` do; only (u, v, z) is theirs.
public enum ReferencePredictor: CaseIterable, Sendable {
  /// The training split's mean (u, v, z) in the crop, whatever the image.
  case meanPose
  /// Perfect 2D, every joint at the wrist's depth (z = 0): what 2D alone buys.
  case flatHand
  /// Perfect 2D, true depth plus N(0, 20 mm) per joint.
  case depthNoise
  /// True depth, (u, v) plus N(0, σ) per coordinate with σ = 2 px of a 64-px crop
  /// (4 px of a 128-px image), scaled with the crop.
  case pixelNoise

  public var label: String {
    switch self {
    case .meanPose: return "mean pose"
    case .flatHand: return "perfect 2D, all joints at the root's depth"
    case .depthNoise: return "perfect 2D, true depth + 20 mm noise"
    case .pixelNoise: return "true depth, 2D + 2 px noise (of a 64-px crop)"
    }
  }

  /// Metrics of every predictor on `test`, with the mean pose taken from `train`.
  public static func evaluate(
    train: any SampleSource, test: any SampleSource, bounds: AngleBounds, cropSize: Int = 64,
    meanOver: Int = 2000, seed: UInt64 = 0
  ) throws(DatasetError) -> [(ReferencePredictor, MetricAccumulator)] {
    let n = HandSkeleton.poseScalars
    var mean = [Double](repeating: 0, count: n), seen = 0
    let trainLoader = BatchLoader(source: train, batchSize: 64, cropSize: cropSize, shuffle: false)
    defer { trainLoader.stop() }
    while seen < min(meanOver, train.count), let b = try trainLoader.next() {
      for i in 0..<b.count where seen < meanOver {
        for k in 0..<n { mean[k] += Double(b.uvz[flat: i * n + k]) }
        seen += 1
      }
    }
    mean = mean.map { $0 / Double(max(seen, 1)) }
    var results = allCases.map { ($0, MetricAccumulator(bounds: bounds)) }
    var rng = SeededRandom(seed: seed)
    let loader = BatchLoader(source: test, batchSize: 64, cropSize: cropSize, shuffle: false)
    defer { loader.stop() }
    let pixelSigma = 2.0 * Double(cropSize) / 64
    while let b = try loader.next() {
      for (r, predictor) in allCases.enumerated() {
        var uvz = b.uvz.scalars
        for i in 0..<b.count {
          for j in 0..<HandSkeleton.jointCount {
            let o = i * n + 3 * j
            switch predictor {
            case .meanPose: (uvz[o], uvz[o + 1], uvz[o + 2]) = (Float(mean[3 * j]), Float(mean[3 * j + 1]), Float(mean[3 * j + 2]))
            case .flatHand: uvz[o + 2] = 0
            case .depthNoise: uvz[o + 2] += 20 * rng.nextNormal() / b.scale[flat: i]
            case .pixelNoise:
              uvz[o] += Float(pixelSigma) * rng.nextNormal()
              uvz[o + 1] += Float(pixelSigma) * rng.nextNormal()
            }
          }
        }
        let tape = Tape(mode: .inference)
        let xyz = tape.reconstruct(tape.constant(Tensor(shape: b.uvz.shape, scalars: uvz)), intrinsics: b.intrinsics, rootDepth: b.rootDepth, scale: b.scale).value
        for i in 0..<b.count {
          let o = i * n
          let joints = { (t: [Float]) in (0..<HandSkeleton.jointCount).map { k in Vector3(Double(t[o + 3 * k]), Double(t[o + 3 * k + 1]), Double(t[o + 3 * k + 2])) } }
          let uv = { (t: [Float], stride: Int) in
            (0..<HandSkeleton.jointCount).map { k in SIMD2(Double(t[i * stride * HandSkeleton.jointCount + stride * k]), Double(t[i * stride * HandSkeleton.jointCount + stride * k + 1])) }
          }
          results[r].1.add(predicted: joints(xyz.scalars), truth: joints(b.xyz.scalars), predictedUV: uv(uvz, 3), trueUV: uv(b.uv.scalars, 2))
        }
      }
    }
    return results
  }
}
