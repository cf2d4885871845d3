import EKDHand
import EKDTensor
import Foundation
import Testing

/// The bounds at their edges: predictions that are not numbers, and bounds from no poses.
@Suite struct AngleBoundsEdges {
  static let free = AngleBounds(lower: [Double](repeating: -1, count: 20), upper: [Double](repeating: 1, count: 20), dataset: "test", sampleCount: 0)

  /// NaN compares false with both bounds, so it used to pass as inside them:
  /// V.F. and w counted a broken prediction as valid.
  @Test(arguments: [Double.nan, .infinity, -.infinity])
  func nonFiniteValuesAreViolations(bad: Double) {
    var f = [Double](repeating: 0, count: 20)
    f[7] = bad
    #expect(Self.free.violations(f) == (0..<20).map { $0 == 7 })
    #expect(Self.free.isInvalid(f))
    #expect(Self.free.isInvalid(f.map { Float($0) }))
  }

  @Test func aPoseWithANaNJointIsMarkedInvalid() {
    var pose = Poses.flat.map { Vector3(Float($0.x), Float($0.y), Float($0.z)) }
    #expect(Self.free.invalidMask(PoseTensor.tensor([pose])).scalars == [0])
    pose[8] = Vector3(Float.nan, 0, 0)
    #expect(Self.free.invalidMask(PoseTensor.tensor([pose])).scalars == [1])
  }

  /// Zero poses used to give [−1, 1] for every angle, silently.
  @Test func boundsFromNoPosesAreAnError() {
    #expect(throws: AngleBoundsError("empty", "no poses to compute angle bounds from")) {
      try AngleBounds(poses: [[Vector3<Double>]](), dataset: "empty")
    }
  }

  @Test func boundsFromAPoseWithANaNJointAreAnError() {
    var pose = Poses.flat
    pose[8] = Vector3(Double.nan, 0, 0)  // index tip: its last bone, so f of index θ3, is NaN
    #expect(throws: AngleBoundsError("nan", "pose 1: index_theta3 is not finite")) {
      try AngleBounds(poses: [Poses.flat, pose], dataset: "nan")
    }
  }
}
