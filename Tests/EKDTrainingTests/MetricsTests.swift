import EKDData
import EKDHand
import EKDTraining
import Testing

/// Metrics against values worked out by hand.
@Suite struct Metrics {
  static let free = AngleBounds(lower: [Double](repeating: -1, count: 20), upper: [Double](repeating: 1, count: 20), dataset: "", sampleCount: 0)

  func hand() -> [Vector3<Double>] {
    // A plausible straight hand: wrist at the origin, fingers along −y.
    var j = [Vector3<Double>](repeating: .zero, count: 21)
    let bases: [Vector3<Double>] = [Vector3(45, -20, 500), Vector3(30, -80, 500), Vector3(10, -80, 500), Vector3(-10, -80, 500), Vector3(-30, -80, 500)]
    j[0] = Vector3(0, 0, 500)
    for (f, chain) in HandSkeleton.fingers.enumerated() {
      for k in 0..<4 { j[chain[k]] = bases[f] + Vector3(0, -25 * Double(k), 0) }
    }
    return j
  }

  /// Every joint off by exactly d mm (shifted along z).
  func accumulate(offsets: [Double]) -> MetricAccumulator {
    var m = MetricAccumulator(bounds: Self.free)
    let truth = hand(), uv = [SIMD2<Double>](repeating: SIMD2(0, 0), count: 21)
    for d in offsets { m.add(predicted: truth.map { $0 + Vector3(0, 0, d) }, truth: truth, predictedUV: uv, trueUV: uv) }
    return m
  }

  @Test func pckAndAUCForKnownErrors() {
    // All errors 10 mm: PCK is 1 on the whole 20–50 range.
    #expect(abs(accumulate(offsets: [10, 10]).auc3D - 1) < 1e-12)
    // All errors 60 mm: never correct.
    #expect(accumulate(offsets: [60]).auc3D == 0)
    // All errors 35 mm: PCK steps from 0 (34.5 mm) to 1 (35 mm). Trapezoids over
    // 0.5 mm steps: 15 mm at 1 plus half a step, (15 + 0.25) / 30.
    #expect(abs(accumulate(offsets: [35]).auc3D - 15.25 / 30) < 1e-12)
    // Half the samples at 10 mm, half at 60: PCK 0.5 throughout.
    let half = accumulate(offsets: [10, 60])
    #expect(abs(half.auc3D - 0.5) < 1e-12)
    #expect(half.meanError == 35 && half.medianError == 35)
    #expect(half.pckCurve[9].pck == 0 && half.pckCurve[10].pck == 0.5 && half.pckCurve[50].pck == 0.5)
  }

  @Test func violationFrequencyCountsPairs() {
    // Bounds that allow only the straight hand's values exactly.
    let f = JointAngles.values(hand())
    let tight = AngleBounds(lower: f, upper: f, dataset: "", sampleCount: 1)
    var m = MetricAccumulator(bounds: tight)
    let uv = [SIMD2<Double>](repeating: SIMD2(0, 0), count: 21)
    m.add(predicted: hand(), truth: hand(), predictedUV: uv, trueUV: uv)  // 0 violations
    var bent = hand()
    bent[8] = bent[7] + Vector3(0, 0, -20)  // index DIP bent 90°: θ3 violates, nothing else moves
    m.add(predicted: bent, truth: hand(), predictedUV: uv, trueUV: uv)
    #expect(m.samples == 2)
    #expect(m.violationFrequency == 1.0 / 40)
    #expect(m.invalidSampleFraction == 0.5)
    #expect(m.violationsPerAngle[7] == 1 && m.violationsPerAngle.reduce(0, +) == 1)
  }

  @Test func twoDimensionalAUC() {
    var m = MetricAccumulator(bounds: Self.free)
    let truth = hand()
    m.add(predicted: truth, truth: truth, predictedUV: [SIMD2<Double>](repeating: SIMD2(3, 4), count: 21), trueUV: [SIMD2<Double>](repeating: .zero, count: 21))
    // Errors of exactly 5 px: PCK 0 below 5 px, 1 from 5; over 0–30 px in 0.5 px steps: (25 + 0.25) / 30.
    #expect(abs(m.auc2D - 25.25 / 30) < 1e-12)
  }
}

@Suite struct ReferenceRows {
  /// The reference predictors behave as their names say: perfect 2D has no
  /// 2D error; flat depth is worse in 3D than noisy depth; the mean pose is
  /// the worst of all.
  @Test func referencePredictorsOrderAsExpected() throws {
    let train = SyntheticStream(count: 64, seed: 21, size: 64), test = SyntheticStream(count: 64, seed: 22, size: 64)
    let bounds = try AngleBounds(poses: (0..<64).map { try train.pose($0) }, dataset: "t")
    let rows = Dictionary(uniqueKeysWithValues: try ReferencePredictor.evaluate(train: train, test: test, bounds: bounds, cropSize: 32).map { ($0.0, $0.1) })
    let mean = rows[.meanPose]!, flat = rows[.flatHand]!, depth = rows[.depthNoise]!, pixel = rows[.pixelNoise]!
    #expect(flat.errors2D.allSatisfy { $0 < 1e-3 } && depth.errors2D.allSatisfy { $0 < 1e-3 })
    #expect(pixel.errors2D.contains { $0 > 0.5 })
    #expect(mean.auc3D < flat.auc3D && flat.auc3D < depth.auc3D, "\(mean.auc3D) \(flat.auc3D) \(depth.auc3D)")
    // Exact 2D: the error is the depth error along the ray, E|N(0, 20 mm)| = 20·√(2/π) ≈ 16 mm.
    #expect(abs(depth.meanError - 20 * (2 / Double.pi).squareRoot()) < 2, "\(depth.meanError)")
  }
}

@Suite struct EstimatedRoot {
  /// Exact joints with an exact root give AUC 1 and no root error; a failed
  /// estimate misses every threshold and is counted.
  @Test func estimatedRootMetricsCountWhatTheySay() throws {
    let flat: [Vector3<Double>] = (0..<21).map { (j: Int) -> Vector3<Double> in Vector3(Double(j), Double(j % 5), 400) }
    let bounds = try AngleBounds(poses: [flat], dataset: "t")
    var m = MetricAccumulator(bounds: bounds)
    let truth: [Vector3<Double>] = (0..<21).map { (j: Int) -> Vector3<Double> in
      let d = Double(j)
      return Vector3(3 * d, 5 * Double(j % 4), 400 + d)
    }
    m.addEstimatedRoot(predicted: truth, truth: truth, rootDepth: 400)
    #expect(m.auc3DEstimatedRoot == 1 && m.rootDepthErrorMean == 0)
    m.addEstimatedRoot(predicted: nil, truth: truth, rootDepth: nil)
    #expect(m.rootDepthFailures == 1 && abs(m.auc3DEstimatedRoot - 0.5) < 1e-12 && m.rootDepthErrors.count == 1)
  }
}
