import EKDTensor

/// ResNet's bottleneck block, torchvision's v1.5 variant (stride on the 3×3).
///
/// out = ReLU(BN(conv1×1(ReLU(BN(conv3×3/s(ReLU(BN(conv1×1(x)))))))) + shortcut(x)),
/// shortcut = BN(conv1×1/s(x)) when the shape changes, else x. Convs have no
/// bias (the BN after each absorbs it). He et al. 2016; torchvision resnet.py.
public final class Bottleneck: CompositeLayer {
  public static let expansion = 4
  public let conv1: Conv2d, bn1: BatchNorm2d, conv2: Conv2d, bn2: BatchNorm2d, conv3: Conv2d, bn3: BatchNorm2d
  public let downsample: Sequential?

  public init(inputChannels: Int, planes: Int, stride: Int = 1, using rng: inout some RandomNumberGenerator) {
    let out = planes * Self.expansion
    conv1 = Conv2d(inputChannels: inputChannels, outputChannels: planes, kernelSize: 1, bias: false, using: &rng)
    bn1 = BatchNorm2d(planes)
    conv2 = Conv2d(inputChannels: planes, outputChannels: planes, kernelSize: 3, stride: stride, padding: 1, bias: false, using: &rng)
    bn2 = BatchNorm2d(planes)
    conv3 = Conv2d(inputChannels: planes, outputChannels: out, kernelSize: 1, bias: false, using: &rng)
    bn3 = BatchNorm2d(out)
    downsample =
      (stride != 1 || inputChannels != out)
      ? Sequential(Conv2d(inputChannels: inputChannels, outputChannels: out, kernelSize: 1, stride: stride, bias: false, using: &rng), BatchNorm2d(out))
      : nil
  }

  public var children: [(name: String, layer: any Layer)] {
    [("conv1", conv1), ("bn1", bn1), ("conv2", conv2), ("bn2", bn2), ("conv3", conv3), ("bn3", bn3)]
      + (downsample.map { [("downsample", $0 as any Layer)] } ?? [])
  }

  public func callAsFunction(_ x: Variable) -> Variable {
    let shortcut = downsample?(x) ?? x
    return bn3(conv3(bn2(conv2(bn1(conv1(x), relu: true)), relu: true)), relu: true, residual: shortcut)
  }
}
