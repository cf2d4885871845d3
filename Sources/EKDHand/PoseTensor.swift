import EKDTensor

/// Poses as tensors: [B, J, 3] (J = HandSkeleton.jointCount) ↔ arrays of joints.
public enum PoseTensor {
  public static func joints(_ t: Tensor, sample b: Int) -> [Vector3<Float>] {
    let base = b * HandSkeleton.poseScalars
    return t.withUnsafeBufferPointer { p in (0..<HandSkeleton.jointCount).map { Vector3(p[base + 3 * $0], p[base + 3 * $0 + 1], p[base + 3 * $0 + 2]) } }
  }

  public static func tensor(_ poses: [[Vector3<Float>]]) -> Tensor {
    Tensor(shape: [poses.count, HandSkeleton.jointCount, 3], scalars: poses.flatMap { $0.flatMap { [$0.x, $0.y, $0.z] } })
  }

  public static func check(_ shape: Shape, _ what: String) {
    precondition(shape.rank == 3 && shape[1] == HandSkeleton.jointCount && shape[2] == 3, "\(what) must be [B, J, 3] (J = HandSkeleton.jointCount), got \(shape)")
  }
}

extension AngleBounds {
  /// w per sample ([B], 0 or 1): 1 when the pose has at least one angle out of bounds.
  public func invalidMask(_ poses: Tensor) -> Tensor {
    PoseTensor.check(poses.shape, "invalidMask poses")
    let batch = poses.shape[0]
    return Tensor(shape: [batch], scalars: (0..<batch).map { isInvalid(JointAngles.values(PoseTensor.joints(poses, sample: $0))) ? 1 : 0 })
  }
}
