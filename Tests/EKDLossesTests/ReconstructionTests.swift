import EKDHand
import EKDLosses
import EKDTensor
import Foundation
import Testing
import _EKDTestSupport

@Suite struct Decode25D {
  /// A one-hot heatmap (one huge logit) decodes to exactly that pixel, and z to its depth.
  /// (±100: exp(−200) underflows to 0 in Float, so no other pixel keeps any weight.)
  @Test(arguments: [(0, 0), (7, 3), (15, 15), (4, 12)])
  func oneHotHeatmapDecodesToItsPixel(x: Int, y: Int) {
    let (h, w) = (16, 16)
    var heat = Tensor(repeating: -100, shape: [1, 2, h, w])
    heat[0, 0, y, x] = 100
    heat[0, 1, h - 1 - y, x] = 100
    let depth = Tensor(shape: [1, 2, h, w], scalars: (0..<(2 * h * w)).map { Float($0) * 0.01 })
    let tape = Tape(mode: .inference)
    let uvz = tape.decode25D(heatmaps: tape.constant(heat), depths: tape.constant(depth), cropWidth: w, cropHeight: h).value
    #expect(uvz.shape == [1, 2, 3])
    #expect(uvz[0, 0, 0] == Float(x) && uvz[0, 0, 1] == Float(y))
    #expect(uvz[0, 1, 0] == Float(x) && uvz[0, 1, 1] == Float(h - 1 - y))
    #expect(abs(uvz[0, 0, 2] - depth[0, 0, y, x]) < 1e-6)
    // At a quarter of the crop's resolution, pixel centres map to centres: x ↦ 4x + 1.5.
    let crop = tape.decode25D(heatmaps: tape.constant(heat), depths: tape.constant(depth), cropWidth: 4 * w, cropHeight: 4 * h).value
    #expect(crop[0, 0, 0] == 4 * Float(x) + 1.5 && crop[0, 0, 1] == 4 * Float(y) + 1.5)
  }

  @Test func gradientMatchesCentralDifferences() {
    var rng = SeededRandom(seed: 4)
    let heat = Tensor.randomNormal([2, 3, 4, 5], using: &rng), depth = Tensor.randomNormal([2, 3, 4, 5], using: &rng)
    let (mismatches, _) = GradientCheck(step: 1e-2, tolerance: 1e-2, samplesPerTensor: 40).check(inputs: [heat, depth]) { t, v in
      t.decode25D(heatmaps: v[0], depths: v[1], cropWidth: 20, cropHeight: 16)
    }
    #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
  }
}

@Suite struct Reconstruction3D {
  static let k: [Float] = [480, 0, 64, 0, 470, 60, 0, 0, 1]

  /// Project a known pose with K, decode nothing: (u, v, (Z − Z₀)/s) must give the pose back.
  @Test func roundTripsAKnownPoseThroughProjection() {
    let pose = Poses.flat.map { $0 + Vector3(15, -10, 420) }
    let s = HandSkeleton.scale(pose), z0 = pose[0].z
    for skew in [0.0, 0.7] {
      var kd = Self.k.map(Double.init)
      kd[1] = skew
      let intr = Intrinsics(matrix: kd)
      // Double: the generic code is exact to rounding.
      for p in pose {
        let (u, v) = intr.project(p)
        let back = Reconstruction.point(u: u, v: v, z: (p.z - z0) / s, intrinsics: intr, rootDepth: z0, scale: s)
        #expect((back - p).length < 1e-9)
      }
      // Float, through the tape op, to 1e-3 mm.
      let uvz = pose.flatMap { p -> [Float] in
        let (u, v) = intr.project(p)
        return [Float(u), Float(v), Float((p.z - z0) / s)]
      }
      let tape = Tape(mode: .inference)
      var kf = Self.k
      kf[1] = Float(skew)
      let c = tape.reconstruct(
        tape.constant(Tensor(shape: [1, 21, 3], scalars: uvz)), intrinsics: Tensor(shape: [1, 3, 3], scalars: kf),
        rootDepth: Tensor(shape: [1], scalars: [Float(z0)]), scale: Tensor(shape: [1], scalars: [Float(s)])
      ).value
      for (j, p) in pose.enumerated() {
        let err = Vector3(Double(c[0, j, 0]), Double(c[0, j, 1]), Double(c[0, j, 2])) - p
        #expect(err.length < 1e-3, "joint \(j): \(err.length) mm")
      }
    }
  }

