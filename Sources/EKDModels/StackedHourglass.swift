import EKDHand
import EKDLayers
import EKDTensor

/// The stacked hourglass of Newell et al. 2016, as used by Iqbal et al. 2018
/// for 2.5D heatmaps, with configurable widths so that one class builds
/// TS120G, TS20G and TS500M (docs/models.md has the arithmetic).
///
/// Stem: conv7×7/2 (3→s1) + BN + ReLU, residual s1→s2, maxpool 2, residual
/// s2→s2, residual s2→F; output stride 4. Each stack: hourglass(depth 4, F),
/// residual F→F, conv1×1 + BN + ReLU ("lin"), conv1×1 F→2J head. Between
/// stacks (intermediate supervision): x ← x + conv1×1(lin) + conv1×1(head).
/// Matches the peers' PyTorch model (../shared/peers/models_torch.py).
public final class StackedHourglass: CompositeLayer, StudentNetwork {
  public struct Configuration: Equatable, Sendable {
    public var stacks: Int, features: Int, stem: (Int, Int), depth: Int, joints: Int
    public init(stacks: Int, features: Int, stem: (Int, Int) = (64, 128), depth: Int = 4, joints: Int = HandSkeleton.jointCount) {
      (self.stacks, self.features, self.stem, self.depth, self.joints) = (stacks, features, stem, depth, joints)
    }
    public static func == (a: Self, b: Self) -> Bool {
      (a.stacks, a.features, a.stem.0, a.stem.1, a.depth, a.joints) == (b.stacks, b.features, b.stem.0, b.stem.1, b.depth, b.joints)
    }
  }

  public let configuration: Configuration
  public let conv1: Conv2d, bn1: BatchNorm2d, r1: Residual, r4: Residual, r5: Residual
  public let hg: [Hourglass], res: [Residual], lin: [Sequential], out: [Conv2d], ll_: [Conv2d], out_: [Conv2d]
  let pool = MaxPool2d(kernelSize: 2, stride: 2)

  public init(_ c: Configuration, using rng: inout some RandomNumberGenerator) {
    configuration = c
    let f = c.features, o = 2 * c.joints
    conv1 = Conv2d(inputChannels: 3, outputChannels: c.stem.0, kernelSize: 7, stride: 2, padding: 3, using: &rng)
    bn1 = BatchNorm2d(c.stem.0)
    r1 = Residual(inputChannels: c.stem.0, outputChannels: c.stem.1, using: &rng)
    r4 = Residual(inputChannels: c.stem.1, outputChannels: c.stem.1, using: &rng)
    r5 = Residual(inputChannels: c.stem.1, outputChannels: f, using: &rng)
    hg = (0..<c.stacks).map { _ in Hourglass(depth: c.depth, features: f, using: &rng) }
    res = (0..<c.stacks).map { _ in Residual(inputChannels: f, outputChannels: f, using: &rng) }
    lin = (0..<c.stacks).map { _ in Sequential(Conv2d(inputChannels: f, outputChannels: f, kernelSize: 1, using: &rng), BatchNorm2d(f), ReLU()) }
    out = (0..<c.stacks).map { _ in Conv2d(inputChannels: f, outputChannels: o, kernelSize: 1, using: &rng) }
    ll_ = (0..<(c.stacks - 1)).map { _ in Conv2d(inputChannels: f, outputChannels: f, kernelSize: 1, using: &rng) }
    out_ = (0..<(c.stacks - 1)).map { _ in Conv2d(inputChannels: o, outputChannels: f, kernelSize: 1, using: &rng) }
  }

  public var featureChannels: Int { configuration.features }

  public var children: [(name: String, layer: any Layer)] {
    func list(_ name: String, _ xs: [any Layer]) -> [(name: String, layer: any Layer)] { xs.enumerated().map { ("\(name).\($0.offset)", $0.element) } }
    return [("conv1", conv1), ("bn1", bn1), ("r1", r1), ("pool", pool), ("r4", r4), ("r5", r5)]
      + list("hg", hg) + list("res", res) + list("lin", lin) + list("out", out) + list("ll_", ll_) + list("out_", out_)
  }

  public func heads(_ x: Variable) -> (outputs: [Variable], features: Variable) {
    var x = r5(r4(pool(r1(bn1(conv1(x), relu: true)))))
    var outputs: [Variable] = []
    var features = x
    for i in 0..<configuration.stacks {
      let y = lin[i](res[i](hg[i](x)))
      let o = out[i](y)
      outputs.append(o)
      features = y
      if i < configuration.stacks - 1 { x = x + ll_[i](y) + out_[i](o) }
    }
    return (outputs, features)
  }

  public func callAsFunction(_ x: Variable) -> Variable { heads(x).outputs.last! }
}
