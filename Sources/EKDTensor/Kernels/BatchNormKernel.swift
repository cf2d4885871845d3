/// Batch normalisation over N, H, W for each channel of an NCHW tensor.
///
/// Training: batch statistics, biased variance for the normalisation and
/// unbiased for the running average, as PyTorch does:
///   x̂ = (x − μ_B)/√(σ²_B + ε),  y = γ·x̂ + β
///   running ← (1 − momentum)·running + momentum·batch statistic
/// Inference: the running statistics stand in for μ_B, σ²_B.
/// With `relu`, y = max(γ·x̂ + β, 0) in one pass (the pre-activation blocks
/// and conv-BN-ReLU stacks use this; it saves a full read and write). With a
/// `residual` r as well, y = max(γ·x̂ + β + r, 0): the end of a ResNet block,
/// whose add and ReLU would be two more passes.
/// Backward (training), M = N·H·W per channel:
///   dx = γ/(M·√(σ²+ε)) · (M·dy − Σdy − x̂·Σ(dy·x̂)),  dγ = Σ dy·x̂,  dβ = Σ dy
///
/// Channels are independent, so they are split over workers. Sums run in
/// Float along a row and in Double across rows.
///
/// Synchronised (a `ReplicaGroup`, in data-parallel training): the statistics
/// are the global batch's. Forward sums each channel's values and count over all
/// replicas, then its squared deviations from the global mean (two passes, as
/// alone); backward sums Σdy and Σdy·x̂ over all replicas for dx. dγ and dβ stay
/// local: the gradient all-reduce that follows sums them.
public enum BatchNormKernel {
  /// What forward normalised with: backward needs it, and so do the running
  /// averages after a training step.
  public struct Statistics {
    /// μ and 1/√(σ² + ε) per channel, as applied.
    public var mean: Tensor, invStd: Tensor
    /// The biased batch variance per channel; zeros unless `isBatch`.
    public var batchVariance: [Float]
    /// Whether μ, σ² came from the batch (training) or the running averages.
    public var isBatch: Bool
    /// M = N·H·W, the values behind each channel's statistics.
    public var count: Int
  }

  /// Normalises `x` with its batch statistics (`useBatch`) or the running ones.
  public static func forward(
    _ x: Tensor, scale gamma: Tensor, shift beta: Tensor, runningMean: Tensor, runningVariance: Tensor,
    useBatch: Bool, epsilon: Float, relu: Bool, residual: Tensor? = nil, threads: Int, replicas: (any ReplicaGroup)? = nil
  ) -> (y: Tensor, statistics: Statistics) {
    precondition(residual == nil || residual!.shape == x.shape, "batch norm residual \(residual!.shape) for input \(x.shape)")
    let (n, c) = (x.shape[0], x.shape[1])
    let hw = x.count / max(n * c, 1)
    var m = n * hw
    let global = useBatch ? replicas.map { globalStatistics(x, replicas: $0, threads: threads) } : nil
    if let global { m = global.count }
    var mean = Tensor(uninitialized: [c]), invStd = Tensor(uninitialized: [c])
    var y = Tensor(uninitialized: x.shape)
    let px = x.pointer, py = y.mutablePointer, pm = mean.mutablePointer, ps = invStd.mutablePointer
    let pg = gamma.pointer, pb = beta.pointer, pr = residual?.pointer
    let rm = runningMean.pointer, rv = runningVariance.pointer
    var batchVariance = [Float](repeating: 0, count: c)
    batchVariance.withUnsafeMutableBufferPointer { bv in
      Parallel.chunks(c, threads: threads) { channels, _ in
        for ch in channels {
          var mu = Double(rm[ch]), variance = Double(rv[ch])
          if let global {
            (mu, variance) = (global.mean[ch], global.variance[ch])
            bv[ch] = Float(variance)
          } else if useBatch {
            // Two passes (mean, then squared deviations) keep the variance exact
            // enough in Float32 when |μ| ≫ σ.
            mu = channelSum(px, channel: ch, n: n, c: c, hw: hw) / Double(m)
            variance = channelSum(px, channel: ch, n: n, c: c, hw: hw, around: Float(mu)) / Double(m)
            bv[ch] = Float(variance)
          }
          let inv = Float(1 / (variance + Double(epsilon)).squareRoot())
          pm[ch] = Float(mu)
          ps[ch] = inv
          let a = pg[ch] * inv, b = pb[ch] - Float(mu) * a
          for i in 0..<n {
            let src = px + (i * c + ch) * hw, dst = py + (i * c + ch) * hw
            if let pr {
              let res = pr + (i * c + ch) * hw
              if relu {
                for j in 0..<hw { dst[j] = Swift.max(src[j] * a + b + res[j], 0) }
              } else {
                for j in 0..<hw { dst[j] = src[j] * a + b + res[j] }
              }
            } else if relu {
              for j in 0..<hw { dst[j] = Swift.max(src[j] * a + b, 0) }
            } else {
              for j in 0..<hw { dst[j] = src[j] * a + b }
            }
          }
        }
      }
    }
    withExtendedLifetime(residual) {}
    return (y, Statistics(mean: mean, invStd: invStd, batchVariance: batchVariance, isBatch: useBatch, count: m))
  }

