import EKDTensor
import Testing
import _EKDTestSupport

/// The channel-vectorized direct convolution on every instruction-set path this CPU has,
/// against the reference convolution: 3×3 stride 1 and 2 (tiny's layers), 7×7, 1×1 and
/// 3×5, odd planes, padding at every border, output channels not a multiple of 16 (a
/// partial last block: 42, 20) and of every tile width (16 to 64 channels), rows of 1 to
/// 19 outputs (a tile past a row's end), bands of rows and ranges of channels, with and
/// without bias and ReLU; and `Conv2dKernel.forward` taking it with packed weights, on
/// batches of 1 and 3 and one and two threads.
@Suite struct ChannelConvolution {
  static let paths = ThinGEMM.Path.allCases.filter { $0.rawValue <= ThinGEMM.best.rawValue }

  typealias Case = DirectConvCase
  static let cases = [
    Case(c: 64, h: 8, w: 8, o: 64, kernel: (3, 3), stride: 1, padding: 1),
    Case(c: 16, h: 32, w: 32, o: 32, kernel: (3, 3), stride: 2, padding: 1),
    Case(c: 32, h: 15, w: 17, o: 48, kernel: (3, 3), stride: 2, padding: 1),
    Case(c: 5, h: 9, w: 19, o: 42, kernel: (3, 3), stride: 1, padding: 1),
    Case(c: 7, h: 11, w: 13, o: 20, kernel: (7, 7), stride: 2, padding: 3),
    Case(c: 9, h: 6, w: 11, o: 16, kernel: (1, 1), stride: 1, padding: 0),
    Case(c: 6, h: 7, w: 9, o: 33, kernel: (3, 5), stride: 1, padding: 2),
    Case(c: 3, h: 5, w: 1, o: 17, kernel: (3, 3), stride: 1, padding: 1),
  ]

  @Test(arguments: paths)
  func matchesTheReference(path: ThinGEMM.Path) {
    expectReferenceConvolution(Self.cases, seed: 31, label: "\(path)") { t, x, w, b, relu, y in
      let g = t.geometry
      let (ho, wo) = g.outputSize(height: t.h, width: t.w)
      let packed = ChannelConv.pack(w)
      // Two bands (the first of one row) times two channel ranges (the first of 16).
      var scratch = [Float](repeating: .nan, count: ChannelConv.scratchCount(channels: t.c, geometry: g, rows: ho, outputWidth: wo))
      for rows in [0..<1, 1..<ho] where !rows.isEmpty {
        for channels in [0..<min(16, t.o), min(16, t.o)..<t.o] where !channels.isEmpty {
          ChannelConv.run(
            path: path, x: x.pointer, channels: t.c, height: t.h, width: t.w, packed: packed.pointer, outputChannels: t.o,
            geometry: g, bias: b?.pointer, y: y.mutablePointer + rows.lowerBound * wo, planeStride: ho * wo,
            outputWidth: wo, rows: rows, channelRange: channels, relu: relu, scratch: &scratch)
        }
      }
    }
  }

  @Test func conv2dTakesItWithPackedWeights() {
    var rng = SeededRandom(seed: 5)
    let s2 = ConvGeometry(kernel: 3, stride: 2, padding: 1)
    #expect(ChannelConv.applies(inputChannels: 64, outputChannels: 64, geometry: ConvGeometry(kernel: 3), outputWidth: 8))
    #expect(ChannelConv.applies(inputChannels: 16, outputChannels: 32, geometry: s2, outputWidth: 16))
    #expect(!ChannelConv.applies(inputChannels: 3, outputChannels: 16, geometry: s2, outputWidth: 32), "a stem")
    #expect(!ChannelConv.applies(inputChannels: 16, outputChannels: 64, geometry: ConvGeometry(kernel: 3), outputWidth: 55), "a wide plane")
    #expect(!ChannelConv.applies(inputChannels: 64, outputChannels: 42, geometry: ConvGeometry(kernel: 1), outputWidth: 16), "pointwise")
    #expect(!ChannelConv.applies(inputChannels: 19, outputChannels: 19, geometry: ConvGeometry(kernel: 3), outputWidth: 8), "too few outputs")
    #expect(!ChannelConv.applies(inputChannels: 256, outputChannels: 256, geometry: ConvGeometry(kernel: 3), outputWidth: 14), "too deep")
    #expect(!ChannelConv.applies(inputChannels: 512, outputChannels: 1024, geometry: ConvGeometry(kernel: 1, stride: 2), outputWidth: 14), "1×1")
    for (shape, o, geometry) in [
      ([1, 64, 8, 8], 64, ConvGeometry(kernel: 3)), ([3, 16, 32, 32], 32, s2), ([1, 20, 7, 5], 42, ConvGeometry(kernel: 3)),
    ] {
      let x = Tensor.randomNormal(Shape(shape), using: &rng)
      let w = Tensor.randomNormal([o, shape[1], 3, 3], using: &rng)
      let b = Tensor.randomNormal([o], using: &rng)
      let want = Reference.conv2d(x, weight: w, bias: b, geometry: geometry)
      let relu = Tensor(shape: want.shape, scalars: want.scalars.map { max($0, 0) })
      for threads in [1, 2] {
        var y = Tensor(repeating: .nan, shape: want.shape)
        Conv2dKernel.forward(
          x, weight: w, bias: b, geometry: geometry, threads: threads, relu: true, channelPacked: ChannelConv.pack(w), into: y.mutablePointer)
        #expect(Reference.maxAbsDifference(y, relu) < 1e-4, "\(shape) threads \(threads)")
      }
    }
  }
}
