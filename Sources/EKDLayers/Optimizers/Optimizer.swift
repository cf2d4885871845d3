import EKDTensor

/// Updates parameters from their accumulated gradients.
///
/// Per-parameter state (momentum, moments) is keyed by the parameter's
/// identity, so one optimizer serves any set of parameters; `learningRate` is
/// a plain property that a schedule sets before each step.
public protocol Optimizer: AnyObject {
  var learningRate: Float { get set }
  /// One update of every trainable parameter in `parameters`.
  func step(_ parameters: [Parameter])
}