  /// Mean and biased variance per channel over every replica's batch, and the
  /// values behind them (M summed over replicas).
  static func globalStatistics(_ x: Tensor, replicas: any ReplicaGroup, threads: Int) -> (mean: [Double], variance: [Double], count: Int) {
    let (n, c) = (x.shape[0], x.shape[1])
    let hw = x.count / max(n * c, 1), px = x.pointer
    // Channel sums, and this replica's count in the last slot.
    var sums = [Double](repeating: 0, count: c + 1)
    sums.withUnsafeMutableBufferPointer { s in
      Parallel.chunks(c, threads: threads) { channels, _ in
        for ch in channels { s[ch] = channelSum(px, channel: ch, n: n, c: c, hw: hw) }
      }
      s[c] = Double(n * hw)
    }
    replicas.sum(&sums)
    let count = Int(sums[c].rounded())
    let mean = (0..<c).map { sums[$0] / Double(max(count, 1)) }
    var squares = [Double](repeating: 0, count: c)
    squares.withUnsafeMutableBufferPointer { s in
      Parallel.chunks(c, threads: threads) { channels, _ in
        for ch in channels { s[ch] = channelSum(px, channel: ch, n: n, c: c, hw: hw, around: Float(mean[ch])) }
      }
    }
    replicas.sum(&squares)
    return (mean, squares.map { $0 / Double(max(count, 1)) }, count)
  }

  /// Σ x over one channel of an NCHW buffer, or Σ (x − μ)² with `around` μ:
  /// in Float along each row (16 lanes), in Double across rows.
  @inline(__always)
  static func channelSum(_ px: UnsafePointer<Float>, channel ch: Int, n: Int, c: Int, hw: Int, around mu: Float? = nil) -> Double {
    var total = 0.0
    for i in 0..<n {
      let row = px + (i * c + ch) * hw
      total += Double(mu.map { Rows.squaredDeviations(row, hw, around: $0) } ?? Rows.sum(row, hw))
    }
    return total
  }

  /// Moves the running averages toward a batch's statistics.
  public static func updateRunning(
    mean wm: UnsafeMutablePointer<Float>, variance wv: UnsafeMutablePointer<Float>,
    toward batch: Statistics, momentum: Float
  ) {
    precondition(batch.isBatch, "running averages move toward batch statistics only")
    let m = batch.count
    let unbias = m > 1 ? Float(m) / Float(m - 1) : 1
    let pm = batch.mean.pointer
    for ch in 0..<batch.batchVariance.count {
      wm[ch] = (1 - momentum) * wm[ch] + momentum * pm[ch]
      wv[ch] = (1 - momentum) * wv[ch] + momentum * batch.batchVariance[ch] * unbias
    }
  }

  /// Accumulates dX, dγ, dβ and d(residual) (each optional) for dY.
  ///
  /// - Parameter reluOutput: forward's output when it fused a ReLU (its sign
  ///   masks dy); nil otherwise.
  public static func backward(
    _ dyIn: Tensor, input x: Tensor, scale gamma: Tensor, statistics: Statistics, reluOutput: Tensor?, threads: Int,
    replicas: (any ReplicaGroup)? = nil,
    dx: UnsafeMutablePointer<Float>?, dscale dgamma: UnsafeMutablePointer<Float>?, dshift dbeta: UnsafeMutablePointer<Float>?,
    dresidual: UnsafeMutablePointer<Float>? = nil
  ) {
    let (n, c) = (x.shape[0], x.shape[1])
    let hw = x.count / max(n * c, 1), m = statistics.count, useBatch = statistics.isBatch
    // With a fused ReLU, the gradient reaching the normalisation is dy·[y > 0]: the
    // mask is applied on the fly in both passes (no masked copy of dy).
    let dy = dyIn, pr = reluOutput?.pointer
    let g = dy.pointer, px = x.pointer, pm = statistics.mean.pointer, ps = statistics.invStd.pointer
    let pg = gamma.pointer
    // Σdy and Σdy·x̂ per channel: this process's go to dβ and dγ (the gradient
    // all-reduce sums them over replicas); dx needs the global batch's.
    var sums = [Double](repeating: 0, count: 2 * c)
    sums.withUnsafeMutableBufferPointer { s in
      Parallel.chunks(c, threads: threads) { channels, _ in
        for ch in channels {
          let mu = pm[ch]
          var sdy: Float = 0, sdyx: Float = 0
          for i in 0..<n {
            let o = (i * c + ch) * hw
            let (a, b) = Rows.gradientSums(g + o, px + o, pr.map { $0 + o }, hw, around: mu)
            sdy += a
            sdyx += b
          }
          sdyx *= ps[ch]  // Σ dy·x̂
          dgamma?[ch] += sdyx
          dbeta?[ch] += sdy
          (s[ch], s[c + ch]) = (Double(sdy), Double(sdyx))
        }
      }
    }
    if let replicas, useBatch, dx != nil { replicas.sum(&sums) }
    guard dx != nil || dresidual != nil else { return }
    let totals = sums
    Parallel.chunks(c, threads: threads) { channels, _ in
      for ch in channels {
        let mu = pm[ch], inv = ps[ch]
        let (sdy, sdyx) = (Float(totals[ch]), Float(totals[c + ch]))
        let k = pg[ch] * inv
        for i in 0..<n {
          let o = (i * c + ch) * hw
          let gr = g + o, xr = px + o
          let yr = pr.map { $0 + o }
          if let rr = dresidual.map({ $0 + o }) { Rows.accumulate(gr, masking: yr, scale: 1, x: nil, 0, 0, into: rr, hw) }
          guard let dr = dx.map({ $0 + o }) else { continue }
          if useBatch {
            // a·(M·g − Σg − (x − μ)·cx) = (a·M)·g − (a·cx)·(x − μ) − a·Σg
            let a = k / Float(m), cx = sdyx * inv
            Rows.accumulate(gr, masking: yr, scale: a * Float(m), x: xr, around: mu, -a * cx, -a * sdy, into: dr, hw)
          } else {
            Rows.accumulate(gr, masking: yr, scale: k, x: nil, 0, 0, into: dr, hw)
          }
        }
      }
    }
    withExtendedLifetime((dy, reluOutput)) {}
  }
}
