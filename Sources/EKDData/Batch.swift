import EKDHand
import EKDTensor

/// A batch of crops and their labels, as the students and losses consume them.
///
/// Everything is in the crop's camera: `intrinsics` is the crop's K, so
/// projecting `xyz` with it lands on `uv`. The derived targets follow
/// hand-model.md §5 and §7: Z₀ = the wrist's depth, s = ‖J9 − J0‖,
/// uvz = (u, v, (Z − Z₀)/s), pose = (C − C₀)/s.
public struct Batch: @unchecked Sendable {
  /// [B, 3, S, S], normalised RGB.
  public var images: Tensor
  /// [B, 21, 2] pixel coordinates in the crop.
  public var uv: Tensor
  /// [B, 21, 3] millimetres, camera frame.
  public var xyz: Tensor
  /// [B, 3, 3] row-major intrinsics of the crop.
  public var intrinsics: Tensor
  /// [B] root (wrist) depth Z₀, mm.
  public let rootDepth: Tensor
  /// [B] scale s = ‖J9 − J0‖, mm.
  public let scale: Tensor
  /// [B, 21, 3]: (u, v, (Z − Z₀)/s), the 2.5D target.
  public let uvz: Tensor
  /// [B, 21, 3]: (C − C₀)/s, the pose the teacher sees.
  public let pose: Tensor

  public init(images: Tensor, uv: Tensor, xyz: Tensor, intrinsics: Tensor) {
    let b = images.shape[0]
    let j = HandSkeleton.jointCount, n = HandSkeleton.poseScalars
    precondition(uv.shape == [b, j, 2] && xyz.shape == [b, j, 3] && intrinsics.shape == [b, 3, 3], "batch shapes: images \(images.shape), uv \(uv.shape), xyz \(xyz.shape), K \(intrinsics.shape)")
    (self.images, self.uv, self.xyz, self.intrinsics) = (images, uv, xyz, intrinsics)
    let p = xyz.scalars, q = uv.scalars
    var z0 = [Float](repeating: 0, count: b), s = [Float](repeating: 0, count: b)
    var uvz = [Float](repeating: 0, count: b * n), pose = [Float](repeating: 0, count: b * n)
    for i in 0..<b {
      let o = i * n
      z0[i] = p[o + 3 * HandSkeleton.root + 2]
      s[i] = max(HandSkeleton.scale(PoseTensor.joints(xyz, sample: i)), 1e-3)
      for k in 0..<j {
        uvz[o + 3 * k] = q[i * 2 * j + 2 * k]
        uvz[o + 3 * k + 1] = q[i * 2 * j + 2 * k + 1]
        uvz[o + 3 * k + 2] = (p[o + 3 * k + 2] - z0[i]) / s[i]
        for a in 0..<3 { pose[o + 3 * k + a] = (p[o + 3 * k + a] - p[o + a]) / s[i] }
      }
    }
    rootDepth = Tensor(shape: [b], scalars: z0)
    scale = Tensor(shape: [b], scalars: s)
    self.uvz = Tensor(shape: [b, j, 3], scalars: uvz)
    self.pose = Tensor(shape: [b, j, 3], scalars: pose)
  }

  public var count: Int { images.shape[0] }
  public var cropSize: Int { images.shape[3] }

  /// The samples `range` of this batch, in order (a replica's shard).
  public func slice(_ range: Range<Int>) -> Batch {
    Batch(images: images.items(range), uv: uv.items(range), xyz: xyz.items(range), intrinsics: intrinsics.items(range))
  }
}
