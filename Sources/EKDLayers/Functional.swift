import EKDTensor

// Layers without parameters: activations, pooling, resampling, reshaping.

/// max(x, 0).
public final class ReLU: LeafLayer {
  public init() {}
  public func callAsFunction(_ x: Variable) -> Variable { placeholder(for: x) ?? x.relu() }
  public func visitParameters(_ visit: (String, Parameter) -> Void) {}
  public var kind: String { "ReLU" }
  public func shape(for input: Shape) throws(ShapeError) -> (output: Shape, macs: Int) { (input, 0) }
}

/// Max over k×k windows; `ceilMode` as PyTorch's (SqueezeNet needs it).
public final class MaxPool2d: LeafLayer {
  public let geometry: ConvGeometry
  public let ceilMode: Bool

  public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false) {
    geometry = ConvGeometry(kernel: kernelSize, stride: stride ?? kernelSize, padding: padding)
    self.ceilMode = ceilMode
  }

  public func callAsFunction(_ x: Variable) -> Variable {
    placeholder(for: x) ?? x.tape.maxPool2d(x, geometry: geometry, ceilMode: ceilMode)
  }
  public func visitParameters(_ visit: (String, Parameter) -> Void) {}
  public var kind: String { "MaxPool2d(\(geometry)\(ceilMode ? ", ceil" : ""))" }
  public func shape(for input: Shape) throws(ShapeError) -> (output: Shape, macs: Int) {
    try requireImage(input, channels: nil, minimumSpatial: geometry.kernelHeight - 2 * geometry.padHeight)
    func size(_ s: Int) -> Int {
      PoolingKernel.outputSize(s, kernel: geometry.kernelHeight, stride: geometry.strideHeight, padding: geometry.padHeight, ceilMode: ceilMode)
    }
    return ([input[0], input[1], size(input[2]), size(input[3])], 0)
  }
}

/// Mean over k×k windows, padding counted as zeros.
public final class AvgPool2d: LeafLayer {
  public let geometry: ConvGeometry

  public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
    geometry = ConvGeometry(kernel: kernelSize, stride: stride ?? kernelSize, padding: padding)
  }

  public func callAsFunction(_ x: Variable) -> Variable { placeholder(for: x) ?? x.tape.avgPool2d(x, geometry: geometry) }
  public func visitParameters(_ visit: (String, Parameter) -> Void) {}
  public var kind: String { "AvgPool2d(\(geometry))" }
  public func shape(for input: Shape) throws(ShapeError) -> (output: Shape, macs: Int) {
    try requireImage(input, channels: nil, minimumSpatial: geometry.kernelHeight - 2 * geometry.padHeight)
    let (ho, wo) = geometry.outputSize(height: input[2], width: input[3])
    return ([input[0], input[1], ho, wo], 0)
  }
}

/// [N, C, H, W] → [N, C, 1, 1].
public final class GlobalAvgPool2d: LeafLayer {
  public init() {}
  public func callAsFunction(_ x: Variable) -> Variable { placeholder(for: x) ?? x.tape.globalAvgPool2d(x) }
  public func visitParameters(_ visit: (String, Parameter) -> Void) {}
  public var kind: String { "GlobalAvgPool2d" }
  public func shape(for input: Shape) throws(ShapeError) -> (output: Shape, macs: Int) {
    try requireImage(input, channels: nil)
    return ([input[0], input[1], 1, 1], 0)
  }
}

/// Nearest-neighbour upsampling by an integer factor.
public final class Upsample: LeafLayer {
  public let scale: Int
  public init(scale: Int) {
    precondition(scale >= 1, "upsample scale \(scale)")
    self.scale = scale
  }
  public func callAsFunction(_ x: Variable) -> Variable { placeholder(for: x) ?? x.tape.upsampleNearest2d(x, scale: scale) }
  public func visitParameters(_ visit: (String, Parameter) -> Void) {}
  public var kind: String { "Upsample(×\(scale))" }
  public func shape(for input: Shape) throws(ShapeError) -> (output: Shape, macs: Int) {
    try requireImage(input, channels: nil)
    return ([input[0], input[1], input[2] * scale, input[3] * scale], 0)
  }
}

/// [N, ...] → [N, product of the rest].
public final class Flatten: LeafLayer {
  public init() {}
  public func callAsFunction(_ x: Variable) -> Variable { placeholder(for: x) ?? x.flattened() }
  public func visitParameters(_ visit: (String, Parameter) -> Void) {}
  public var kind: String { "Flatten" }
  public func shape(for input: Shape) throws(ShapeError) -> (output: Shape, macs: Int) {
    guard input.rank >= 1 else { throw ShapeError("", expected: "[N, ...]", got: input) }
    return ([input[0], input.count / max(input[0], 1)], 0)
  }
}

/// Layers applied in order, named "0", "1", … as in `torch.nn.Sequential`.
public final class Sequential: CompositeLayer {
  public let layers: [any Layer]
  public init(_ layers: [any Layer]) { self.layers = layers }
  public convenience init(_ layers: any Layer...) { self.init(layers) }

  public var children: [(name: String, layer: any Layer)] { layers.enumerated().map { ("\($0.offset)", $0.element) } }

  /// Runs the layers in order; a BatchNorm2d or Conv2d directly followed by a ReLU
  /// runs as one fused op (same result, one pass fewer over the activations).
  public func callAsFunction(_ x: Variable) -> Variable {
    var y = x
    var i = 0
    while i < layers.count {
      let reluFollows = i + 1 < layers.count && layers[i + 1] is ReLU
      if reluFollows, let bn = layers[i] as? BatchNorm2d {
        y = bn(y, relu: true)
        i += 2
      } else if reluFollows, let conv = layers[i] as? Conv2d {
        y = conv(y, relu: true)
        i += 2
      } else {
        y = layers[i](y)
        i += 1
      }
    }
    return y
  }
}
