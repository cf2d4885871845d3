/// An op as an exporter sees it: what it computes, with the constants it uses.
///
/// Only the ops a student's inference graph is made of are traced. A model that
/// uses any other op cannot be exported, and the exporter says which value it
/// could not account for.
public enum TracedOp {
  case conv2d(weight: Tensor, bias: Tensor?, geometry: ConvGeometry)
  /// Inference batch norm with running statistics, and whether a ReLU is fused in.
  case batchNorm2d(scale: Tensor, shift: Tensor, mean: Tensor, variance: Tensor, epsilon: Float, relu: Bool)
  case relu
  /// Element-wise sum of two tensors of one shape.
  case add
  case concat(axis: Int)
  case maxPool2d(geometry: ConvGeometry, ceilMode: Bool)
  /// Padding counted as zeros.
  case avgPool2d(geometry: ConvGeometry)
  case globalAvgPool2d
  case upsampleNearest2d(scale: Int)
}

/// Watches the traced ops of an inference tape (`Tape.tracer`), after each has
/// computed its output: how `ekd export` turns a forward pass into a graph
/// without a second definition of each network.
public protocol OpTracer: AnyObject {
  func traced(_ op: TracedOp, inputs: [Tensor], output: Tensor)
}

extension Tensor {
  /// Which buffer holds the values: an exporter's name for a traced value (valid
  /// while the tensor is kept alive).
  package var storageIdentity: ObjectIdentifier { ObjectIdentifier(storage) }
}
