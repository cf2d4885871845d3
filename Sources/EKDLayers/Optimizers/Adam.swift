import EKDTensor
import Foundation

/// Adam (Kingma & Ba 2015) with L2 weight decay added to the gradient, as PyTorch's `Adam`.
///
///   g = ∇ + λ·p;  m = β₁m + (1−β₁)g;  v = β₂v + (1−β₂)g²
///   p −= lr · (m / (1−β₁ᵗ)) / (√(v / (1−β₂ᵗ)) + ε)
public final class Adam: Optimizer {
  public var learningRate: Float
  public let beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float
  /// Completed `step` calls.
  public private(set) var stepCount = 0
  /// Each parameter's moments and its own step count t, as PyTorch keeps them: a
  /// parameter that joins late (the offset network, once the teacher starts) gets
  /// Adam's bias correction for its first steps, not a correction of ~1 with empty
  /// moments (which would make its first updates ~3× the learning rate).
  private var moments: [ObjectIdentifier: (m: Tensor, v: Tensor, t: Int)] = [:]

  public init(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0) {
    self.learningRate = learningRate
    self.beta1 = beta1
    self.beta2 = beta2
    self.epsilon = epsilon
    self.weightDecay = weightDecay
  }

  /// First and second moments and the step count by parameter name (`NAME.exp_avg`,
  /// `NAME.exp_avg_sq`, `NAME.step`: PyTorch's names), for checkpoints; parameters not
  /// yet stepped have none.
  public func state(_ named: [(name: String, parameter: Parameter)]) -> [(String, Tensor)] {
    named.flatMap { n, p -> [(String, Tensor)] in
      guard let m = moments[ObjectIdentifier(p)] else { return [] }
      return [(n + ".exp_avg", m.m), (n + ".exp_avg_sq", m.v), (n + ".step", Tensor(Float(m.t)))]
    }
  }

  /// Restores what `state` saved, and the step count (a parameter saved without its
  /// own `.step`, by an older EKD, takes the shared count).
  public func restore(_ tensors: [String: Tensor], named: [(name: String, parameter: Parameter)], stepCount: Int) {
    self.stepCount = stepCount
    moments = [:]
    for (n, p) in named {
      if let m = tensors[n + ".exp_avg"], let v = tensors[n + ".exp_avg_sq"], m.shape == p.shape, v.shape == p.shape {
        let t = tensors[n + ".step"].map { Int($0.scalar) } ?? stepCount
        moments[ObjectIdentifier(p)] = (m, v, t)
      }
    }
  }

  public func step(_ parameters: [Parameter]) {
    stepCount += 1
    for p in parameters where p.isTrainable {
      let key = ObjectIdentifier(p)
      var (m, v, t) = moments[key] ?? (Tensor(zeros: p.shape), Tensor(zeros: p.shape), 0)
      moments[key] = nil  // keep m, v uniquely referenced so the writes below do not copy
      t += 1
      let c1 = 1 - Foundation.pow(beta1, Float(t)), c2 = 1 - Foundation.pow(beta2, Float(t))
      let pm = m.mutablePointer, pv = v.mutablePointer
      let w = p.value.mutablePointer, g = p.grad.pointer
      let (b1, b2, lr, eps, wd) = (beta1, beta2, learningRate, epsilon, weightDecay)
      for i in 0..<p.value.count {
        let gi = g[i] + wd * w[i]
        pm[i] = b1 * pm[i] + (1 - b1) * gi
        pv[i] = b2 * pv[i] + (1 - b2) * gi * gi
        w[i] -= lr * (pm[i] / c1) / ((pv[i] / c2).squareRoot() + eps)
      }
      moments[key] = (m, v, t)
    }
  }
}
