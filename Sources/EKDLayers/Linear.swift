import EKDTensor

/// y = x·Wᵀ + b on [N, in], with W stored [out, in] as in PyTorch.
public final class Linear: Layer {
  public let weight: Parameter
  public let bias: Parameter?

  public init(inputFeatures: Int, outputFeatures: Int, bias: Bool = true, using rng: inout some RandomNumberGenerator) {
    weight = Parameter(Initializer.uniformFanIn.tensor([outputFeatures, inputFeatures], fanIn: inputFeatures, using: &rng))
    self.bias = bias ? Parameter(Initializer.uniformFanIn.tensor([outputFeatures], fanIn: inputFeatures, using: &rng)) : nil
  }

  public var inputFeatures: Int { weight.shape[1] }
  public var outputFeatures: Int { weight.shape[0] }

  public func callAsFunction(_ x: Variable) -> Variable {
    let t = x.tape
    return t.linear(x, weight: t.variable(weight), bias: bias.map { t.variable($0) })
  }

  public func visitParameters(_ visit: (String, Parameter) -> Void) {
    visit("weight", weight)
    if let bias { visit("bias", bias) }
  }

  public func trace(_ input: Shape, path: String, _ visit: (LayerTrace) -> Void) throws(ShapeError) -> Shape {
    guard input.rank == 2, input[1] == inputFeatures else {
      throw ShapeError(path, expected: "[N, \(inputFeatures)]", got: input)
    }
    let out: Shape = [input[0], outputFeatures]
    visit(LayerTrace(path: path, kind: "Linear(\(inputFeatures)→\(outputFeatures))", input: input, output: out,
                     macs: input[0] * weight.value.count, parameters: weight.value.count + (bias?.value.count ?? 0)))
    return out
  }
}
