import EKDTensor
import Testing
import _EKDTestSupport

/// im2col + SGEMM against a direct convolution on odd shapes.
@Suite struct ConvolutionForward {
  struct Case: CustomTestStringConvertible, Sendable {
    var input: [Int], outChannels: Int, kernel: (Int, Int), stride: Int, padding: Int, threads: Int
    var testDescription: String { "x\(input) o\(outChannels) k\(kernel) s\(stride) p\(padding) t\(threads)" }
  }

  static let cases: [Case] = [
    Case(input: [2, 3, 7, 5], outChannels: 4, kernel: (3, 3), stride: 1, padding: 1, threads: 1),
    Case(input: [3, 2, 9, 6], outChannels: 5, kernel: (3, 3), stride: 2, padding: 1, threads: 2),
    Case(input: [1, 4, 6, 8], outChannels: 3, kernel: (1, 1), stride: 1, padding: 0, threads: 2),
    Case(input: [2, 4, 6, 8], outChannels: 3, kernel: (1, 1), stride: 2, padding: 0, threads: 1),
    Case(input: [2, 3, 11, 10], outChannels: 2, kernel: (7, 7), stride: 2, padding: 3, threads: 2),
    Case(input: [1, 2, 5, 7], outChannels: 3, kernel: (2, 3), stride: 1, padding: 0, threads: 1),
    Case(input: [2, 1, 4, 4], outChannels: 2, kernel: (3, 3), stride: 3, padding: 2, threads: 2),
  ]

  @Test(arguments: cases)
  func matchesDirectConvolution(_ c: Case) {
    var rng = SeededRandom(seed: 11)
    let g = ConvGeometry(kernelHeight: c.kernel.0, kernelWidth: c.kernel.1, stride: c.stride, padding: c.padding)
    let x = Tensor.randomNormal(Shape(c.input), using: &rng)
    let w = Tensor.randomNormal([c.outChannels, c.input[1], c.kernel.0, c.kernel.1], using: &rng)
    let b = Tensor.randomNormal([c.outChannels], using: &rng)
    let tape = Tape(mode: .inference, threads: c.threads)
    let y = tape.conv2d(tape.constant(x), weight: tape.constant(w), bias: tape.constant(b), geometry: g).value
    let expected = Reference.conv2d(x, weight: w, bias: b, geometry: g)
    #expect(y.shape == expected.shape)
    #expect(Reference.maxAbsDifference(y, expected) < 1e-4)
  }
}
