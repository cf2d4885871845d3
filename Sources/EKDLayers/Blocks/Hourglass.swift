import EKDTensor

/// One hourglass of Newell et al. 2016, recursive in `depth`.
///
/// up = res(x); low = res(maxpool2(x)); low = depth > 1 ? hourglass(low) : res(low);
/// out = up + upsample2(res(low)). Input H and W must be divisible by 2^depth.
public final class Hourglass: CompositeLayer {
  public let depth: Int
  public let up1: Residual, low1: Residual, low3: Residual
  /// The inner hourglass, or a residual module at the bottom of the recursion.
  public let low2: any Layer
  let pool = MaxPool2d(kernelSize: 2, stride: 2)
  let upsample = Upsample(scale: 2)

  public init(depth: Int, features f: Int, using rng: inout some RandomNumberGenerator) {
    precondition(depth >= 1, "hourglass depth \(depth)")
    self.depth = depth
    up1 = Residual(inputChannels: f, outputChannels: f, using: &rng)
    low1 = Residual(inputChannels: f, outputChannels: f, using: &rng)
    low2 = depth > 1 ? Hourglass(depth: depth - 1, features: f, using: &rng) : Residual(inputChannels: f, outputChannels: f, using: &rng)
    low3 = Residual(inputChannels: f, outputChannels: f, using: &rng)
  }

  public var children: [(name: String, layer: any Layer)] {
    [("up1", up1), ("pool", pool), ("low1", low1), ("low2", low2), ("low3", low3), ("upsample", upsample)]
  }

  public func callAsFunction(_ x: Variable) -> Variable {
    guard fits(x, sidesDivisibleBy: 1 << depth) else { return x }
    return up1(x) + upsample(low3(low2(low1(pool(x)))))
  }
}
