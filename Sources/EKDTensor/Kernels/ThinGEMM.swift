import CKernels
import Foundation

/// C = β·C + A·B (optionally then ReLU) for an A with few rows: a convolution with
/// few output channels times its im2col tile.
///
/// Why not OpenBLAS: for m ≤ 32 it spends its time packing B, which is used only m
/// times; this kernel streams B straight from the tile, keeping an 8×32 block of C
/// in registers. It is C with AVX-512F, AVX2+FMA and portable versions, and the
/// best the CPU supports is chosen when the process starts (`CKernels`).
public enum ThinGEMM {
  public enum Path: Int32, CaseIterable, Sendable {
    case portable = 0, avx2 = 1, avx512 = 2
  }

  /// The path `run` takes on this CPU.
  public static let best = Path(rawValue: ekd_isa_best()) ?? .portable
  /// Rows of A up to which `Conv2dKernel` prefers this kernel to OpenBLAS.
  public static let maximumRows = 32
  /// …and up to this k: every row of B is a stream of its own, and beyond ~144 rows
  /// (ts500m's 7×7 stem, k = 147) the hardware prefetcher loses them and OpenBLAS's
  /// packing wins (per-layer timings, docs/performance.md).
  public static let maximumDepth = 144
  /// Off for A/B measurements (`EKD_AB_NO_THIN=1`): every conv then uses OpenBLAS.
  static let enabled = ProcessInfo.processInfo.environment["EKD_AB_NO_THIN"] == nil

  /// Row-major C[m×n] (row stride ldc) = β·C + A[m×k]·B[k×n], then max(·, 0) if `relu`.
  public static func run(
    path: Path = best, m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, relu: Bool = false
  ) {
    ekd_thin_gemm_isa(
      path.rawValue, Int32(m), Int32(n), Int32(k), a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc), relu ? 1 : 0)
  }
}
