import EKDTensor
import Foundation

/// Adam (Kingma & Ba 2015) with L2 weight decay added to the gradient, as PyTorch's `Adam`.
///
///   g = ∇ + λ·p;  m = β₁m + (1−β₁)g;  v = β₂v + (1−β₂)g²
///   p −= lr · (m / (1−β₁ᵗ)) / (√(v / (1−β₂ᵗ)) + ε)
public final class Adam: Optimizer {
  public var learningRate: Float
  public let beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float
  /// Completed steps (t), shared by all parameters.
  public private(set) var stepCount = 0
  private var moments: [ObjectIdentifier: (m: Tensor, v: Tensor)] = [:]

  public init(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0) {
    self.learningRate = learningRate
    self.beta1 = beta1
    self.beta2 = beta2
    self.epsilon = epsilon
    self.weightDecay = weightDecay
  }

  /// First and second moments by parameter name (`NAME.exp_avg`, `NAME.exp_avg_sq`, PyTorch's
  /// names), for checkpoints; parameters not yet stepped have none.
  public func state(_ named: [(name: String, parameter: Parameter)]) -> [(String, Tensor)] {
    named.flatMap { n, p -> [(String, Tensor)] in
      guard let m = moments[ObjectIdentifier(p)] else { return [] }
      return [(n + ".exp_avg", m.m), (n + ".exp_avg_sq", m.v)]
    }
  }

  /// Restores what `state` saved, and the step count.
  public func restore(_ tensors: [String: Tensor], named: [(name: String, parameter: Parameter)], stepCount: Int) {
    self.stepCount = stepCount
    moments = [:]
    for (n, p) in named {
      if let m = tensors[n + ".exp_avg"], let v = tensors[n + ".exp_avg_sq"], m.shape == p.shape, v.shape == p.shape {
        moments[ObjectIdentifier(p)] = (m, v)
      }
    }
  }

  public func step(_ parameters: [Parameter]) {
    stepCount += 1
    let t = Float(stepCount)
    let c1 = 1 - Foundation.pow(beta1, t), c2 = 1 - Foundation.pow(beta2, t)
    for p in parameters where p.isTrainable {
      let key = ObjectIdentifier(p)
      var (m, v) = moments[key] ?? (Tensor(zeros: p.shape), Tensor(zeros: p.shape))
      moments[key] = nil  // keep m, v uniquely referenced so the writes below do not copy
      let pm = m.mutablePointer, pv = v.mutablePointer
      let w = p.value.mutablePointer, g = p.grad.pointer
      let (b1, b2, lr, eps, wd) = (beta1, beta2, learningRate, epsilon, weightDecay)
      for i in 0..<p.value.count {
        let gi = g[i] + wd * w[i]
        pm[i] = b1 * pm[i] + (1 - b1) * gi
        pv[i] = b2 * pv[i] + (1 - b2) * gi * gi
        w[i] -= lr * (pm[i] / c1) / ((pv[i] / c2).squareRoot() + eps)
      }
      moments[key] = (m, v)
    }
  }
}