  @Test func reconstructAndRootRelativeGradients() {
    var rng = SeededRandom(seed: 6)
    let uvz = Tensor(shape: [2, 21, 3], scalars: (0..<126).map { i in i % 3 == 2 ? rng.nextNormal() * 0.3 : 64 + 20 * rng.nextNormal() })
    var k = Self.k + Self.k
    k[10] = 0.5
    let (m1, _) = GradientCheck(step: 1e-2, tolerance: 1e-2, samplesPerTensor: 60).check(inputs: [uvz]) { t, v in
      t.reconstruct(
        v[0], intrinsics: Tensor(shape: [2, 3, 3], scalars: k), rootDepth: Tensor(shape: [2], scalars: [400, 500]),
        scale: Tensor(shape: [2], scalars: [90, 80]))
    }
    #expect(m1.isEmpty, "\(m1.prefix(5))")
    let c = Tensor.randomNormal([2, 21, 3], std: 50, using: &rng)
    let (m2, _) = GradientCheck(samplesPerTensor: 60).check(inputs: [c]) { t, v in t.rootRelative(v[0], scale: Tensor(shape: [2], scalars: [90, 80])) }
    #expect(m2.isEmpty, "\(m2.prefix(5))")
  }

  @Test func rootRelativeNormalises() {
    let pose = Poses.flat.map { $0 + Vector3(15, -10, 420) }
    let tape = Tape(mode: .inference)
    let p = tape.rootRelative(
      tape.constant(PoseTensor.tensor([pose.map { Vector3(Float($0.x), Float($0.y), Float($0.z)) }])),
      scale: Tensor(shape: [1], scalars: [80])
    ).value
    #expect(p[0, 0, 0] == 0 && p[0, 0, 1] == 0 && p[0, 0, 2] == 0)
    #expect(abs(p[0, 9, 1] - Float(-80.0 / 80)) < 1e-6)  // middle MCP is 80 mm above the wrist
  }
}

@Suite struct OffsetAndPositionLosses {
  func random(_ rng: inout SeededRandom) -> (Tensor, Tensor, Tensor) {
    (Tensor.randomNormal([3, 21, 3], using: &rng), Tensor.randomNormal([3, 21, 3], using: &rng), Tensor.randomNormal([3, 21, 3], using: &rng))
  }

  /// Loss_off's target: zero for valid samples (w = 0), the stop-gradient
  /// prediction error for invalid ones (w = 1).
  @Test func offsetTargetFollowsTheIndicator() {
    var rng = SeededRandom(seed: 1)
    let (pp, pg, _) = random(&rng)
    let t = EKDLoss.offsetTarget(predicted: pp, groundTruth: pg, invalid: Tensor(shape: [3], scalars: [0, 1, 0]))
    for i in 0..<189 {
      let expected: Float = (i / 63 == 1) ? pg[flat: i] - pp[flat: i] : 0
      #expect(t[flat: i] == expected)
    }
  }

