import EKDTensor
import Testing
import _EKDTestSupport

/// A convolution shape the direct kernels (`DirectConv`, `ChannelConv`) are checked on.
struct DirectConvCase: Sendable {
  var c: Int, h: Int, w: Int, o: Int, kernel: (Int, Int), stride: Int, padding: Int

  var geometry: ConvGeometry { ConvGeometry(kernelHeight: kernel.0, kernelWidth: kernel.1, stride: stride, padding: padding) }
}

/// Checks `compute` against the reference convolution on every case, with bias, with
/// ReLU and with both: it gets the case, x, w, the bias (or nil) and whether to apply
/// ReLU, and fills y ([1, o, ho, wo], NaN beforehand, so an output it misses shows).
func expectReferenceConvolution(
  _ cases: [DirectConvCase], seed: UInt64, label: String,
  _ compute: (DirectConvCase, Tensor, Tensor, Tensor?, Bool, inout Tensor) -> Void
) {
  var rng = SeededRandom(seed: seed)
  for t in cases {
    let g = t.geometry
    let (ho, wo) = g.outputSize(height: t.h, width: t.w)
    let x = Tensor.randomNormal([1, t.c, t.h, t.w], using: &rng)
    let w = Tensor.randomNormal([t.o, t.c, t.kernel.0, t.kernel.1], using: &rng)
    let b = Tensor.randomNormal([t.o], using: &rng)
    for (bias, relu) in [(true, false), (false, true), (true, true)] {
      var want = Reference.conv2d(x, weight: w, bias: bias ? b : nil, geometry: g)
      if relu { want = Tensor(shape: want.shape, scalars: want.scalars.map { max($0, 0) }) }
      var y = Tensor(repeating: .nan, shape: [1, t.o, ho, wo])
      compute(t, x, w, bias ? b : nil, relu, &y)
      let worst = Reference.maxAbsDifference(y, want)
      #expect(worst < 1e-4, "\(label) \(t) bias \(bias) relu \(relu): \(worst)")
    }
  }
}
