import EKDHand
import EKDLosses
import EKDTensor
import Foundation
import Testing
import _EKDTestSupport

/// Loss_θ and the bounds, with expected values from the hinge formula in f-space.
@Suite struct AngleLossBehaviour {
  /// Index θ2 allowed in [20°, 100°], θ0 (spread) in [−10°, 15°]; everything else free.
  static var bounds: AngleBounds {
    var lo = [Double](repeating: -1, count: 20), hi = [Double](repeating: 1, count: 20)
    (lo[6], hi[6]) = (cos(Poses.radians(100)), cos(Poses.radians(20)))
    (lo[4], hi[4]) = (sin(Poses.radians(-10)), sin(Poses.radians(15)))
    return AngleBounds(lower: lo, upper: hi, dataset: "test", sampleCount: 0)
  }

  /// The index finger with its PIP bent by `theta2` and its first bone spread by `theta0`.
  static func pose(theta2: Double, theta0: Double = 0) -> [Vector3<Double>] {
    let a = Poses.radians(theta0), b = Poses.radians(theta2)
    var dirs = Array(repeating: Poses.straight, count: 5)
    let b1 = Vector3(sin(a), -cos(a), 0)
    let b2 = Vector3(sin(a) * cos(b), -cos(a) * cos(b), -sin(b))
    dirs[1] = [b1, b2, b2]
    return Poses.hand(directions: dirs)
  }

  func loss(_ pose: [Vector3<Double>]) -> (Float, [Float]) {
    let tape = Tape()
    let x = tape.input(PoseTensor.tensor([pose.map { Vector3(Float($0.x), Float($0.y), Float($0.z)) }]))
    let l = tape.angleLoss(x, bounds: Self.bounds)
    tape.backward(from: l)
    return (l.value.scalar, tape.gradient(of: x)?.scalars ?? [])
  }

  @Test(arguments: [30.0, 60, 90])
  func insideTheBoundsIsFree(theta2: Double) {
    let (l, g) = loss(Self.pose(theta2: theta2, theta0: 5))
    #expect(l == 0)
    #expect(g.allSatisfy { $0 == 0 })
    #expect(!Self.bounds.isInvalid(JointAngles.values(Self.pose(theta2: theta2))))
  }

  /// θ2 below its 20° angle bound means cos θ2 *above* the f-space upper bound
  /// cos 20°: the loss is exactly the overshoot in f. (The paper's eq. 2 taken
  /// literally would compare against cos 100° and penalise every valid pose.)
  ///
  /// At θ2 = 0 exactly the gradient vanishes: d cos θ/dθ = −sin θ = 0 there
  /// (see docs/losses.md, "a flat spot").
  @Test(arguments: [15.0, 10, 5, 0])
  func growsWithOvershootPastACosineUpperBound(theta2: Double) {
    let (l, g) = loss(Self.pose(theta2: theta2))
    #expect(abs(Double(l) - (cos(Poses.radians(theta2)) - cos(Poses.radians(20)))) < 1e-5)
    #expect(g.contains { abs($0) > 1e-4 } == (theta2 > 0))
    #expect(Self.bounds.isInvalid(JointAngles.values(Self.pose(theta2: theta2))))
  }

  @Test(arguments: [110.0, 130])
  func growsPastACosineLowerBound(theta2: Double) {
    let (l, _) = loss(Self.pose(theta2: theta2))
    #expect(abs(Double(l) - (cos(Poses.radians(100)) - cos(Poses.radians(theta2)))) < 1e-5)
  }

  @Test(arguments: [-20.0, -30])
  func growsPastASineLowerBound(theta0: Double) {
    let (l, _) = loss(Self.pose(theta2: 45, theta0: theta0))
    #expect(abs(Double(l) - (sin(Poses.radians(-10)) - sin(Poses.radians(theta0)))) < 1e-5)
  }

  @Test func boundsComeFromPosesAndRoundTripThroughJSON() throws {
    var rng = SeededRandom(seed: 2)
    let poses = (0..<200).map { _ in Poses.random(&rng) }
    let bounds = try AngleBounds(poses: poses, dataset: "unit-test")
    #expect(bounds.sampleCount == 200)
    for pose in poses { #expect(!bounds.isInvalid(JointAngles.values(pose))) }
    for i in 0..<20 {
      let values = poses.map { JointAngles.values($0)[i] }
      #expect(bounds.lower[i] == values.min()! && bounds.upper[i] == values.max()!)
    }
    let again = try AngleBounds(jsonData: bounds.jsonData(), path: "b.json")
    #expect(again == bounds)
    #expect(throws: BoundsFileError("b.json", "\"bounds\" must be an array of 20 [lower, upper] pairs")) {
      try AngleBounds(jsonData: Data(#"{"format": "ekd-angle-bounds", "bounds": [[0, 1]]}"#.utf8), path: "b.json")
    }
    #expect(throws: BoundsFileError("b.json", "not valid JSON")) { try AngleBounds(jsonData: Data("{".utf8), path: "b.json") }
  }

  @Test func invalidMaskMarksSamplesWithAnyViolation() {
    let poses = [Self.pose(theta2: 45), Self.pose(theta2: 5), Self.pose(theta2: 45, theta0: -30)]
    let t = PoseTensor.tensor(poses.map { $0.map { Vector3(Float($0.x), Float($0.y), Float($0.z)) } })
    #expect(Self.bounds.invalidMask(t).scalars == [0, 1, 1])
  }

  /// Loss_θ through the tape against central differences, on poses outside the bounds.
  @Test func gradientMatchesCentralDifferences() {
    var rng = SeededRandom(seed: 9)
    let poses = (0..<3).map { _ in Poses.random(&rng).map { Vector3(Float($0.x), Float($0.y), Float($0.z)) } }
    // Tight bounds around the first pose: the others violate many angles, far from the kinks.
    let tight = AngleBounds(
      lower: JointAngles.values(poses[0]).map { Double($0) - 0.01 },
      upper: JointAngles.values(poses[0]).map { Double($0) + 0.01 }, dataset: "", sampleCount: 1)
    let (mismatches, probed) = GradientCheck(step: 1e-2, tolerance: 2e-2, samplesPerTensor: 200).check(inputs: [PoseTensor.tensor(poses)]) { t, v in
      t.angleLoss(v[0], bounds: tight)
    }
    #expect(probed == 189)
    #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
  }
}
