import EKDTensor

/// y = x·Wᵀ + b on [N, in], with W stored [out, in] as in PyTorch.
public final class Linear: LeafLayer {
  public let weight: Parameter
  public let bias: Parameter?

  public init(inputFeatures: Int, outputFeatures: Int, bias: Bool = true, using rng: inout some RandomNumberGenerator) {
    weight = Parameter(Initializer.uniformFanIn.tensor([outputFeatures, inputFeatures], fanIn: inputFeatures, using: &rng))
    self.bias = bias ? Parameter(Initializer.uniformFanIn.tensor([outputFeatures], fanIn: inputFeatures, using: &rng)) : nil
  }

  public var inputFeatures: Int { weight.shape[1] }
  public var outputFeatures: Int { weight.shape[0] }

  public func callAsFunction(_ x: Variable) -> Variable {
    if let y = placeholder(for: x) { return y }
    let t = x.tape
    return t.linear(x, weight: t.variable(weight), bias: bias.map { t.variable($0) })
  }

  public func visitParameters(_ visit: (String, Parameter) -> Void) {
    visit("weight", weight)
    if let bias { visit("bias", bias) }
  }

  public var kind: String { "Linear(\(inputFeatures)→\(outputFeatures))" }

  public func shape(for input: Shape) throws(ShapeError) -> (output: Shape, macs: Int) {
    guard input.rank == 2, input[1] == inputFeatures else { throw ShapeError("", expected: "[N, \(inputFeatures)]", got: input) }
    return ([input[0], outputFeatures], input[0] * weight.value.count)
  }
}
