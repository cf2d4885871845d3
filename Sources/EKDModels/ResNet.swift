import EKDLayers
import EKDTensor

/// ResNet-50 (He et al. 2016), torchvision's v1.5 layout: the stride of a
/// downsampling block sits on its 3×3 conv. With `classifier`, the original
/// ImageNet head (global pool + fc 2048→1000); otherwise a `Head25D` that
/// upsamples the stride-32 features twice to stride 8.
/// Parameter names are torchvision's (`layer3.5.bn2.running_var`).
public final class ResNet50: CompositeLayer, StudentNetwork {
  public let conv1: Conv2d, bn1: BatchNorm2d
  public let layers: [Sequential]
  /// The `Head25D`, or with `classifier` the fc after global pooling.
  public let head: any Layer
  public let classifier: Bool
  let maxpool = MaxPool2d(kernelSize: 3, stride: 2, padding: 1), avgpool = GlobalAvgPool2d(), flatten = Flatten()

  public init(classifier: Bool = false, classCount: Int = 1000, headWidth: Int = 128, using rng: inout some RandomNumberGenerator) {
    conv1 = Conv2d(inputChannels: 3, outputChannels: 64, kernelSize: 7, stride: 2, padding: 3, bias: false, using: &rng)
    bn1 = BatchNorm2d(64)
    var channels = 64
    var stages: [Sequential] = []
    for (blocks, planes, stride) in [(3, 64, 1), (4, 128, 2), (6, 256, 2), (3, 512, 2)] {
      var stage: [any Layer] = []
      for b in 0..<blocks {
        stage.append(Bottleneck(inputChannels: channels, planes: planes, stride: b == 0 ? stride : 1, using: &rng))
        channels = planes * Bottleneck.expansion
      }
      stages.append(Sequential(stage))
    }
    layers = stages
    self.classifier = classifier
    head =
      classifier
      ? Linear(inputFeatures: 2048, outputFeatures: classCount, using: &rng)
      : Head25D(inputChannels: 2048, width: headWidth, upsamplings: 2, using: &rng)
  }

  public var featureChannels: Int { 2048 }

  public var children: [(name: String, layer: any Layer)] {
    var out: [(name: String, layer: any Layer)] = [("conv1", conv1), ("bn1", bn1), ("maxpool", maxpool)]
    for (i, stage) in layers.enumerated() { out.append(("layer\(i + 1)", stage)) }
    if classifier {
      out.append(("avgpool", avgpool))
      out.append(("flatten", flatten))
      out.append(("fc", head))
    } else {
      out.append(("head", head))
    }
    return out
  }

  public func heads(_ x: Variable) -> (outputs: [Variable], features: Variable) {
    let f = layers.reduce(maxpool(bn1(conv1(x), relu: true))) { $1($0) }
    return ([classifier ? head(flatten(avgpool(f))) : head(f)], f)
  }

  public func callAsFunction(_ x: Variable) -> Variable { heads(x).outputs[0] }
}
