import EKDHand
import EKDLayers
import EKDTensor

/// The 2.5D head that replaces a classifier (ResNet, SqueezeNet).
///
/// A backbone's last feature map is too coarse for heatmaps (stride 32 for
/// ResNet-50, 16 for SqueezeNet), so the head first reduces channels with a
/// 1×1 conv, then `upsamplings` times doubles the resolution with nearest
/// upsampling + 3×3 conv + BN + ReLU (the SimpleBaseline idea, with upsample
/// + conv in place of transposed convs), and ends in a 1×1 conv to 2J channels:
/// J heatmap logits and J latent depth maps.
public final class Head25D: CompositeLayer {
  public let reduce: Sequential
  public let up: [Sequential]
  public let out: Conv2d

  public init(inputChannels: Int, width: Int, upsamplings: Int, joints: Int = HandSkeleton.jointCount, using rng: inout some RandomNumberGenerator) {
    reduce = Sequential(Conv2d(inputChannels: inputChannels, outputChannels: width, kernelSize: 1, bias: false, using: &rng), BatchNorm2d(width), ReLU())
    up = (0..<upsamplings).map { _ in
      Sequential(Upsample(scale: 2), Conv2d(inputChannels: width, outputChannels: width, kernelSize: 3, padding: 1, bias: false, using: &rng), BatchNorm2d(width), ReLU())
    }
    out = Conv2d(inputChannels: width, outputChannels: 2 * joints, kernelSize: 1, using: &rng)
  }

  public var children: [(name: String, layer: any Layer)] {
    [("reduce", reduce)] + up.enumerated().map { ("up.\($0.offset)", $0.element as any Layer) } + [("out", out)]
  }

  public func callAsFunction(_ x: Variable) -> Variable { out(up.reduce(reduce(x)) { $1($0) }) }
}
