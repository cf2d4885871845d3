import EKDHand
import EKDLosses
import EKDTensor
import Foundation
import Testing

@Suite struct JointAngleValues {
  func expectF(_ pose: [Vector3<Double>], finger: Int, _ expected: [Double], tolerance: Double = 1e-9) {
    let f = JointAngles.values(pose)
    for k in 0..<4 { #expect(abs(f[4 * finger + k] - expected[k]) < tolerance, "finger \(finger) f\(k): \(f[4 * finger + k]) vs \(expected[k])") }
  }

  @Test func flatHandHasAllAnglesZero() {
    let f = JointAngles.values(Poses.flat)
    for finger in 0..<5 { expectF(Poses.flat, finger: finger, [0, 0, 1, 1]) }
    // ε = 1e-8 in unit() leaves cos θ = 1 − O(1e-9); acos there is ill-conditioned (≈ 0.002°).
    for d in JointAngles.degrees(f) { #expect(abs(d) < 1e-2) }
  }

  @Test func indexBentNinetyDegreesAtThePIP() {
    var dirs = Array(repeating: Poses.straight, count: 5)
    dirs[1] = [Vector3(0, -1, 0), Vector3(0, 0, -1), Vector3(0, 0, -1)]
    let pose = Poses.hand(directions: dirs)
    expectF(pose, finger: 1, [0, 0, 0, 1])
    #expect(abs(JointAngles.degrees(JointAngles.values(pose))[6] - 90) < 1e-6)
  }

  @Test func fist() {
    // First bone flexed 90° out of the palm (along n), then folded back, then in again.
    let curled = [Vector3<Double>(0, 0, -1), Vector3(0, 1, 0), Vector3(0, 0, 1)]
    let pose = Poses.hand(directions: [Poses.straight] + Array(repeating: curled, count: 4))
    for finger in 1..<5 { expectF(pose, finger: finger, [0, 1, 0, 0]) }
    let deg = JointAngles.degrees(JointAngles.values(pose))
    for finger in 1..<5 { for k in 1..<4 { #expect(abs(deg[4 * finger + k] - 90) < 1e-2) } }
  }

  @Test(arguments: [-25.0, 10, 20])
  func indexSpreadSideways(degrees alpha: Double) {
    let a = Poses.radians(alpha)
    var dirs = Array(repeating: Poses.straight, count: 5)
    dirs[1] = Array(repeating: Vector3(sin(a), -cos(a), 0), count: 3)
    let pose = Poses.hand(directions: dirs)
    expectF(pose, finger: 1, [sin(a), 0, 1, 1])
    #expect(abs(JointAngles.degrees(JointAngles.values(pose))[4] - alpha) < 1e-6)
  }

  @Test(arguments: [15.0, 30, 60])
  func middleFlexedOutOfThePalmPlane(degrees beta: Double) {
    let b = Poses.radians(beta)
    var dirs = Array(repeating: Poses.straight, count: 5)
    dirs[2] = [Vector3(0, -cos(b), -sin(b)), Vector3(0, -1, 0), Vector3(0, -1, 0)]
    let pose = Poses.hand(directions: dirs)
    expectF(pose, finger: 2, [0, sin(b), cos(b), 1])
    #expect(abs(JointAngles.degrees(JointAngles.values(pose))[9] - beta) < 1e-6)
  }

  @Test func invariantToRotationTranslationAndScale() {
    var rng = SeededRandom(seed: 31)
    for _ in 0..<50 {
      let pose = Poses.random(&rng)
      let axis = Vector3(Double.random(in: -1...1, using: &rng), .random(in: -1...1, using: &rng), .random(in: 0.1...1, using: &rng))
      let scale = Double.random(in: 0.5...3, using: &rng)
      let shift = Vector3(Double.random(in: -50...50, using: &rng), .random(in: -50...50, using: &rng), .random(in: 300...700, using: &rng))
      let moved = Poses.rotate(pose, axis: axis, angle: .random(in: 0...6, using: &rng)).map { scale * $0 + shift }
      for (a, b) in zip(JointAngles.values(pose), JointAngles.values(moved)) { #expect(abs(a - b) < 1e-9) }
    }
  }

  /// A reader mirrors a left hand before the model sees it. Without the
  /// mirror, the palm normal flips and every θ1 changes sign.
  @Test func mirroredLeftHandGivesTheRightHandsValues() {
    var rng = SeededRandom(seed: 31)
    let right = Poses.random(&rng)
    let left = Mirroring.mirror(points: right)
    let fr = JointAngles.values(right), fl = JointAngles.values(left), back = JointAngles.values(Mirroring.mirror(points: left))
    for i in 0..<20 {
      #expect(abs(back[i] - fr[i]) < 1e-12)
      #expect(abs(fl[i] - (i % 4 == 1 ? -fr[i] : fr[i])) < 1e-9)
    }
  }

  /// A mirrored sample (3D, image coordinates and K together) still projects.
  @Test func mirroredSampleStillProjects() {
    let k: [Double] = [600, 0.5, 150, 0, 610, 130, 0, 0, 1]
    let width = 320
    let pose = Poses.flat.map { $0 + Vector3(10, 40, 450) }
    let uv = pose.map { Intrinsics(matrix: k).project($0) }.map { ($0.u, $0.v) }
    let m3 = Mirroring.mirror(points: pose), muv = Mirroring.mirror(uv: uv, width: width), mk = Intrinsics(matrix: Mirroring.mirror(intrinsics: k, width: width))
    for (p, q) in zip(m3, muv) {
      let (u, v) = mk.project(p)
      #expect(abs(u - q.0) < 1e-9 && abs(v - q.1) < 1e-9)
    }
  }

  @Test func degeneratePosesStayFinite() {
    let point = [Vector3<Double>](repeating: Vector3(1, 2, 3), count: 21)
    var pair = Poses.flat
    pair[6] = pair[5]
    for pose in [point, pair] {
      #expect(JointAngles.values(pose).allSatisfy { $0.isFinite })
      let g = JointAngles.pullback(pose, [Double](repeating: 1, count: 20))
      #expect(g.allSatisfy { $0.x.isFinite && $0.y.isFinite && $0.z.isFinite })
    }
  }

  /// The hand-derived pullback against central differences, in Double.
  @Test func pullbackMatchesCentralDifferences() {
    var rng = SeededRandom(seed: 31)
    for _ in 0..<20 {
      let pose = Poses.random(&rng)
      let r = (0..<20).map { _ in Double.random(in: -1...1, using: &rng) }
      let objective = { (p: [Vector3<Double>]) in zip(JointAngles.values(p), r).map(*).reduce(0, +) }
      let g = JointAngles.pullback(pose, r)
      let h = 1e-5
      for j in 0..<21 {
        for axis in 0..<3 {
          var plus = pose, minus = pose
          switch axis {
          case 0: plus[j].x += h; minus[j].x -= h
          case 1: plus[j].y += h; minus[j].y -= h
          default: plus[j].z += h; minus[j].z -= h
          }
          let numeric = (objective(plus) - objective(minus)) / (2 * h)
          let analytic = [g[j].x, g[j].y, g[j].z][axis]
          #expect(abs(numeric - analytic) < 1e-7 * max(1, abs(numeric)), "joint \(j) axis \(axis)")
        }
      }
    }
  }
}
