import EKDData
import EKDHand
import EKDInference
import EKDModels
import EKDTensor
import Foundation

/// Runs a student over a split and measures it (hand-model.md §8).
public enum Evaluator {
  /// One evaluated sample, kept for pictures of the worst predictions.
  public struct Prediction: Sendable {
    public var image: Image
    public var predictedUV: [SIMD2<Double>], trueUV: [SIMD2<Double>]
    public var violations: Int
    public var error: Double
  }

  /// Metrics over `source` (in order, no augmentation), and the `keepWorst`
  /// predictions with the most angle violations (ties: larger error).
  public static func evaluate(
    _ student: Student, source: any SampleSource, bounds: AngleBounds, batchSize: Int = 32,
    threads: Int = 2, keepWorst: Int = 8,
    progress: (Int, Int) -> Void = { _, _ in }
  ) throws(DatasetError) -> (MetricAccumulator, [Prediction]) {
    var metrics = MetricAccumulator(bounds: bounds)
    var worst: [Prediction] = []
    let loader = BatchLoader(
      source: source, batchSize: batchSize,
      cropSize: student.inputSize, shuffle: false)
    defer { loader.stop() }
    var step = 0
    // Folded batch norm, no tape: the same numbers as the student's forward (to rounding), faster.
    let plan = try? InferencePlan(student)
    while let batch = try loader.next() {
      let tape = Tape(mode: .inference, threads: threads)
      let uvz = tape.constant(Predictor.decode(student, crops: batch.images, threads: threads, plan: plan))
      let xyz = tape.reconstruct(uvz, intrinsics: batch.intrinsics, rootDepth: batch.rootDepth, scale: batch.scale).value
      let p = xyz.scalars, g = batch.xyz.scalars, pu = uvz.value.scalars, gu = batch.uv.scalars
      for i in 0..<batch.count {
        let (j, o) = (HandSkeleton.jointCount, i * HandSkeleton.poseScalars)
        let pred = (0..<j).map { k in Vector3(Double(p[o + 3 * k]), Double(p[o + 3 * k + 1]), Double(p[o + 3 * k + 2])) }
        let truth = (0..<j).map { k in Vector3(Double(g[o + 3 * k]), Double(g[o + 3 * k + 1]), Double(g[o + 3 * k + 2])) }
        let puv = (0..<j).map { k in SIMD2(Double(pu[o + 3 * k]), Double(pu[o + 3 * k + 1])) }
        let guv = (0..<j).map { k in SIMD2(Double(gu[i * 2 * j + 2 * k]), Double(gu[i * 2 * j + 2 * k + 1])) }
        metrics.add(predicted: pred, truth: truth, predictedUV: puv, trueUV: guv)
        // Without the true root depth: Z₀ from the predicted 2.5D and the true bone length (`ekd predict`'s way).
        let pz = (0..<j).map { k in Double(pu[o + 3 * k + 2]) }
        let k = Intrinsics(matrix: (0..<9).map { Double(batch.intrinsics[flat: i * 9 + $0]) })
        let s = Double(batch.scale[flat: i])
        if let z0 = Reconstruction.rootDepth(uv: puv.map { (u: $0.x, v: $0.y) }, z: pz, intrinsics: k, boneLength: s) {
          let estimated = (0..<j).map { Reconstruction.point(u: puv[$0].x, v: puv[$0].y, z: pz[$0] - pz[HandSkeleton.root], intrinsics: k, rootDepth: z0, scale: s) }
          metrics.addEstimatedRoot(predicted: estimated, truth: truth, rootDepth: z0)
        } else {
          metrics.addEstimatedRoot(predicted: nil, truth: truth, rootDepth: nil)
        }
        let v = bounds.violations(JointAngles.values(pred)).filter { $0 }.count
        if keepWorst > 0 && v > 0 {
          let err = zip(pred, truth).map { ($0 - $1).length }.reduce(0, +) / Double(j)
          worst.append(Prediction(image: image(batch, i), predictedUV: puv, trueUV: guv, violations: v, error: err))
          worst.sort { ($0.violations, $0.error) > ($1.violations, $1.error) }
          if worst.count > keepWorst { worst.removeLast() }
        }
      }
      step += 1
      progress(step, loader.batchesPerEpoch)
    }
    return (metrics, worst)
  }

  /// Back from the normalised batch tensor to 8-bit RGB.
  static func image(_ batch: Batch, _ i: Int) -> Image {
    let s = batch.cropSize
    var img = Image(width: s, height: s, channels: 3)
    batch.images.withUnsafeBufferPointer { p in
      for c in 0..<3 {
        for k in 0..<(s * s) { img.pixels[k * 3 + c] = UInt8(max(0, min(255, (p[(i * 3 + c) * s * s + k] + 0.5) * 255))) }
      }
    }
    return img
  }
}
