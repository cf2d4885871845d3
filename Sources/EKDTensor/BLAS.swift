import COpenBLAS

/// Row-major SGEMM and the OpenBLAS thread count, the only door to BLAS.
///
/// Every matrix here is row-major, as NCHW tensors are. `lda`, `ldb`, `ldc` are
/// row strides in elements, so a GEMM can read a slice of a larger buffer.
public enum BLAS {
  /// C ← α·op(A)·op(B) + β·C, with op(A) m×k, op(B) k×n, C m×n.
  @inline(__always)
  public static func gemm(
    transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
    alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
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

  /// The same product with the rows of C shared out over `threads` workers,
  /// each calling single-threaded BLAS (see `Conv2dKernel` for why EKD keeps
  /// OpenBLAS's own threads off).
  public static func gemm(
    transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
    alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, threads workers: Int
  ) {
    threads = 1
    // Rows of op(A): row r starts at a + r·lda, or at a + r when A is stored transposed.
    Parallel.chunks(m, threads: workers, minimumPerWorker: 16) { rows, _ in
      gemm(transA: transA, transB: transB, m: rows.count, n: n, k: k, alpha: alpha,
           a: a + rows.lowerBound * (transA ? 1 : lda), lda: lda, b: b, ldb: ldb,
           beta: beta, c: c + rows.lowerBound * ldc, ldc: ldc)
    }
  }

  /// The number of threads OpenBLAS uses inside one call.
  ///
  /// Process-wide, because OpenBLAS's own setting is. Kernels that parallelise
  /// over a batch set it to 1 for the duration of their parallel region.
  public static var threads: Int {
    get { Int(openblas_get_num_threads()) }
    set { if newValue != threads { openblas_set_num_threads(Int32(max(1, newValue))) } }
  }

  /// OpenBLAS's build string, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH … Haswell MAX_THREADS=64".
  public static var configuration: String { String(cString: openblas_get_config()) }
}
