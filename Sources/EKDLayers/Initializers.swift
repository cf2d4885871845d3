import EKDTensor

/// Weight initialisation schemes.
public enum Initializer: Sendable {
  /// He et al. 2015: N(0, 2/fan_in), which keeps activations' variance through ReLU layers.
  case heNormal
  /// U(−1/√fan_in, 1/√fan_in), PyTorch's default for biases and linear layers.
  case uniformFanIn
  case zeros

  public func tensor(_ shape: Shape, fanIn: Int, using rng: inout some RandomNumberGenerator) -> Tensor {
    switch self {
    case .heNormal:
      return Tensor.randomNormal(shape, std: (2 / Float(max(fanIn, 1))).squareRoot(), using: &rng)
    case .uniformFanIn:
      let b = 1 / Float(max(fanIn, 1)).squareRoot()
      return Tensor.randomUniform(shape, in: -b...b, using: &rng)
    case .zeros:
      return Tensor(zeros: shape)
    }
  }
}
