import EKDTensor

/// The pre-activation residual module of Newell et al. 2016 (stacked hourglass).
///
/// out = conv1×1(ReLU(BN(conv3×3(ReLU(BN(conv1×1(ReLU(BN(x))))))))) + skip(x),
/// with half the output channels inside and skip = conv1×1 when the channel
/// count changes, else x.
public final class Residual: CompositeLayer {
  public let bn1: BatchNorm2d, conv1: Conv2d, bn2: BatchNorm2d, conv2: Conv2d, bn3: BatchNorm2d, conv3: Conv2d
  public let skip: Conv2d?

  public init(inputChannels: Int, outputChannels: Int, using rng: inout some RandomNumberGenerator) {
    let mid = max(outputChannels / 2, 1)
    bn1 = BatchNorm2d(inputChannels)
    conv1 = Conv2d(inputChannels: inputChannels, outputChannels: mid, kernelSize: 1, using: &rng)
    bn2 = BatchNorm2d(mid)
    conv2 = Conv2d(inputChannels: mid, outputChannels: mid, kernelSize: 3, padding: 1, using: &rng)
    bn3 = BatchNorm2d(mid)
    conv3 = Conv2d(inputChannels: mid, outputChannels: outputChannels, kernelSize: 1, using: &rng)
    skip = inputChannels == outputChannels ? nil : Conv2d(inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: 1, using: &rng)
  }

  public var children: [(name: String, layer: any Layer)] {
    [("bn1", bn1), ("conv1", conv1), ("bn2", bn2), ("conv2", conv2), ("bn3", bn3), ("conv3", conv3)]
      + (skip.map { [("skip", $0 as any Layer)] } ?? [])
  }

  public func callAsFunction(_ x: Variable) -> Variable {
    let y = conv3(bn3(conv2(bn2(conv1(bn1(x, relu: true)), relu: true)), relu: true))
    return y + (skip?(x) ?? x)
  }
}
