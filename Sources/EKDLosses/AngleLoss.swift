import EKDTensor

/// The angle regularizer Loss_θ (paper eq. 2, corrected; hand-model.md §4).
///
/// Per sample: Σ over the 20 angles of max(f − hi, 0) + max(lo − f, 0), with
/// the bounds in f-space. The paper pushes angle bounds through f, which is
/// wrong for the decreasing cosine: θ above its upper bound has cos θ *below*
/// cos θ̄. With f-space bounds one formula is right for sine and cosine alike.
/// dLoss/df is +1 above hi, −1 below lo, 0 inside (and on the bound).
public enum AngleLoss {
  /// Loss and dLoss/df for one pose's 20 f-values.
  public static func hinge<T: BinaryFloatingPoint>(_ f: [T], bounds: AngleBounds) -> (loss: T, gradient: [T]) {
    var loss: T = 0
    var g = [T](repeating: 0, count: f.count)
    for i in f.indices {
      let lo = T(bounds.lower[i]), hi = T(bounds.upper[i])
      if f[i] > hi {
        loss += f[i] - hi
        g[i] = 1
      } else if f[i] < lo {
        loss += lo - f[i]
        g[i] = -1
      }
    }
    return (loss, g)
  }
}

/// Poses as tensors: [B, 21, 3] ↔ arrays of joints.
public enum PoseTensor {
  public static func joints(_ t: Tensor, sample b: Int) -> [Vector3<Float>] {
    let base = b * 63
    return t.withUnsafeBufferPointer { p in (0..<21).map { Vector3(p[base + 3 * $0], p[base + 3 * $0 + 1], p[base + 3 * $0 + 2]) } }
  }

  public static func tensor(_ poses: [[Vector3<Float>]]) -> Tensor {
    Tensor(shape: [poses.count, 21, 3], scalars: poses.flatMap { $0.flatMap { [$0.x, $0.y, $0.z] } })
  }

  static func check(_ shape: Shape, _ what: String) {
    precondition(shape.rank == 3 && shape[1] == 21 && shape[2] == 3, "\(what) must be [B, 21, 3], got \(shape)")
  }
}

extension Tape {
  /// Loss_θ averaged over the batch, for poses [B, 21, 3] (any translation and
  /// scale: the angles are invariant to both).
  public func angleLoss(_ poses: Variable, bounds: AngleBounds) -> Variable {
    PoseTensor.check(poses.shape, "angleLoss poses")
    let x = poses.value, batch = x.shape[0]
    var total: Float = 0
    var grads: [[Float]] = []
    for b in 0..<batch {
      let (loss, g) = AngleLoss.hinge(JointAngles.values(PoseTensor.joints(x, sample: b)), bounds: bounds)
      total += loss
      grads.append(g)
    }
    let scale = 1 / Float(max(batch, 1))
    return record(Tensor(total * scale), inputs: [poses]) { dy, d in
      guard let dx = d[0] else { return }
      let s = dy.scalar * scale
      for b in 0..<batch where grads[b].contains(where: { $0 != 0 }) {
        let dJ = JointAngles.pullback(PoseTensor.joints(x, sample: b), grads[b])
        for k in 0..<21 {
          dx[b * 63 + 3 * k] += s * dJ[k].x
          dx[b * 63 + 3 * k + 1] += s * dJ[k].y
          dx[b * 63 + 3 * k + 2] += s * dJ[k].z
        }
      }
    }
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
