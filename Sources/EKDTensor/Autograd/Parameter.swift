/// A named-by-position tensor a model learns (or keeps, like batch-norm
/// running statistics), with its gradient.
///
/// A class, because an optimizer, a checkpoint and a tape must all see the
/// same weights: layers own parameters, everything else refers to them.
public final class Parameter {
  /// How a checkpoint stores the value (PyTorch keeps `num_batches_tracked` as int64).
  public enum StorageType: String, Sendable { case float32, int64 }

  public var value: Tensor
  /// d(loss)/d(value), accumulated by `Tape.backward`; zero it between steps.
  public var grad: Tensor
  /// False for state that is saved but not optimised (running statistics).
  public let isTrainable: Bool
  public let storageType: StorageType

  public init(_ value: Tensor, trainable: Bool = true, storageType: StorageType = .float32) {
    self.value = value
    self.grad = Tensor(zeros: value.shape)
    self.isTrainable = trainable
    self.storageType = storageType
  }

  public var shape: Shape { value.shape }

  public func zeroGradient() {
    grad.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
  }

  package func gradPointer() -> UnsafeMutablePointer<Float> {
    if grad.shape != value.shape { grad = Tensor(zeros: value.shape) }
    return grad.mutablePointer
  }
}
