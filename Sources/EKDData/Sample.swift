import EKDHand

/// Which hand a dataset's file holds; the model always sees a right hand.
public enum Handedness: String, Sendable, Codable { case left, right }

/// One labelled image in the canonical form every reader produces
/// (hand-model.md §1, datasets.md): 21 joints in canonical order, millimetres
/// in the camera frame, always a right hand — left hands are mirrored
/// (image, u and K together) when the sample is made.
public struct Sample: Sendable {
  public var image: Image
  /// Row-major 3×3 intrinsics.
  public var intrinsics: [Double]
  /// 21 joints, mm, camera frame.
  public var xyz: [Vector3<Double>]
  /// 21 pixel positions.
  public var uv: [SIMD2<Double>]
  public var visible: [Bool]
  /// The hand as it was in the file (before mirroring).
  public var hand: Handedness
  /// Where it came from, for messages and reports.
  public var source: String
  /// True once a left hand has been mirrored into a right one.
  public private(set) var mirrored = false

  public init(
    image: Image, intrinsics: [Double], xyz: [Vector3<Double>], uv: [SIMD2<Double>]? = nil,
    visible: [Bool]? = nil, hand: Handedness = .right, source: String = ""
  ) {
    precondition(intrinsics.count == 9 && xyz.count == HandSkeleton.jointCount, "a sample has 9 intrinsics and \(HandSkeleton.jointCount) joints")
    self.image = image
    self.intrinsics = intrinsics
    self.xyz = xyz
    let k = Intrinsics(matrix: intrinsics)
    self.uv =
      uv
      ?? xyz.map {
        let p = k.project($0); return SIMD2(p.u, p.v)
      }
    self.visible = visible ?? [Bool](repeating: true, count: HandSkeleton.jointCount)
    self.hand = hand
    self.source = source
  }

  /// The same sample seen as a right hand: a left hand is mirrored
  /// (x → −x, image flipped, u → W−1−u, cx → W−1−cx); a right hand is returned as is.
  public func asRightHand() -> Sample {
    guard hand == .left, !mirrored else { return self }
    var s = self
    s.mirrored = true
    s.xyz = Mirroring.mirror(points: xyz)
    s.uv = Mirroring.mirror(uv: uv, width: image.width)
    s.intrinsics = Mirroring.mirror(intrinsics: intrinsics, width: image.width)
    s.image = image.flippedHorizontally()
    return s
  }
}
