import EKDTensor

/// A building block of a network: forward on a tape, and named parameters.
///
/// The forward is a network's only definition. Its shapes, its MAC and
/// parameter counts, the input validation at a model's boundary and the
/// per-layer tables all come from running that forward as a shape pass
/// (`shapePass(for:)`), over the same objects that run for real.
public protocol Layer: AnyObject {
  /// Forward pass; records on `x.tape` in training mode.
  func callAsFunction(_ x: Variable) -> Variable
  /// Calls `visit` for every parameter (trainable or state) with its dotted
  /// name relative to this layer, in PyTorch's state-dict order.
  func visitParameters(_ visit: (_ name: String, _ parameter: Parameter) -> Void)
}

/// A layer that a shape pass sees as one row: conv, batch norm, pooling and
/// the like. It knows its own output shape and cost, and its forward starts
/// with `placeholder(for:)` so that a shape pass never runs its kernel.
public protocol LeafLayer: Layer {
  /// How tables name it, e.g. "Conv2d(3→64, k7x7 s2 p3)".
  var kind: String { get }
  /// Output shape and multiply-accumulates for `input`. Throws when the input
  /// does not fit; the shape pass fills in the error's context with the path.
  func shape(for input: Shape) throws(ShapeError) -> (output: Shape, macs: Int)
}

/// One leaf layer's place in a network, as a shape pass saw it.
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
    try shapePass(for: input).output
  }

  /// Every leaf layer's trace for `input`, in the order the forward runs them.
  public func traces(for input: Shape) throws(ShapeError) -> [LayerTrace] {
    try shapePass(for: input).rows
  }

  /// Runs the forward on a shape-only tape (see `ShapePass`): the output shape
  /// and one row per leaf layer call, or the first layer's refusal.
  public func shapePass(for input: Shape) throws(ShapeError) -> (output: Shape, rows: [LayerTrace]) {
    try ShapePass.run(self, input)
  }
}

/// Joins a parent path and a child name with a dot, PyTorch style.
@inline(__always)
public func join(_ path: String, _ name: String) -> String { path.isEmpty ? name : path + "." + name }

/// Checks an NCHW input with `channels` channels (any when nil) and spatial
/// size ≥ `minimumSpatial`.
func requireImage(_ input: Shape, channels: Int?, minimumSpatial: Int = 1) throws(ShapeError) {
  guard input.rank == 4, channels == nil || input[1] == channels!, input[2] >= minimumSpatial, input[3] >= minimumSpatial
  else {
    let want = channels.map { "[N, \($0), H, W]" } ?? "[N, C, H, W]"
    throw ShapeError("", expected: want + (minimumSpatial > 1 ? " with H, W ≥ \(minimumSpatial)" : ""), got: input)
  }
}
