import EKDTensor

/// Stochastic gradient descent with momentum and L2 weight decay, as PyTorch's `SGD`.
///
///   g = ∇ + λ·p;  v = μ·v + g (v = g on the first step);
///   p −= lr·(nesterov ? g + μ·v : v)
public final class SGD: Optimizer {
  public var learningRate: Float
  public let momentum: Float
  public let weightDecay: Float
  public let nesterov: Bool
  private var velocity: [ObjectIdentifier: Tensor] = [:]

  public init(learningRate: Float, momentum: Float = 0, weightDecay: Float = 0, nesterov: Bool = false) {
    self.learningRate = learningRate
    self.momentum = momentum
    self.weightDecay = weightDecay
    self.nesterov = nesterov
  }

  public func step(_ parameters: [Parameter]) {
    for p in parameters where p.isTrainable {
      let n = p.value.count
      let w = p.value.mutablePointer, g = p.grad.pointer
      let (lr, mu, wd) = (learningRate, momentum, weightDecay)
      guard mu != 0 else {
        for i in 0..<n { w[i] -= lr * (g[i] + wd * w[i]) }
        continue
      }
      let key = ObjectIdentifier(p)
      let first = velocity[key] == nil
      if first { velocity[key] = Tensor(zeros: p.shape) }
      let v = velocity[key]!.mutablePointer
      for i in 0..<n {
        let gi = g[i] + wd * w[i]
        v[i] = first ? gi : mu * v[i] + gi
        w[i] -= lr * (nesterov ? gi + mu * v[i] : v[i])
      }
    }
  }
}
