import Foundation

/// The 20 joint-angle quantities f(θ) of one hand (hand-model.md §2).
///
/// Frame: d = unit(J5 − J17) along the MCP line L1; n = unit((J5 − J0) × (J17 − J0))
/// normal to the palm plane P1. For a finger [a, b, c, d] with bones
/// b1 = unit(Jb − Ja), b2 = unit(Jc − Jb), b3 = unit(Jd − Jc):
///   f0 = sin θ0 = b1·d   (sideways spread: b1 against the perpendicular of L1)
///   f1 = sin θ1 = b1·n   (flexion out of the palm plane)
///   f2 = cos θ2 = b1·b2  (bend at the second joint)
///   f3 = cos θ3 = b2·b3  (bend at the third joint)
/// Each is a dot product of unit vectors: smooth, cheap, and in [−1, 1].
/// Order: finger-major (thumb … little), then f0…f3.
public enum JointAngles {
  /// f-values of one pose of 21 joints.
  public static func values<T>(_ joints: [Vector3<T>]) -> [T] {
    precondition(joints.count == HandSkeleton.jointCount, "a pose has \(HandSkeleton.jointCount) joints, got \(joints.count)")
    let frame = Frame(joints)
    var f = [T](repeating: 0, count: HandSkeleton.angleCount)
    for (i, chain) in HandSkeleton.fingers.enumerated() {
      let (b1, b2, b3) = bones(joints, chain)
      f[4 * i] = b1.dot(frame.d)
      f[4 * i + 1] = b1.dot(frame.n)
      f[4 * i + 2] = b1.dot(b2)
      f[4 * i + 3] = b2.dot(b3)
    }
    return f
  }

  /// Vector-Jacobian product: dL/dJ (21 joints) for dL/df (20 values).
  ///
  /// Reverse of `values`, term by term:
  ///   dL/db1 = g0·d + g1·n + g2·b2,  dL/db2 = g2·b1 + g3·b3,  dL/db3 = g3·b2,
  ///   dL/dd = Σ g0·b1,  dL/dn = Σ g1·b1,
  /// then through `unit` (see `unitPullback`), the bone differences, and the
  /// cross product: for c = p × q, dL/dp = q × g and dL/dq = g × p.
  public static func pullback<T>(_ joints: [Vector3<T>], _ df: [T]) -> [Vector3<T>] {
    precondition(joints.count == HandSkeleton.jointCount && df.count == HandSkeleton.angleCount)
    let frame = Frame(joints)
    var dJ = [Vector3<T>](repeating: .zero, count: HandSkeleton.jointCount)
    var gd = Vector3<T>.zero, gn = Vector3<T>.zero
    for (i, chain) in HandSkeleton.fingers.enumerated() {
      let (g0, g1, g2, g3) = (df[4 * i], df[4 * i + 1], df[4 * i + 2], df[4 * i + 3])
      let (b1, b2, b3) = bones(joints, chain)
      gd += g0 * b1
      gn += g1 * b1
      let gb1 = g0 * frame.d + g1 * frame.n + g2 * b2
      let gb2 = g2 * b1 + g3 * b3
      let gb3 = g3 * b2
      for (k, g) in [gb1, gb2, gb3].enumerated() {
        let v = unitPullback(joints[chain[k + 1]] - joints[chain[k]], g)
        dJ[chain[k + 1]] += v
        dJ[chain[k]] -= v
      }
    }
    let (i5, i17, i0) = (HandSkeleton.indexMCP, HandSkeleton.littleMCP, HandSkeleton.root)
    let vd = unitPullback(joints[i5] - joints[i17], gd)
    dJ[i5] += vd
    dJ[i17] -= vd
    let p = joints[i5] - joints[i0], q = joints[i17] - joints[i0]
    let gc = unitPullback(p.cross(q), gn)
    let gp = q.cross(gc), gq = gc.cross(p)
    dJ[i5] += gp
    dJ[i17] += gq
    dJ[i0] -= gp + gq
    return dJ
  }

  /// The angles in degrees, for reports: asin for θ0, θ1 and acos for θ2, θ3,
  /// arguments clamped to [−1, 1].
  public static func degrees<T: BinaryFloatingPoint>(_ f: [T]) -> [Double] {
    f.enumerated().map { i, v in
      let x = min(max(Double(v), -1), 1)
      return (i % 4 < 2 ? asin(x) : acos(x)) * 180 / .pi
    }
  }

  struct Frame<T: BinaryFloatingPoint> {
    let d: Vector3<T>, n: Vector3<T>
    init(_ j: [Vector3<T>]) {
      let (i5, i17, i0) = (HandSkeleton.indexMCP, HandSkeleton.littleMCP, HandSkeleton.root)
      d = unit(j[i5] - j[i17])
      n = unit((j[i5] - j[i0]).cross(j[i17] - j[i0]))
    }
  }

  @inline(__always)
  static func bones<T>(_ j: [Vector3<T>], _ c: [Int]) -> (Vector3<T>, Vector3<T>, Vector3<T>) {
    (unit(j[c[1]] - j[c[0]]), unit(j[c[2]] - j[c[1]]), unit(j[c[3]] - j[c[2]]))
  }
}
