import EKDTensor

/// Batch normalisation with learned scale and shift and running statistics.
///
/// A `.training` tape normalises with batch statistics (and updates the
/// running ones unless the tape says not to); an `.inference` tape uses the
/// running statistics. State names follow PyTorch: weight, bias,
/// running_mean, running_var, num_batches_tracked.
public final class BatchNorm2d: LeafLayer {
  public let weight: Parameter
  public let bias: Parameter
  public let runningMean: Parameter
  public let runningVariance: Parameter
  public let batchesTracked: Parameter
  public let momentum: Float
  public let epsilon: Float

  public init(_ channels: Int, momentum: Float = 0.1, epsilon: Float = 1e-5) {
    weight = Parameter(Tensor(repeating: 1, shape: [channels]))
    bias = Parameter(Tensor(zeros: [channels]))
    runningMean = Parameter(Tensor(zeros: [channels]), trainable: false)
    runningVariance = Parameter(Tensor(repeating: 1, shape: [channels]), trainable: false)
    batchesTracked = Parameter(Tensor(zeros: []), trainable: false, storageType: .int64)
    self.momentum = momentum
    self.epsilon = epsilon
  }

  public var channels: Int { weight.shape[0] }

  public func callAsFunction(_ x: Variable) -> Variable { self(x, relu: false) }

  /// BN followed by ReLU, fused into one pass (same result as `ReLU()(bn(x))`);
  /// with `residual`, ReLU(bn(x) + residual), a ResNet block's end.
  public func callAsFunction(_ x: Variable, relu: Bool, residual: Variable? = nil) -> Variable {
    if let y = placeholder(for: x) { return y }
    let t = x.tape
    if t.isRecording && t.updatesRunningStatistics { batchesTracked.value[flat: 0] += 1 }
    return t.batchNorm2d(
      x, scale: t.variable(weight), shift: t.variable(bias), runningMean: runningMean,
      runningVariance: runningVariance, momentum: momentum, epsilon: epsilon, relu: relu, residual: residual)
  }

  public func visitParameters(_ visit: (String, Parameter) -> Void) {
    visit("weight", weight)
    visit("bias", bias)
    visit("running_mean", runningMean)
    visit("running_var", runningVariance)
    visit("num_batches_tracked", batchesTracked)
  }

  public var kind: String { "BatchNorm2d(\(channels))" }

  public func shape(for input: Shape) throws(ShapeError) -> (output: Shape, macs: Int) {
    try requireImage(input, channels: channels)
    return (input, 0)
  }
}
