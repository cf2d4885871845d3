import EKDHand
import EKDLosses
import EKDTensor
import Foundation
import Testing
import _EKDTestSupport

@Suite struct HeatmapTerm {
  /// Gaussian targets decode to the joint they were made for, and a student
  /// whose softmax equals them pays nothing.
  @Test func aPerfectPredictionHasZeroLossAndDecodesToTheJoint() {
    // Two joints of one sample, in a 32×32 crop with an 8×8 head, away from the border
    // (a Gaussian cut by the border has its mean pulled inward).
    let uvz = Tensor(shape: [1, 2, 3], scalars: [13.5, 17.25, 0.4, 18, 14.5, -0.7])
    let t = HeatmapTargets.gaussians(uvz: uvz, height: 8, width: 8, cropWidth: 32, cropHeight: 32, sigma: 1)
    for j in 0..<2 { #expect(abs((0..<64).map { t[flat: j * 64 + $0] }.reduce(0, +) - 1) < 1e-5) }
    let logits = Tensor(shape: [1, 2, 8, 8], scalars: t.scalars.map { Foundation.log(max($0, 1e-30)) })
    let tape = Tape(mode: .training)
    let h = tape.constant(logits)
    #expect(abs(tape.heatmapLoss(h, target: t).value.scalar) < 1e-5)
    // Depth maps constant at each joint's z: the decode gives back (u, v, z).
    let depths = Tensor(shape: [1, 2, 8, 8], scalars: (0..<128).map { $0 < 64 ? 0.4 : -0.7 })
    let decoded = tape.decode25D(heatmaps: h, depths: tape.constant(depths), cropWidth: 32, cropHeight: 32).value
    for i in 0..<6 { #expect(abs(decoded[flat: i] - uvz[flat: i]) < 0.02, "\(i): \(decoded[flat: i]) vs \(uvz[flat: i])") }
  }

  @Test func gradientMatchesCentralDifferences() {
    var rng = SeededRandom(seed: 5)
    let uvz = Tensor(shape: [2, 3, 3], scalars: (0..<18).map { _ in Float.random(in: 2...14, using: &rng) })
    let target = HeatmapTargets.gaussians(uvz: uvz, height: 4, width: 4, cropWidth: 16, cropHeight: 16, sigma: 1)
    let logits = Tensor.randomNormal([2, 3, 4, 4], using: &rng)
    let (mismatches, _) = GradientCheck(step: 1e-2).check(inputs: [logits]) { t, v in t.heatmapLoss(v[0], target: target) }
    #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
  }

  /// A joint far outside the crop has no target mass on the map: no loss, no gradient.
  @Test func aJointOffTheMapIsNotSupervised() {
    let uvz = Tensor(shape: [1, 1, 3], scalars: [-500, 8, 0])
    let t = HeatmapTargets.gaussians(uvz: uvz, height: 4, width: 4, cropWidth: 16, cropHeight: 16, sigma: 1)
    #expect(t.scalars.allSatisfy { $0 == 0 })
    let tape = Tape(mode: .training)
    var rng = SeededRandom(seed: 1)
    let h = tape.constant(Tensor.randomNormal([1, 1, 4, 4], using: &rng))
    let loss = tape.heatmapLoss(h, target: t)
    #expect(loss.value.scalar == 0)
  }
}
