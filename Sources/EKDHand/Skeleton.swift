/// The canonical 21-joint right hand that every reader converts to
/// (hand-model.md §1): wrist, then each finger from base to tip, in the order
/// thumb, index, middle, ring, little. Units are millimetres in camera
/// coordinates (x right, y down, z forward).
public enum HandSkeleton {
  /// The one home of the joint count: tensors, readers and heads size themselves from it.
  public static let jointCount = 21
  /// Scalars of one pose or one (u, v, z) set: jointCount × 3.
  public static let poseScalars = jointCount * 3
  public static let angleCount = 20

  public static let jointNames = [
    "wrist",
    "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip",
    "index_mcp", "index_pip", "index_dip", "index_tip",
    "middle_mcp", "middle_pip", "middle_dip", "middle_tip",
    "ring_mcp", "ring_pip", "ring_dip", "ring_tip",
    "little_mcp", "little_pip", "little_dip", "little_tip",
  ]

  public static let fingerNames = ["thumb", "index", "middle", "ring", "little"]

  /// Joint indices of each finger's chain [a, b, c, d], base to tip.
  public static let fingers: [[Int]] = [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16], [17, 18, 19, 20]]

  /// The 20 bones as (parent, child): root to each finger base, then each chain.
  public static let bones: [(parent: Int, child: Int)] =
    fingers.map { (0, $0[0]) } + fingers.flatMap { f in (0..<3).map { (f[$0], f[$0 + 1]) } }

  /// Joints the angle frame uses: index MCP and little MCP span the reference
  /// line L1; with the wrist they span the reference plane P1.
  public static let root = 0, indexMCP = 5, middleMCP = 9, littleMCP = 17

  /// Names of the 20 angles in the order used everywhere (finger-major, then θ0…θ3).
  public static let angleNames: [String] = fingerNames.flatMap { f in (0..<4).map { "\(f)_theta\($0)" } }
}

/// Mirroring of a left hand into the right hand the models see (hand-model.md §1).
///
/// x → −x in 3D; the image flips horizontally, so u → W−1−u and the principal
/// point cx → W−1−cx (and the skew, if any, changes sign). Projection is then
/// preserved: u' = fx·(−X)/Z + (W−1−cx) = W−1−u.
public enum Mirroring {
  public static func mirror<T: BinaryFloatingPoint>(points: [Vector3<T>]) -> [Vector3<T>] {
    points.map { Vector3(-$0.x, $0.y, $0.z) }
  }

  /// (u, v) pairs in an image `width` pixels wide.
  public static func mirror<T: BinaryFloatingPoint>(uv: [(T, T)], width: Int) -> [(T, T)] {
    uv.map { (T(width - 1) - $0.0, $0.1) }
  }

  /// The same, for pixel positions kept as SIMD2 (as samples keep them).
  public static func mirror<T: BinaryFloatingPoint & SIMDScalar>(uv: [SIMD2<T>], width: Int) -> [SIMD2<T>] {
    uv.map { SIMD2(T(width - 1) - $0.x, $0.y) }
  }

  /// A 3×3 row-major intrinsics matrix for an image `width` pixels wide.
  public static func mirror<T: BinaryFloatingPoint>(intrinsics k: [T], width: Int) -> [T] {
    precondition(k.count == 9, "intrinsics must have 9 entries")
    var m = k
    m[1] = -k[1]
    m[2] = T(width - 1) - k[2]
    return m
  }
}
