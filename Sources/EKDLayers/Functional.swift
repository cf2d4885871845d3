import EKDTensor

// Layers without parameters: activations, pooling, resampling, reshaping.

/// max(x, 0).
public final class ReLU: Layer {
  public init() {}
  public func callAsFunction(_ x: Variable) -> Variable { x.relu() }
  public func visitParameters(_ visit: (String, Parameter) -> Void) {}
  public func trace(_ input: Shape, path: String, _ visit: (LayerTrace) -> Void) throws(ShapeError) -> Shape {
    visit(LayerTrace(path: path, kind: "ReLU", input: input, output: input, macs: 0, parameters: 0))
    return input
  }
}

/// Max over k×k windows; `ceilMode` as PyTorch's (SqueezeNet needs it).
public final class MaxPool2d: Layer {
  public let geometry: ConvGeometry
  public let ceilMode: Bool

  public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false) {
    geometry = ConvGeometry(kernel: kernelSize, stride: stride ?? kernelSize, padding: padding)
    self.ceilMode = ceilMode
  }

  public func callAsFunction(_ x: Variable) -> Variable { x.tape.maxPool2d(x, geometry: geometry, ceilMode: ceilMode) }
  public func visitParameters(_ visit: (String, Parameter) -> Void) {}
  public func trace(_ input: Shape, path: String, _ visit: (LayerTrace) -> Void) throws(ShapeError) -> Shape {
    try requireImage(input, channels: nil, path: path, minimumSpatial: geometry.kernelHeight - 2 * geometry.padHeight)
    func size(_ s: Int) -> Int {
      PoolingKernel.outputSize(s, kernel: geometry.kernelHeight, stride: geometry.strideHeight, padding: geometry.padHeight, ceilMode: ceilMode)
    }
    let out: Shape = [input[0], input[1], size(input[2]), size(input[3])]
    visit(LayerTrace(path: path, kind: "MaxPool2d(\(geometry)\(ceilMode ? ", ceil" : ""))", input: input, output: out, macs: 0, parameters: 0))
    return out
  }
}

/// Mean over k×k windows, padding counted as zeros.
public final class AvgPool2d: Layer {
  public let geometry: ConvGeometry

  public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
    geometry = ConvGeometry(kernel: kernelSize, stride: stride ?? kernelSize, padding: padding)
  }

  public func callAsFunction(_ x: Variable) -> Variable { x.tape.avgPool2d(x, geometry: geometry) }
  public func visitParameters(_ visit: (String, Parameter) -> Void) {}
  public func trace(_ input: Shape, path: String, _ visit: (LayerTrace) -> Void) throws(ShapeError) -> Shape {
    try requireImage(input, channels: nil, path: path, minimumSpatial: geometry.kernelHeight - 2 * geometry.padHeight)
    let (ho, wo) = geometry.outputSize(height: input[2], width: input[3])
    let out: Shape = [input[0], input[1], ho, wo]
    visit(LayerTrace(path: path, kind: "AvgPool2d(\(geometry))", input: input, output: out, macs: 0, parameters: 0))
    return out
  }
}

/// [N, C, H, W] → [N, C, 1, 1].
public final class GlobalAvgPool2d: Layer {
  public init() {}
  public func callAsFunction(_ x: Variable) -> Variable { x.tape.globalAvgPool2d(x) }
  public func visitParameters(_ visit: (String, Parameter) -> Void) {}
  public func trace(_ input: Shape, path: String, _ visit: (LayerTrace) -> Void) throws(ShapeError) -> Shape {
    try requireImage(input, channels: nil, path: path)
    let out: Shape = [input[0], input[1], 1, 1]
    visit(LayerTrace(path: path, kind: "GlobalAvgPool2d", input: input, output: out, macs: 0, parameters: 0))
    return out
  }
}

/// Nearest-neighbour upsampling by an integer factor.
public final class Upsample: Layer {
  public let scale: Int
  public init(scale: Int) {
    precondition(scale >= 1, "upsample scale \(scale)")
    self.scale = scale
  }
  public func callAsFunction(_ x: Variable) -> Variable { x.tape.upsampleNearest2d(x, scale: scale) }
  public func visitParameters(_ visit: (String, Parameter) -> Void) {}
  public func trace(_ input: Shape, path: String, _ visit: (LayerTrace) -> Void) throws(ShapeError) -> Shape {
    try requireImage(input, channels: nil, path: path)
    let out: Shape = [input[0], input[1], input[2] * scale, input[3] * scale]
    visit(LayerTrace(path: path, kind: "Upsample(×\(scale))", input: input, output: out, macs: 0, parameters: 0))
    return out
  }
}

/// [N, ...] → [N, product of the rest].
public final class Flatten: Layer {
  public init() {}
  public func callAsFunction(_ x: Variable) -> Variable { x.flattened() }
  public func visitParameters(_ visit: (String, Parameter) -> Void) {}
  public func trace(_ input: Shape, path: String, _ visit: (LayerTrace) -> Void) throws(ShapeError) -> Shape {
    guard input.rank >= 1 else { throw ShapeError(path, expected: "[N, ...]", got: input) }
    let out: Shape = [input[0], input.count / max(input[0], 1)]
    visit(LayerTrace(path: path, kind: "Flatten", input: input, output: out, macs: 0, parameters: 0))
    return out
  }
}

/// Layers applied in order, named "0", "1", … as in `torch.nn.Sequential`.
public final class Sequential: Layer {
  public let layers: [any Layer]
  public init(_ layers: [any Layer]) { self.layers = layers }
  public convenience init(_ layers: any Layer...) { self.init(layers) }

  /// Runs the layers in order; a BatchNorm2d directly followed by a ReLU runs
  /// as one fused op (same result, one pass fewer over the activations).
  public func callAsFunction(_ x: Variable) -> Variable {
    var y = x
    var i = 0
    while i < layers.count {
      if let bn = layers[i] as? BatchNorm2d, i + 1 < layers.count, layers[i + 1] is ReLU {
        y = bn(y, relu: true)
        i += 2
      } else {
        y = layers[i](y)
        i += 1
      }
    }
    return y
  }
  public func visitParameters(_ visit: (String, Parameter) -> Void) {
    for (i, layer) in layers.enumerated() { layer.visitParameters { visit("\(i).\($0)", $1) } }
  }
  public func trace(_ input: Shape, path: String, _ visit: (LayerTrace) -> Void) throws(ShapeError) -> Shape {
    var shape = input
    for (i, layer) in layers.enumerated() { shape = try layer.trace(shape, path: join(path, "\(i)"), visit) }
    return shape
  }
}
