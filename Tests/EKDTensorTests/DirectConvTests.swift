import EKDTensor
import Testing
import _EKDTestSupport

/// The direct convolution on every instruction-set path this CPU has, against the
/// reference convolution: 7×7 stride 2 (ts500m's stem), 5×5, 4×4 and 3×5, odd sizes,
/// outputs narrower than a vector and not a multiple of one (a vector then spans rows),
/// 1 to 19 input and 1 to 64 output channels
/// (blocks of 8, the last one partial), runs of 48, 32 and 16 columns with masked tails,
/// padding at every border, bands of rows, with and without bias and ReLU; and
/// `Conv2dKernel.forward`, which takes this path for such layers, on a batch.
@Suite struct DirectConvolution {
  static let paths = ThinGEMM.Path.allCases.filter { $0.rawValue <= ThinGEMM.best.rawValue }

  typealias Case = DirectConvCase
  static let cases = [
    Case(c: 3, h: 37, w: 41, o: 8, kernel: (7, 7), stride: 2, padding: 3),
    Case(c: 1, h: 9, w: 5, o: 3, kernel: (7, 7), stride: 2, padding: 3),
    Case(c: 4, h: 20, w: 35, o: 16, kernel: (5, 5), stride: 1, padding: 2),
    Case(c: 2, h: 11, w: 18, o: 13, kernel: (4, 4), stride: 2, padding: 0),
    Case(c: 3, h: 8, w: 8, o: 1, kernel: (7, 7), stride: 1, padding: 1),
    // Runs of 48 outputs across rows, then a shorter run.
    Case(c: 3, h: 12, w: 75, o: 8, kernel: (7, 7), stride: 2, padding: 3),
    Case(c: 2, h: 6, w: 70, o: 5, kernel: (3, 5), stride: 1, padding: 1),
    // Many outputs (SqueezeNet's and ResNet's stems): full blocks, a partial last block,
    // runs of 48 columns, then tails of 33…47, 17…32 and 1…16 columns.
    Case(c: 3, h: 23, w: 227, o: 64, kernel: (3, 3), stride: 2, padding: 0),
    Case(c: 3, h: 15, w: 97, o: 21, kernel: (7, 7), stride: 2, padding: 3),
    Case(c: 3, h: 9, w: 130, o: 13, kernel: (3, 3), stride: 1, padding: 1),
    // Planes narrower than a vector (a vector's outputs span two or three rows) and
    // more input channels: tiny's 3×3 stride-2 and 8×8 layers, a 1×1.
    Case(c: 16, h: 32, w: 32, o: 32, kernel: (3, 3), stride: 2, padding: 1),
    Case(c: 19, h: 8, w: 8, o: 24, kernel: (3, 3), stride: 1, padding: 1),
    Case(c: 5, h: 7, w: 5, o: 9, kernel: (1, 1), stride: 1, padding: 0),
    Case(c: 6, h: 13, w: 11, o: 8, kernel: (3, 3), stride: 2, padding: 1),
    // SqueezeNet's 3×3 expand from 16 channels: runs of 48 across rows of 55.
    Case(c: 16, h: 7, w: 55, o: 24, kernel: (3, 3), stride: 1, padding: 1),
  ]

  @Test(arguments: paths)
  func matchesTheReference(path: ThinGEMM.Path) {
    expectReferenceConvolution(Self.cases, seed: 21, label: "\(path)") { t, x, w, b, relu, y in
      let g = t.geometry
      let (ho, wo) = g.outputSize(height: t.h, width: t.w)
      // Two bands, the first of one row, so a band that starts inside the image is covered.
      var scratch = [Float](repeating: 0, count: DirectConv.scratchCount(channels: t.c, geometry: g, rows: ho, outputWidth: wo))
      for rows in [0..<1, 1..<ho] where !rows.isEmpty {
        DirectConv.run(
          path: path, x: x.pointer, channels: t.c, height: t.h, width: t.w, weight: w.pointer, outputChannels: t.o, geometry: g,
          bias: b?.pointer, y: y.mutablePointer + rows.lowerBound * wo, planeStride: ho * wo, outputWidth: wo, rows: rows, relu: relu,
          scratch: &scratch)
      }
    }
  }

