import EKDTensor

/// SqueezeNet's fire module (Iandola et al. 2016; torchvision squeezenet.py).
///
/// s = ReLU(squeeze1×1(x)); out = concat(ReLU(expand1×1(s)), ReLU(expand3×3(s))).
/// The squeeze output feeds both expands: the tape's accumulating backward
/// sums their gradients with no split op.
public final class Fire: CompositeLayer {
  public let squeeze: Conv2d, expand1x1: Conv2d, expand3x3: Conv2d

  public init(inputChannels: Int, squeeze s: Int, expand1x1 e1: Int, expand3x3 e3: Int, using rng: inout some RandomNumberGenerator) {
    squeeze = Conv2d(inputChannels: inputChannels, outputChannels: s, kernelSize: 1, using: &rng)
    expand1x1 = Conv2d(inputChannels: s, outputChannels: e1, kernelSize: 1, using: &rng)
    expand3x3 = Conv2d(inputChannels: s, outputChannels: e3, kernelSize: 3, padding: 1, using: &rng)
  }

  public var children: [(name: String, layer: any Layer)] {
    [("squeeze", squeeze), ("expand1x1", expand1x1), ("expand3x3", expand3x3)]
  }

  public func callAsFunction(_ x: Variable) -> Variable {
    let s = squeeze(x, relu: true)
    return x.tape.concat([expand1x1(s, relu: true), expand3x3(s, relu: true)])
  }
}
