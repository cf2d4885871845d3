import EKDLayers
import EKDTensor

/// SqueezeNet 1.0 and 1.1 (Iandola et al. 2016), torchvision's layout and
/// parameter names (`features.3.squeeze.weight`, `classifier.1.weight`).
/// Max pools use ceil mode, as torchvision's do; that is what makes the
/// published MAC counts. With `classifier`, the original head (conv1×1
/// 512→1000, ReLU, global pool); otherwise a `Head25D` that upsamples the
/// stride-16 features once, to stride 8.
public final class SqueezeNet: CompositeLayer, StudentNetwork {
  public enum Version: String, Sendable { case v1_0 = "1_0", v1_1 = "1_1" }

  public let version: Version
  public let features: Sequential
  public let head: any Layer
  public let classifier: Bool

  public init(version: Version, classifier: Bool = false, classCount: Int = 1000, headWidth: Int = 64, using rng: inout some RandomNumberGenerator) {
    self.version = version
    self.classifier = classifier
    func fire(_ i: Int, _ s: Int, _ e: Int) -> Fire { Fire(inputChannels: i, squeeze: s, expand1x1: e, expand3x3: e, using: &rng) }
    func pool() -> MaxPool2d { MaxPool2d(kernelSize: 3, stride: 2, ceilMode: true) }
    switch version {
    case .v1_0:
      features = Sequential(
        Conv2d(inputChannels: 3, outputChannels: 96, kernelSize: 7, stride: 2, using: &rng), ReLU(), pool(),
        fire(96, 16, 64), fire(128, 16, 64), fire(128, 32, 128), pool(),
        fire(256, 32, 128), fire(256, 48, 192), fire(384, 48, 192), fire(384, 64, 256), pool(),
        fire(512, 64, 256))
    case .v1_1:
      features = Sequential(
        Conv2d(inputChannels: 3, outputChannels: 64, kernelSize: 3, stride: 2, using: &rng), ReLU(), pool(),
        fire(64, 16, 64), fire(128, 16, 64), pool(),
        fire(128, 32, 128), fire(256, 32, 128), pool(),
        fire(256, 48, 192), fire(384, 48, 192), fire(384, 64, 256), fire(512, 64, 256))
    }
    head =
      classifier
      ? Sequential(Identity(), Conv2d(inputChannels: 512, outputChannels: classCount, kernelSize: 1, using: &rng), ReLU(), GlobalAvgPool2d(), Flatten())
      : Head25D(inputChannels: 512, width: headWidth, upsamplings: 1, using: &rng)
  }

  public var featureChannels: Int { 512 }
  public var children: [(name: String, layer: any Layer)] { [("features", features), (classifier ? "classifier" : "head", head)] }

  public func heads(_ x: Variable) -> (outputs: [Variable], features: Variable) {
    let f = features(x)
    return ([head(f)], f)
  }

  public func callAsFunction(_ x: Variable) -> Variable { head(features(x)) }
}

/// Passes its input through. Stands where torchvision has a Dropout, so that
/// parameter indices (`classifier.1.weight`) match; EKD trains without dropout.
public final class Identity: Layer {
  public init() {}
  public func callAsFunction(_ x: Variable) -> Variable { x }
  public func visitParameters(_ visit: (String, Parameter) -> Void) {}
}
