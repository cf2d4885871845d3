import COpenBLAS

/// Row-major SGEMM, the only door to BLAS.
///
/// Every matrix here is row-major, as NCHW tensors are. `lda`, `ldb`, `ldc` are
/// row strides in elements, so a GEMM can read a slice of a larger buffer.
///
/// Threads are ours, never OpenBLAS's: `singleThreaded` switches OpenBLAS's own
/// threads off once for the process, and a call's `threads` share the rows of C
/// out over `Parallel.chunks` workers. OpenBLAS's threads spin-wait after each
/// call, and on two cores that spinning takes the core our next kernel needs
/// (`docs/performance.md` has the figures). Nothing else in the library sets OpenBLAS's thread
/// count (only the benchmark's raw baseline does, and puts it back), so no call
/// inherits a setting from the one before.
public enum BLAS {
  /// C ← α·op(A)·op(B) + β·C, with op(A) m×k, op(B) k×n, C m×n, the rows of C
  /// shared out over `threads` workers (inline when one suffices).
  public static func gemm(
    transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
    alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int
  ) {
    _ = singleThreaded
    // Rows of op(A): row r starts at a + r·lda, or at a + r when A is stored transposed.
    Parallel.chunks(m, threads: threads, minimumPerWorker: 16) { rows, _ in
      sgemm(
        transA: transA, transB: transB, m: rows.count, n: n, k: k, alpha: alpha,
        a: a + rows.lowerBound * (transA ? 1 : lda), lda: lda, b: b, ldb: ldb,
        beta: beta, c: c + rows.lowerBound * ldc, ldc: ldc)
    }
  }

  /// The one place OpenBLAS's thread count is set: to 1, on the first GEMM.
  private static let singleThreaded: Void = openblas_set_num_threads(1)

  @inline(__always)
  private static func sgemm(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
    alpha: Float, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    guard m > 0, n > 0 else { return }
    guard k > 0 else {
      // BLAS does not touch C when k == 0 with β == 1; make β == 0 mean zero too.
      if beta == 0 { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
      return
    }
    cblas_sgemm(
      CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
      Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
  }

  /// OpenBLAS's build string, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH … Haswell MAX_THREADS=64".
  public static var configuration: String { String(cString: openblas_get_config()) }
}
