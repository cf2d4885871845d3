/// A tensor as seen by a tape: its value, and where its gradient will go.
///
/// `id` is the tape slot of the value, or -1 for a constant that takes no
/// gradient (and for everything on an inference tape).
public struct Variable {
  public let value: Tensor
  public let id: Int
  public let tape: Tape

  public var shape: Shape { value.shape }
  /// Whether backward will compute a gradient for this value.
  public var requiresGradient: Bool { id >= 0 }
}
