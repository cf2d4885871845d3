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
    [("up1", up1), ("low1", low1), ("low2", low2), ("low3", low3)]
  }

  public func callAsFunction(_ x: Variable) -> Variable {
    up1(x) + upsample(low3(low2(low1(pool(x)))))
  }

  public func trace(_ input: Shape, path: String, _ visit: (LayerTrace) -> Void) throws(ShapeError) -> Shape {
    let k = 1 << depth
    guard input.rank == 4, input[2] % k == 0, input[3] % k == 0 else {
      throw ShapeError(path, expected: "[N, C, H, W] with H and W divisible by \(k)", got: input)
    }
    let up = try up1.trace(input, path: join(path, "up1"), visit)
    var low = try pool.trace(input, path: join(path, "pool"), visit)
    low = try low1.trace(low, path: join(path, "low1"), visit)
    low = try low2.trace(low, path: join(path, "low2"), visit)
    low = try low3.trace(low, path: join(path, "low3"), visit)
    low = try upsample.trace(low, path: join(path, "upsample"), visit)
    guard low == up else { throw ShapeError(path, expected: "branches to match \(up)", got: low) }
    return up
  }
}
