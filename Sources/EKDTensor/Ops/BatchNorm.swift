/// Batch normalisation over N, H, W for each channel of an NCHW tensor.
///
/// Training (a `.training` tape): batch statistics, biased variance for the
/// normalisation and unbiased for the running average, as PyTorch does:
///   x̂ = (x − μ_B)/√(σ²_B + ε),  y = γ·x̂ + β
///   running ← (1 − momentum)·running + momentum·batch statistic
/// Inference: the running statistics stand in for μ_B, σ²_B.
/// With `relu`, y = max(γ·x̂ + β, 0) in one pass (the pre-activation blocks
/// and conv-BN-ReLU stacks use this; it saves a full read and write).
/// Backward (training), M = N·H·W per channel:
///   dx = γ/(M·√(σ²+ε)) · (M·dy − Σdy − x̂·Σ(dy·x̂)),  dγ = Σ dy·x̂,  dβ = Σ dy
extension Tape {
  public func batchNorm2d(
    _ x: Variable, scale gamma: Variable, shift beta: Variable,
    runningMean: Parameter, runningVariance: Parameter,
    momentum: Float = 0.1, epsilon: Float = 1e-5, relu: Bool = false
  ) -> Variable {
    let xs = x.value
    precondition(xs.shape.rank >= 2, "batchNorm2d wants [N, C, ...], got \(xs.shape)")
    let (n, c) = (xs.shape[0], xs.shape[1])
    let hw = xs.count / max(n * c, 1), m = n * hw
    precondition(gamma.value.count == c && beta.value.count == c && runningMean.value.count == c)
    let useBatch = mode == .training
    var mean = Tensor(uninitialized: [c]), invStd = Tensor(uninitialized: [c])
    var y = Tensor(uninitialized: xs.shape)
    let px = xs.pointer, py = y.mutablePointer, pm = mean.mutablePointer, ps = invStd.mutablePointer
    let pg = gamma.value.pointer, pb = beta.value.pointer
    let rm = runningMean.value.pointer, rv = runningVariance.value.pointer
    var batchVariance = [Float](repeating: 0, count: c)
    batchVariance.withUnsafeMutableBufferPointer { bv in
      Parallel.chunks(c, threads: threads) { channels, _ in
        for ch in channels {
          var mu = Double(rm[ch]), variance = Double(rv[ch])
          if useBatch {
            // Two passes (mean, then squared deviations) keep the variance exact
            // enough in Float32 when |μ| ≫ σ.
            var s = 0.0
            for i in 0..<n {
              let row = px + (i * c + ch) * hw
              var a: Float = 0
              for j in 0..<hw { a += row[j] }
              s += Double(a)
            }
            mu = s / Double(m)
            let muf = Float(mu)
            var s2 = 0.0
            for i in 0..<n {
              let row = px + (i * c + ch) * hw
              var a: Float = 0
              for j in 0..<hw { a += (row[j] - muf) * (row[j] - muf) }
              s2 += Double(a)
            }
            variance = s2 / Double(m)
            bv[ch] = Float(variance)
          }
          let inv = Float(1 / (variance + Double(epsilon)).squareRoot())
          pm[ch] = Float(mu)
          ps[ch] = inv
          let a = pg[ch] * inv, b = pb[ch] - Float(mu) * a
          for i in 0..<n {
            let src = px + (i * c + ch) * hw, dst = py + (i * c + ch) * hw
            if relu {
              for j in 0..<hw { dst[j] = Swift.max(src[j] * a + b, 0) }
            } else {
              for j in 0..<hw { dst[j] = src[j] * a + b }
            }
          }
        }
      }
    }
    if useBatch && updatesRunningStatistics {
      let unbias = m > 1 ? Float(m) / Float(m - 1) : 1
      let wm = runningMean.value.mutablePointer, wv = runningVariance.value.mutablePointer
      for ch in 0..<c {
        wm[ch] = (1 - momentum) * wm[ch] + momentum * pm[ch]
        wv[ch] = (1 - momentum) * wv[ch] + momentum * batchVariance[ch] * unbias
      }
    }
    let workers = threads
    let gammaValue = gamma.value
    let out = y
    return record(y, inputs: [x, gamma, beta]) { dyIn, d in
      // With a fused ReLU, the gradient reaching the normalisation is dy·[y > 0].
      var dy = dyIn
      if relu {
        dy = Tensor(uninitialized: dyIn.shape)
        let g = dyIn.pointer, py = out.pointer, pm = dy.mutablePointer
        Parallel.chunks(dy.count, threads: workers, minimumPerWorker: 1 << 16) { range, _ in
          for i in range { pm[i] = py[i] > 0 ? g[i] : 0 }
        }
      }
      let g = dy.pointer, px = xs.pointer, pm = mean.pointer, ps = invStd.pointer
      let pg = gammaValue.pointer
      let (dx, dgamma, dbeta) = (d[0], d[1], d[2])
      Parallel.chunks(c, threads: workers) { channels, _ in
        for ch in channels {
          let mu = pm[ch], inv = ps[ch]
          var sdy: Float = 0, sdyx: Float = 0
          for i in 0..<n {
            let gr = g + (i * c + ch) * hw, xr = px + (i * c + ch) * hw
            for j in 0..<hw {
              sdy += gr[j]
              sdyx += gr[j] * (xr[j] - mu)
            }
          }
          sdyx *= inv  // Σ dy·x̂
          dgamma?[ch] += sdyx
          dbeta?[ch] += sdy
          guard let dx else { continue }
          let k = pg[ch] * inv
          for i in 0..<n {
            let gr = g + (i * c + ch) * hw, xr = px + (i * c + ch) * hw, dr = dx + (i * c + ch) * hw
            if useBatch {
              let a = k / Float(m), cx = sdyx * inv
              for j in 0..<hw { dr[j] += a * (Float(m) * gr[j] - sdy - (xr[j] - mu) * cx) }
            } else {
              for j in 0..<hw { dr[j] += k * gr[j] }
            }
          }
        }
      }
    }
  }
}
