import CKernels
import Foundation

/// C = β·C + A·B (optionally then ReLU) without packing B: a convolution's weights
/// times its input or im2col tile, in the forward pass.
///
/// Why not OpenBLAS: for m ≤ 32 it spends its time packing B, which is used only m
/// times; this kernel streams B straight from the tile, keeping an 8×32 block of C
/// in registers (4×16 on AVX2), and prefetches B itself. With AVX-512 it is at least
/// OpenBLAS's speed on every conv shape of the students (and up to twice it on an
/// input out of cache), so there it takes every forward GEMM (`takes`);
/// with AVX2, whose 4×16 block is smaller than OpenBLAS's, only the thin ones. It is
/// C with AVX-512F, AVX2+FMA and portable versions, and the best the CPU supports
/// is chosen when the process starts (`CKernels`).
public enum ThinGEMM {
  public enum Path: Int32, CaseIterable, Sendable {
    case portable = 0, avx2 = 1, avx512 = 2
  }

  /// The path `run` takes on this CPU.
  public static let best = Path(rawValue: ekd_isa_best()) ?? .portable
  /// Rows of A up to which `Conv2dKernel` prefers this kernel to OpenBLAS (on AVX2).
  public static let maximumRows = 32
  /// …and up to this k (on AVX2): beyond ~144 rows (ts500m's 7×7 stem, k = 147) OpenBLAS's
  /// packing won when this kernel left B to the hardware prefetcher (per-layer timings,
  /// docs/performance.md); it prefetches B itself now, and the bound was not re-measured.
  public static let maximumDepth = 144
  /// Off for A/B measurements (`EKD_AB_NO_THIN=1`): every conv then uses OpenBLAS.
  static let enabled = ProcessInfo.processInfo.environment["EKD_AB_NO_THIN"] == nil

  /// Whether `Conv2dKernel` runs a forward GEMM with m rows of depth k here rather
  /// than in OpenBLAS: every one on the AVX-512 path, thin ones on AVX2.
  /// (`EKD_AB_THIN_ONLY=1` keeps the AVX2 rule on AVX-512 too, for A/B runs.)
  public static func takes(m: Int, k: Int) -> Bool {
    enabled && ((best == .avx512 && !thinOnly) || (m <= maximumRows && k <= maximumDepth))
  }
  static let thinOnly = ProcessInfo.processInfo.environment["EKD_AB_THIN_ONLY"] != nil

  /// `run` with the rows of C shared out over `threads` workers, in blocks of 8.
  public static func run(
    m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, relu: Bool = false, threads: Int
  ) {
    Parallel.chunks((m + 7) / 8, threads: threads) { blocks, _ in
      let first = blocks.lowerBound * 8, rows = min(m, blocks.upperBound * 8) - first
      run(m: rows, n: n, k: k, a: a + first * lda, lda: lda, b: b, ldb: ldb, beta: beta, c: c + first * ldc, ldc: ldc, relu: relu)
    }
  }

  /// Row-major C[m×n] (row stride ldc) = β·C + A[m×k]·B[k×n], then max(·, 0) if `relu`.
  public static func run(
    path: Path = best, m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, relu: Bool = false
  ) {
    ekd_thin_gemm_isa(
      path.rawValue, Int32(m), Int32(n), Int32(k), a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc), relu ? 1 : 0)
  }
}
