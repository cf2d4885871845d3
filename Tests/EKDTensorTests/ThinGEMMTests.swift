import EKDTensor
import Testing

/// The unpacked GEMM on every instruction-set path this CPU has (the one `Conv2dKernel`
/// runs is `ThinGEMM.best`), against a Double reference: odd row counts (blocks of 8,
/// 4, 2, 1), column counts around the vector widths (masked tails) and past the
/// prefetch distance, k = 0 and deep k (k = 700: panels crossed in groups of two, the
/// last group of one), strides wider than the matrices, β = 0 and 1,
/// with and without ReLU, on one thread and with the rows shared out.
@Suite struct ThinGEMMKernel {
  static let paths = ThinGEMM.Path.allCases.filter { $0.rawValue <= ThinGEMM.best.rawValue }

  @Test(arguments: paths)
  func matchesTheReference(path: ThinGEMM.Path) {
    var rng = SeededRandom(seed: 5)
    for (m, n, k) in [(1, 1, 1), (3, 7, 5), (8, 16, 27), (9, 17, 9), (16, 33, 147), (19, 100, 72), (32, 31, 8), (5, 64, 0), (2, 8, 3), (4, 9, 1), (67, 130, 40), (21, 49, 600), (11, 230, 700)] {
      for (beta, relu, threads) in [(Float(0), false, 1), (1, false, 2), (1, true, 1), (0, true, 2)] {
        let (lda, ldb, ldc) = (k + 3, n + 5, n + 2)
        let a = (0..<(m * lda)).map { _ in Float(rng.nextNormal()) }
        let b = (0..<(max(k, 1) * ldb)).map { _ in Float(rng.nextNormal()) }
        var c = (0..<(m * ldc)).map { _ in Float(rng.nextNormal()) }
        var want = c
        for i in 0..<m {
          for j in 0..<n {
            var s = Double(beta) * Double(c[i * ldc + j])
            for p in 0..<k { s += Double(a[i * lda + p]) * Double(b[p * ldb + j]) }
            want[i * ldc + j] = Float(relu ? max(s, 0) : s)
          }
        }
        a.withUnsafeBufferPointer { pa in
          b.withUnsafeBufferPointer { pb in
            c.withUnsafeMutableBufferPointer { pc in
              if threads > 1 && path == ThinGEMM.best {  // (the shared-out form runs the best path)
                ThinGEMM.run(
                  m: m, n: n, k: k, a: pa.baseAddress!, lda: lda, b: pb.baseAddress!, ldb: ldb, beta: beta,
                  c: pc.baseAddress!, ldc: ldc, relu: relu, threads: threads)
              } else {
                ThinGEMM.run(
                  path: path, m: m, n: n, k: k, a: pa.baseAddress!, lda: lda, b: pb.baseAddress!, ldb: ldb, beta: beta,
                  c: pc.baseAddress!, ldc: ldc, relu: relu)
              }
            }
          }
        }
        // Every element, including the padding between rows (which must be untouched).
        let tolerance = 1e-4 * Float(max(k, 1)).squareRoot()
        let worst = zip(c, want).map { abs($0 - $1) }.max()!
        #expect(
          zip(c, want).allSatisfy { abs($0 - $1) <= tolerance },  // (max() would skip a NaN)
          "\(path) m \(m) n \(n) k \(k) β \(beta) relu \(relu) threads \(threads): \(worst)")
      }
    }
  }
}
