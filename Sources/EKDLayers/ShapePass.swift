import EKDTensor

/// A model's forward run for its shapes and costs instead of its values.
///
/// The pass is the observer of an inference tape. Every `LeafLayer` on that
/// tape reports a `LayerTrace` and returns a zero placeholder of its output
/// shape, so no convolution or matrix product runs; the glue between leaves
/// (adds, concats, `relu()`) does run, on the placeholders at batch 1, so the
/// pass costs memory like one batch-1 forward (which is why `StudentZoo` bounds
/// the input size). Paths are the dotted names of `CompositeLayer.children`, as
/// in the state dict.
///
/// A forward cannot throw, so the first layer to refuse its input decides the
/// error, and from then on every leaf passes its input through unchanged.
/// Students whose branches meet after pooling check their input first (`fits`),
/// so no zoo model merges mismatched shapes after a refusal; a new model with
/// such branches must do the same.
final class ShapePass {
  private var paths: [ObjectIdentifier: String] = [:]
  /// One zero tensor per shape: placeholders are only read, never written.
  private var placeholders: [Shape: Tensor] = [:]
  private var rows: [LayerTrace] = []
  private var error: ShapeError?

  static func run(_ model: any Layer, _ input: Shape) throws(ShapeError) -> (output: Shape, rows: [LayerTrace]) {
    let pass = ShapePass()
    pass.assignPaths(model, "")
    let tape = Tape(mode: .inference)
    tape.observer = pass
    let output = model(tape.constant(Tensor(zeros: input))).shape
    if let error = pass.error { throw error }
    return (output, pass.rows)
  }

  /// Records every layer's path; a layer reached twice keeps its first.
  private func assignPaths(_ layer: any Layer, _ path: String) {
    let id = ObjectIdentifier(layer)
    guard paths[id] == nil else { return }
    paths[id] = path
    for (child, sublayer) in (layer as? any CompositeLayer)?.children ?? [] { assignPaths(sublayer, join(path, child)) }
  }

  func leaf(_ layer: some LeafLayer, _ x: Variable) -> Variable {
    guard error == nil else { return x }
    let path = paths[ObjectIdentifier(layer)] ?? ""
    let shape: (output: Shape, macs: Int)
    do { shape = try layer.shape(for: x.shape) } catch {
      refuse(path, error)
      return x
    }
    let timed: (any Layer)? = shape.macs > 0 ? (layer as any Layer) : nil
    rows.append(
      LayerTrace(
        path: path, kind: layer.kind, input: x.shape, output: shape.output, macs: shape.macs,
        parameters: layer.trainableParameters.reduce(0) { $0 + $1.value.count }, layer: timed))
    if shape.output == x.shape { return x }
    if let p = placeholders[shape.output] { return x.tape.constant(p) }
    let p = Tensor(zeros: shape.output)
    placeholders[shape.output] = p
    return x.tape.constant(p)
  }

  func refuse(_ layer: any Layer, expected: String, got: Shape) {
    refuse(paths[ObjectIdentifier(layer)] ?? "", ShapeError("", expected: expected, got: got))
  }

  private func refuse(_ path: String, _ refusal: ShapeError) {
    guard error == nil else { return }
    var e = refusal
    e.context = path.isEmpty ? "input" : path
    error = e
  }
}

extension LeafLayer {
  /// In a shape pass, reports this layer and returns a stand-in for its
  /// output without running the kernel; nil in a real pass.
  public func placeholder(for x: Variable) -> Variable? {
    (x.tape.observer as? ShapePass)?.leaf(self, x)
  }
}

extension Layer {
  /// Whether `x` is NCHW with H and W multiples of `k`, as a layer needs whose
  /// branches meet again after pooling and upsampling. When not, a shape pass
  /// records this layer's `ShapeError` (and the caller returns `x` as it is,
  /// merging nothing); a real pass stops with that message.
  public func fits(_ x: Variable, sidesDivisibleBy k: Int) -> Bool {
    let s = x.shape
    if s.rank == 4 && s[2] % k == 0 && s[3] % k == 0 { return true }
    let expected = "[N, C, H, W] with H and W divisible by \(k)"
    guard let pass = x.tape.observer as? ShapePass else { preconditionFailure("\(type(of: self)): expected \(expected), got \(s)") }
    pass.refuse(self, expected: expected, got: s)
    return false
  }
}