  @Test func conv2dTakesItForStemsAndSmallPlanes() {
    var rng = SeededRandom(seed: 4)
    let g = ConvGeometry(kernel: 7, stride: 2, padding: 3)
    #expect(DirectConv.applies(inputChannels: 3, outputChannels: 8, geometry: g) == (ThinGEMM.best != .portable))
    #expect(DirectConv.applies(inputChannels: 3, outputChannels: 64, geometry: g) == (ThinGEMM.best != .portable))
    let shallow = ConvGeometry(kernel: 3, stride: 2, padding: 1)
    #expect(!DirectConv.applies(inputChannels: 3, outputChannels: 16, geometry: shallow), "tiny's stem stays with ThinGEMM")
    #expect(!DirectConv.applies(inputChannels: 16, outputChannels: 64, geometry: shallow), "not a stem")
    let direct = ThinGEMM.best != .portable
    #expect(DirectConv.applies(inputChannels: 16, outputChannels: 64, geometry: shallow, outputWidth: 16) == direct, "a small plane")
    #expect(DirectConv.applies(inputChannels: 32, outputChannels: 128, geometry: ConvGeometry(kernel: 3), outputWidth: 54) == direct, "shallow")
    #expect(!DirectConv.applies(inputChannels: 48, outputChannels: 64, geometry: shallow, outputWidth: 28), "deep and wide")
    #expect(!DirectConv.applies(inputChannels: 96, outputChannels: 64, geometry: ConvGeometry(kernel: 3), outputWidth: 16), "too deep")
    #expect(!DirectConv.applies(inputChannels: 64, outputChannels: 64, geometry: ConvGeometry(kernel: 1), outputWidth: 8), "pointwise")
    #expect(
      !DirectConv.applies(inputChannels: 256, outputChannels: 512, geometry: ConvGeometry(kernel: 1, stride: 2), outputWidth: 28),
      "a strided 1×1 (ResNet's downsample) is a subsample and a GEMM")
    let x = Tensor.randomNormal([3, 3, 70, 45], using: &rng)
    let w = Tensor.randomNormal([8, 3, 7, 7], using: &rng)
    let b = Tensor.randomNormal([8], using: &rng)
    for threads in [1, 2] {
      let y = Conv2dKernel.forward(x, weight: w, bias: b, geometry: g, threads: threads, tileColumns: 40)
      #expect(Reference.maxAbsDifference(y, Reference.conv2d(x, weight: w, bias: b, geometry: g)) < 1e-4)
    }
    // tiny's small planes, at batch 1 (output channels shared out: 32 and 32, or 8 and 20)
    // and 3 (bands of rows), with the fused ReLU.
    for (shape, o, geometry) in [
      ([1, 64, 8, 8], 64, ConvGeometry(kernel: 3)), ([1, 20, 6, 6], 28, ConvGeometry(kernel: 3)), ([3, 16, 32, 32], 32, shallow),
    ] {
      let x = Tensor.randomNormal(Shape(shape), using: &rng)
      let w = Tensor.randomNormal([o, shape[1], 3, 3], using: &rng)
      let b = Tensor.randomNormal([o], using: &rng)
      let want = Reference.conv2d(x, weight: w, bias: b, geometry: geometry)
      for threads in [1, 2] {
        let y = Conv2dKernel.forward(x, weight: w, bias: b, geometry: geometry, threads: threads, relu: true)
        let relu = Tensor(shape: want.shape, scalars: want.scalars.map { max($0, 0) })
        #expect(Reference.maxAbsDifference(y, relu) < 1e-4, "\(shape) threads \(threads)")
      }
    }
  }

  /// A stem and its max pool as one op equal the conv then the pool: 3×3 windows with
  /// padding (ResNet's) and without (SqueezeNet's, in ceil mode), each over several bands
  /// that carry a conv row into the next, and 2×2 windows (no row shared); batch 2, one
  /// and two threads.
  @Test func forwardPooledEqualsTheConvThenThePool() {
    var rng = SeededRandom(seed: 8)
    let cases: [(shape: [Int], o: Int, conv: ConvGeometry, pool: ConvGeometry, ceil: Bool)] = [
      ([2, 3, 121, 301], 64, ConvGeometry(kernel: 7, stride: 2, padding: 3), ConvGeometry(kernel: 3, stride: 2, padding: 1), false),
      ([2, 3, 203, 301], 24, ConvGeometry(kernel: 3, stride: 2), ConvGeometry(kernel: 3, stride: 2), true),
      ([2, 2, 30, 33], 13, ConvGeometry(kernel: 3, stride: 1, padding: 1), ConvGeometry(kernel: 2, stride: 2), true),
    ]
    for t in cases {
      let x = Tensor.randomNormal(Shape(t.shape), using: &rng)
      let w = Tensor.randomNormal([t.o, t.shape[1], t.conv.kernelHeight, t.conv.kernelWidth], using: &rng)
      let b = Tensor.randomNormal([t.o], using: &rng)
      let conv = Conv2dKernel.forward(x, weight: w, bias: b, geometry: t.conv, threads: 1, relu: true)
      let want = PoolingKernel.Max.forward(conv, geometry: t.pool, ceilMode: t.ceil, threads: 1, argmax: false).y
      for threads in [1, 2] {
        let got = DirectConv.forwardPooled(x, weight: w, bias: b, geometry: t.conv, relu: true, pool: t.pool, ceilMode: t.ceil, threads: threads)
        #expect(got.shape == want.shape && Reference.maxAbsDifference(got, want) < 1e-4, "\(t.shape) \(t.conv) \(t.pool), \(threads) threads")
      }
    }
  }
}
