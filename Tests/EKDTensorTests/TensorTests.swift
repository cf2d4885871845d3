import EKDTensor
import Testing
import _EKDTestSupport

@Suite struct TensorBasics {
  @Test func copyOnWriteLeavesTheOriginalAlone() {
    let a = Tensor(shape: [2, 2], scalars: [1, 2, 3, 4])
    var b = a
    b[0, 1] = 9
    #expect(a.scalars == [1, 2, 3, 4])
    #expect(b.scalars == [1, 9, 3, 4])
  }

  @Test func reshapeSharesScalarsAndChecksCount() {
    let a = Tensor(shape: [2, 3], scalars: (0..<6).map(Float.init))
    let b = a.reshaped([3, 2])
    #expect(b[2, 1] == 5)
    #expect(b.shape == [3, 2])
  }

  @Test func broadcastShapes() {
    #expect(Shape.broadcast([8, 3, 4, 4], [3, 1, 1]) == [8, 3, 4, 4])
    #expect(Shape.broadcast([2, 1], [1, 5]) == [2, 5])
    #expect(Shape.broadcast([2, 3], [4]) == nil)
  }

  @Test func seededRandomIsReproducibleAndRoughlyNormal() {
    var r1 = SeededRandom(seed: 7), r2 = SeededRandom(seed: 7)
    let a = Tensor.randomNormal([10_000], using: &r1)
    let b = Tensor.randomNormal([10_000], using: &r2)
    #expect(a == b)
    let mean = a.scalars.reduce(0, +) / 10_000
    let variance = a.scalars.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 10_000
    #expect(abs(mean) < 0.05)
    #expect(abs(variance - 1) < 0.05)
  }

  @Test func pooledStorageIsReusedAfterRelease() {
    let pool = BufferPool()
    let (p, size) = pool.take(bytes: 4 << 20)
    #expect(pool.freshBytes == size && size >= 4 << 20)
    pool.give(p, bytes: size)
    #expect(pool.cachedBytes == size)
    let (q, again) = pool.take(bytes: 4 << 20)
    #expect(q == p && again == size)  // the same block, no new memory
    #expect(pool.freshBytes == size && pool.cachedBytes == 0)
    // No block of the size asked: the smallest at most twice as large, else fresh memory.
    pool.give(q, bytes: again)
    #expect(pool.take(bytes: 1 << 20).0 != q, "a 4 MiB block is not lent for 1 MiB")
    let (r, lent) = pool.take(bytes: 3 << 20)
    #expect(r == q && lent == size && pool.cachedBytes == 0, "a 4 MiB block serves 3 MiB, under its own size")
    pool.limitBytes = 0
    pool.give(r, bytes: lent)  // over the limit: back to the system
    #expect(pool.cachedBytes == 0)
    // Through tensors: a released tensor's block is re-zeroed when reused.
    do { _ = Tensor(repeating: 7, shape: [1 << 20]) }
    #expect(Tensor(zeros: [1 << 20]).scalars.allSatisfy { $0 == 0 })
  }
}

@Suite struct BLASTests {
  @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
  func gemmMatchesTripleLoop(transposeA: Bool, transposeB: Bool) {
    var rng = SeededRandom(seed: 3)
    let (m, n, k) = (7, 5, 9)
    let a = Tensor.randomNormal(transposeA ? [k, m] : [m, k], using: &rng)
    let b = Tensor.randomNormal(transposeB ? [n, k] : [k, n], using: &rng)
    let tape = Tape(mode: .inference)
    let c = tape.matmul(tape.constant(a), tape.constant(b), transposeA: transposeA, transposeB: transposeB).value
    let expected = Reference.matmul(a, b, transposeA: transposeA, transposeB: transposeB)
    #expect(Reference.maxAbsDifference(c, expected) < 1e-5)
  }
}
