import EKDHand
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
        let o = b * HandSkeleton.poseScalars
        for k in 0..<HandSkeleton.jointCount {
          dx[o + 3 * k] += s * dJ[k].x
          dx[o + 3 * k + 1] += s * dJ[k].y
          dx[o + 3 * k + 2] += s * dJ[k].z
        }
      }
    }
  }
}