  /// No gradient of Loss_off reaches the student's prediction: its target is a value.
  @Test func offsetLossSendsNoGradientToThePrediction() {
    var rng = SeededRandom(seed: 2)
    let (pp, pg, m) = random(&rng)
    let tape = Tape()
    let predicted = tape.input(pp), offsets = tape.input(m)
    let loss = EKDLoss.offset(offsets, predicted: predicted, groundTruth: pg, invalid: Tensor(shape: [3], scalars: [1, 1, 0]))
    tape.backward(from: loss)
    #expect(tape.gradient(of: predicted) == nil)
    let g = tape.gradient(of: offsets)!
    // d|M − target|/dM = sign(M − target), divided by the batch of 3.
    let target = EKDLoss.offsetTarget(predicted: pp, groundTruth: pg, invalid: Tensor(shape: [3], scalars: [1, 1, 0]))
    for i in 0..<189 { #expect(g[flat: i] == (m[flat: i] > target[flat: i] ? Float(1) : -1) / 3) }
  }

  /// Loss_pos_mod reaches both the prediction and the offsets; the student loss reaches the prediction.
  @Test func positionLossGradients() {
    var rng = SeededRandom(seed: 3)
    let (pp, pg, m) = random(&rng)
    let (mm, _) = GradientCheck(step: 1e-3).check(inputs: [pp, m]) { t, v in EKDLoss.modifiedPosition(v[1], predicted: v[0], groundTruth: pg) }
    #expect(mm.isEmpty, "\(mm.prefix(5))")
    // A small step for the L1 kinks; at that step the Float32 sum of 189 terms is
    // resolved to ~2e-3, so 3% of gradients of 0.1 (a halved gradient fails by 50%).
    let (ms, _) = GradientCheck(step: 1e-3, tolerance: 3e-2).check(inputs: [pp]) { t, v in
      EKDLoss.studentPosition(v[0], target: pg, cropWidth: 4, cropHeight: 5)
    }
    #expect(ms.isEmpty, "\(ms.prefix(5))")
    let tape = Tape(mode: .inference)
    let l = EKDLoss.studentPosition(tape.constant(pp), target: pg, cropWidth: 4, cropHeight: 5).value.scalar
    var expected: Float = 0
    for i in 0..<189 { expected += abs(pp[flat: i] - pg[flat: i]) / [4, 5, 1][i % 3] }
    #expect(abs(l - expected / 3) < 1e-4)
  }

  @Test func totalWeighsTheTerms() {
    let tape = Tape(mode: .inference)
    let one = tape.constant(Tensor(1)), two = tape.constant(Tensor(2)), three = tape.constant(Tensor(3)), four = tape.constant(Tensor(4))
    let w = LossWeights(angle: 0.5, offset: 0.25, modifiedPosition: 2)
    let expected: Float = 1 + 0.5 * 2 + 0.25 * 3 + 2 * 4
    let total = EKDLoss.total(student: one, angle: two, offset: three, modified: four, weights: w).value.scalar
    #expect(total == expected)
    #expect(EKDLoss.total(student: one, angle: two, offset: three, modified: four, weights: .baseline).value.scalar == 1)
  }
}

@Suite struct AbsoluteDepth {
  /// With the true 2D, the true relative depths and the true bone length, the
  /// closed form gives back the wrist's depth: to 1e-3 mm, on synthetic hands.
  @Test func rootDepthFromOneBoneRecoversTheTruth() {
    for i in 0..<50 {
      let joints = SyntheticPose.hand(i)
      let k = Intrinsics<Double>(fx: 600 + Double(i), fy: 610, cx: 320, cy: 240, skew: i % 2 == 0 ? 0 : 1.5)
      let s = HandSkeleton.scale(joints)
      let uv = joints.map { k.project($0) }
      let z = joints.map { ($0.z - joints[0].z) / s }
      let z0 = Reconstruction.rootDepth(uv: uv, z: z, intrinsics: k, boneLength: s)
      #expect(z0 != nil && abs(z0! - joints[0].z) < 1e-3, "\(i): \(z0 ?? -1) vs \(joints[0].z)")
    }
  }

  /// A prediction that no real hand could produce (rays that cannot be a bone of that length) has no depth.
  @Test func anImpossibleBoneHasNoDepth() {
    let k = Intrinsics<Double>(fx: 500, fy: 500, cx: 0, cy: 0)
    var uv = [(u: Double, v: Double)](repeating: (0, 0), count: 21)
    uv[9] = (0, 0)
    var z = [Double](repeating: 0, count: 21)
    z[9] = 2  // the MCP two bone lengths behind the wrist on the same ray: ‖(Z₀ + 2L) − Z₀‖ = 2L ≠ L
    #expect(Reconstruction.rootDepth(uv: uv, z: z, intrinsics: k, boneLength: 90) == nil)
  }
}

/// Hand-like poses in front of a camera, without the renderer (EKDLossesTests does not depend on EKDData).
enum SyntheticPose {
  static func hand(_ i: Int) -> [Vector3<Double>] {
    var rng = SeededRandom(seed: UInt64(i) + 100)
    let centre = Vector3(Double.random(in: -80...80, using: &rng), Double.random(in: -60...60, using: &rng), Double.random(in: 300...700, using: &rng))
    return (0..<21).map { j in
      let finger = j == 0 ? 0 : (j - 1) / 4, k = j == 0 ? 0 : (j - 1) % 4
      return centre + Vector3(Double(finger) * 20 - 40 + Double(rng.nextNormal()) * 5, -Double(k) * 25 - (j == 0 ? 0 : 60), Double(rng.nextNormal()) * 30)
    }
  }
}
