import EKDTensor

/// A building block of a network: forward on a tape, named parameters, and
/// shape inference with cost.
///
/// `trace` is the single source of truth for a network's layout: the MAC and
/// parameter counter, the input validation at a model's boundary, and the
/// per-layer tables all walk it over the same objects that run.
public protocol Layer: AnyObject {
  /// Forward pass; records on `x.tape` in training mode.
  func callAsFunction(_ x: Variable) -> Variable
  /// Calls `visit` for every parameter (trainable or state) with its dotted
  /// name relative to this layer, in PyTorch's state-dict order.
  func visitParameters(_ visit: (_ name: String, _ parameter: Parameter) -> Void)
  /// Output shape for `input`, reporting each leaf layer to `visit` with its
  /// dotted `path`; throws when the input does not fit.
  func trace(_ input: Shape, path: String, _ visit: (LayerTrace) -> Void) throws(ShapeError) -> Shape
}

/// One leaf layer's place in a network, as seen by shape inference.
public struct LayerTrace: @unchecked Sendable {
  public var path: String
  public var kind: String
  public var input: Shape
  public var output: Shape
  /// Multiply-accumulates of conv and linear layers for this input (0 for the rest).
  public var macs: Int
  /// Parameters this layer owns (trainable only).
  public var parameters: Int
  /// The layer itself, for per-layer timing (set by layers with MACs).
  public var layer: (any Layer)?

  public init(path: String, kind: String, input: Shape, output: Shape, macs: Int, parameters: Int, layer: (any Layer)? = nil) {
    (self.path, self.kind, self.input, self.output, self.macs, self.parameters, self.layer) = (path, kind, input, output, macs, parameters, layer)
  }
}

extension Layer {
  /// (dotted name, parameter) pairs in state-dict order.
  public var namedParameters: [(name: String, parameter: Parameter)] {
    var out: [(String, Parameter)] = []
    visitParameters { out.append(($0, $1)) }
    return out
  }

  /// The parameters an optimizer updates.
  public var trainableParameters: [Parameter] { namedParameters.map(\.parameter).filter(\.isTrainable) }

  public func zeroGradients() { for (_, p) in namedParameters { p.zeroGradient() } }

  /// Output shape for `input`, or a `ShapeError` naming the layer that refused it.
  public func outputShape(for input: Shape) throws(ShapeError) -> Shape {
    try trace(input, path: "") { _ in }
  }

  /// Every leaf layer's trace for `input`.
  public func traces(for input: Shape) throws(ShapeError) -> [LayerTrace] {
    var out: [LayerTrace] = []
    _ = try trace(input, path: "") { out.append($0) }
    return out
  }
}

/// Joins a parent path and a child name with a dot, PyTorch style.
@inline(__always)
public func join(_ path: String, _ name: String) -> String { path.isEmpty ? name : path + "." + name }

/// Checks an NCHW input with `channels` channels (any when nil) and spatial
/// size ≥ `minimumSpatial`.
func requireImage(_ input: Shape, channels: Int?, path: String, minimumSpatial: Int = 1) throws(ShapeError) {
  guard input.rank == 4, channels == nil || input[1] == channels!, input[2] >= minimumSpatial, input[3] >= minimumSpatial
  else {
    let want = channels.map { "[N, \($0), H, W]" } ?? "[N, C, H, W]"
    throw ShapeError(path.isEmpty ? "input" : path, expected: want + (minimumSpatial > 1 ? " with H, W ≥ \(minimumSpatial)" : ""), got: input)
  }
}
