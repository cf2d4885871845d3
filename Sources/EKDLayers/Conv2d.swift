import EKDTensor

/// A 2-D convolution lowered to im2col + SGEMM (see `Conv2dKernel`).
public final class Conv2d: LeafLayer {
  /// [outputChannels, inputChannels, kernelHeight, kernelWidth]
  public let weight: Parameter
  /// [outputChannels], or nil.
  public let bias: Parameter?
  public let geometry: ConvGeometry

  public init(
    inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
    bias: Bool = true, initializer: Initializer = .heNormal,
    using rng: inout some RandomNumberGenerator
  ) {
    geometry = ConvGeometry(kernel: kernelSize, stride: stride, padding: padding)
    let fanIn = inputChannels * kernelSize * kernelSize
    weight = Parameter(initializer.tensor([outputChannels, inputChannels, kernelSize, kernelSize], fanIn: fanIn, using: &rng))
    self.bias = bias ? Parameter(Tensor(zeros: [outputChannels])) : nil
  }

  public var inputChannels: Int { weight.shape[1] }
  public var outputChannels: Int { weight.shape[0] }

  public func callAsFunction(_ x: Variable) -> Variable { self(x, relu: false) }

  /// The conv followed by ReLU, fused (same result as `ReLU()(conv(x))`; see `Tape.conv2d`).
  public func callAsFunction(_ x: Variable, relu: Bool) -> Variable {
    if let y = placeholder(for: x) { return y }
    let t = x.tape
    return t.conv2d(x, weight: t.variable(weight), bias: bias.map { t.variable($0) }, geometry: geometry, relu: relu)
  }

  public func visitParameters(_ visit: (String, Parameter) -> Void) {
    visit("weight", weight)
    if let bias { visit("bias", bias) }
  }

  public var kind: String { "Conv2d(\(inputChannels)→\(outputChannels), \(geometry))" }

  public func shape(for input: Shape) throws(ShapeError) -> (output: Shape, macs: Int) {
    try requireImage(input, channels: inputChannels)
    let (ho, wo) = geometry.outputSize(height: input[2], width: input[3])
    guard ho > 0, wo > 0 else { throw ShapeError("", expected: "an input larger than the \(geometry) window", got: input) }
    let out: Shape = [input[0], outputChannels, ho, wo]
    return (out, out.count * weight.value.count / outputChannels)
  }
}
