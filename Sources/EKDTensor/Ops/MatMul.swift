/// Matrix products through SGEMM.
///
///   matmul: C (m×n) = op(A) · op(B);  dA += dC · op(B)ᵀ (transposed back),
///   dB += op(A)ᵀ · dC (transposed back).
///   linear: y (N×out) = x (N×in) · Wᵀ + b, W stored [out, in] as in PyTorch.
extension Tape {
  public func matmul(_ a: Variable, _ b: Variable, transposeA: Bool = false, transposeB: Bool = false) -> Variable {
    precondition(a.shape.rank == 2 && b.shape.rank == 2, "matmul wants matrices, got \(a.shape), \(b.shape)")
    let (m, ka) = transposeA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
    let (kb, n) = transposeB ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
    precondition(ka == kb, "matmul: inner extents \(a.shape) · \(b.shape) differ")
    let av = a.value, bv = b.value
    var c = Tensor(uninitialized: [m, n])
    BLAS.gemm(
      transA: transposeA, transB: transposeB, m: m, n: n, k: ka,
      a: av.pointer, lda: av.shape[1], b: bv.pointer, ldb: bv.shape[1], c: c.mutablePointer, ldc: n, threads: threads)
    let workers = threads
    return record(c, inputs: [a, b]) { dc, d in
      let g = dc.pointer
      if let da = d[0] {
        if transposeA {  // A is k×m: dA = op(B) · dCᵀ
          BLAS.gemm(transA: transposeB, transB: true, m: ka, n: m, k: n, a: bv.pointer, lda: bv.shape[1], b: g, ldb: n, beta: 1, c: da, ldc: m, threads: workers)
        } else {  // A is m×k: dA = dC · op(B)ᵀ
          BLAS.gemm(transB: !transposeB, m: m, n: ka, k: n, a: g, lda: n, b: bv.pointer, ldb: bv.shape[1], beta: 1, c: da, ldc: ka, threads: workers)
        }
      }
      if let db = d[1] {
        if transposeB {  // B is n×k: dB = dCᵀ · op(A)
          BLAS.gemm(transA: true, transB: transposeA, m: n, n: ka, k: m, a: g, lda: n, b: av.pointer, ldb: av.shape[1], beta: 1, c: db, ldc: ka, threads: workers)
        } else {  // B is k×n: dB = op(A)ᵀ · dC
          BLAS.gemm(transA: !transposeA, m: ka, n: n, k: m, a: av.pointer, lda: av.shape[1], b: g, ldb: n, beta: 1, c: db, ldc: n, threads: workers)
        }
      }
    }
  }

  /// y = x · Wᵀ + b for x [N, in], W [out, in], b [out].
  public func linear(_ x: Variable, weight: Variable, bias: Variable?) -> Variable {
    let y = matmul(x, weight, transposeB: true)
    guard let bias else { return y }
    return y + bias
  }
}
