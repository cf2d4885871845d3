import EKDTensor
import Testing
import _EKDTestSupport

/// Winograd F(2×2, 3×3) against the direct convolution: odd and even planes (tiles
/// cut by the border), rows of more than eight tiles (SIMD blocks and their tails),
/// chunks that span images, GEMMs in OpenBLAS and in ThinGEMM (deep or wide), bias and
/// ReLU, one and two workers (in chunks of tile rows, or in phases when a batch has fewer
/// than four tile rows per worker: the last four shapes), and output written into a
/// channel slice of a wider tensor.
@Suite struct WinogradConvolution {
  @Test(arguments: [
    ([1, 8, 1, 1], 8), ([2, 8, 7, 5], 9), ([3, 13, 9, 14], 17), ([1, 16, 37, 21], 8), ([5, 9, 4, 3], 12), ([2, 32, 16, 16], 40),
    ([1, 130, 5, 6], 10), ([1, 48, 13, 13], 64), ([1, 20, 11, 30], 24),
  ])
  func matchesTheDirectConvolution(shape: [Int], outputs o: Int) {
    var rng = SeededRandom(seed: 41)
    let g = ConvGeometry(kernel: 3, padding: 1)
    let x = Tensor.randomNormal(Shape(shape), using: &rng)
    let w = Tensor.randomNormal([o, shape[1], 3, 3], using: &rng), b = Tensor.randomNormal([o], using: &rng)
    let want = Reference.conv2d(x, weight: w, bias: b, geometry: g)
    for threads in [1, 2] {
      for relu in [false, true] {
        var y = Tensor(uninitialized: want.shape)
        let u = threads == 1 ? nil : Winograd.transformedWeights(w)  // computed inside, or given
        Winograd.forward(x, weight: w, transformed: u, bias: b, threads: threads, relu: relu, into: y.mutablePointer, imageStride: want.count / shape[0])
        let expected = relu ? Tensor(shape: want.shape, scalars: want.scalars.map { max($0, 0) }) : want
        #expect(Reference.maxAbsDifference(y, expected) < 1e-4, "\(shape) → \(o), \(threads) threads, relu \(relu)")
      }
    }
    // Into channels 3 ..< 3 + o of a tensor with o + 5 channels; the others untouched.
    let (n, h, wd) = (shape[0], shape[2], shape[3])
    var wide = Tensor(repeating: 7, shape: [n, o + 5, h, wd])
    Winograd.forward(
      x, weight: w, transformed: nil, bias: b, threads: 2, relu: false, into: wide.mutablePointer + 3 * h * wd, imageStride: (o + 5) * h * wd)
    var worst: Float = 0
    for i in 0..<n {
      for ch in 0..<(o + 5) {
        for q in 0..<(h * wd) {
          let got = wide[flat: (i * (o + 5) + ch) * h * wd + q]
          let want = (3..<(3 + o)).contains(ch) ? want[flat: (i * o + ch - 3) * h * wd + q] : 7
          worst = max(worst, abs(got - want))
        }
      }
    }
    #expect(worst < 1e-4)
  }

  /// Conv2dKernel takes this path where it was measured to win: C ≥ 48 (32 with AVX-512), or a thin conv,
  /// with ≥ 16 tiles per worker on planes at least 12 wide.
  @Test func chosenWhereItWins() {
    let g = ConvGeometry(kernel: 3, padding: 1)
    #expect(Winograd.applies(inputChannels: 256, outputChannels: 256, geometry: g))
    #expect(Winograd.applies(inputChannels: 19, outputChannels: 19, geometry: g))
    #expect(Winograd.applies(inputChannels: 32, outputChannels: 128, geometry: g) == (ThinGEMM.best == .avx512))
    #expect(!Winograd.applies(inputChannels: 16, outputChannels: 64, geometry: g))
    #expect(!Winograd.applies(inputChannels: 64, outputChannels: 64, geometry: ConvGeometry(kernel: 3, stride: 2, padding: 1)))
    #expect(!Winograd.applies(inputChannels: 64, outputChannels: 64, geometry: ConvGeometry(kernel: 3)))
    #expect(Winograd.applies(batch: 8, height: 14, width: 14, threads: 2))
    #expect(!Winograd.applies(batch: 8, height: 7, width: 7, threads: 2))
    #expect(Winograd.applies(batch: 1, height: 16, width: 16, threads: 2), "tiny's fuse at batch 1")
    #expect(Winograd.applies(batch: 1, height: 13, width: 13, threads: 2), "squeezenet1_1's expands at batch 1")
    #expect(!Winograd.applies(batch: 1, height: 13, width: 13, threads: 4))
    #expect(Winograd.applies(batch: 1, height: 14, width: 14, threads: 2), "ResNet's 14×14 at batch 1")
    #expect(Winograd.applies(batch: 1, height: 28, width: 28, threads: 2))
    #expect(!Winograd.applies(batch: 64, height: 7, width: 7, threads: 1))
  }

  /// The weight transform U = G g Gᵀ on a filter with a known answer: a 3×3 filter
  /// that is 1 at its centre gives U = (G e₁)(G e₁)ᵀ, G e₁ = (0, ½, −½, 0).
  @Test func weightTransformOfTheCentreTap() {
    var w = Tensor(zeros: [1, 1, 3, 3])
    w[0, 0, 1, 1] = 1
    var u = Tensor(zeros: [16])
    Winograd.transformWeights(w.pointer, outputs: 1, inputs: 1, into: u.mutablePointer)
    let g: [Float] = [0, 0.5, -0.5, 0]
    #expect(u.scalars == (0..<16).map { g[$0 / 4] * g[$0 % 4] })
  }
}
