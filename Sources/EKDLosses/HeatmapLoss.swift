import EKDTensor
import Foundation

/// Explicit 2D supervision of the heatmaps (hand-model.md §7, "auxiliary supervision").
///
/// The soft-argmax position loss alone gives a near-uniform softmax almost no
/// gradient toward a peak: moving mass from the centre to the joint changes the
/// expected position only a little, so an untrained student hedges and its
/// joints collapse toward the middle of the crop. A Gaussian target at the true
/// (u, v), compared with the softmax by KL divergence, pulls the mass to the
/// joint directly, as DetNet and SimpleBaseline supervise their heatmaps. KL of
/// the softmax (not an MSE on raw maps) keeps the term consistent with the
/// decode: at its optimum the soft-argmax is the target's centre.
public enum HeatmapTargets {
  /// Normalised Gaussians [B, J, h, w] centred on `uvz[b, j, 0...1]` (crop pixels),
  /// mapped to head pixels by the inverse of decode25D's x ↦ (x + ½)·W/w − ½.
  /// `sigma` is in head pixels. A joint whose Gaussian has (almost) no mass
  /// on the map gets an all-zero target: it adds no loss and no gradient.
  public static func gaussians(uvz: Tensor, height h: Int, width w: Int, cropWidth: Int, cropHeight: Int, sigma: Float) -> Tensor {
    let s = uvz.shape
    precondition(s.rank == 3 && s[2] >= 2, "HeatmapTargets.gaussians wants [B, J, ≥2], got \(s)")
    let (b, j) = (s[0], s[1])
    let sx = Float(w) / Float(cropWidth), sy = Float(h) / Float(cropHeight)
    let inv2s2 = 1 / (2 * sigma * sigma)
    let p = uvz.scalars
    var out = [Float](repeating: 0, count: b * j * h * w)
    for m in 0..<(b * j) {
      let cx = (p[m * s[2]] + 0.5) * sx - 0.5, cy = (p[m * s[2] + 1] + 0.5) * sy - 0.5
      guard cx.isFinite, cy.isFinite else { continue }
      let gx = (0..<w).map { Foundation.exp(-(Float($0) - cx) * (Float($0) - cx) * inv2s2) }
      let gy = (0..<h).map { Foundation.exp(-(Float($0) - cy) * (Float($0) - cy) * inv2s2) }
      // Mass on the map relative to a whole Gaussian's (2πσ²): below 1e-6 the joint is off the map.
      let total = gx.reduce(0, +) * gy.reduce(0, +)
      guard total > 1e-6 * 2 * Float.pi * sigma * sigma else { continue }
      let o = m * h * w
      for y in 0..<h {
        for x in 0..<w { out[o + y * w + x] = gx[x] * gy[y] / total }
      }
    }
    return Tensor(shape: [b, j, h, w], scalars: out)
  }
}

extension Tape {
  /// Σ over joints of KL(T ‖ softmax(H)) per sample, mean over the batch.
  /// `logits`: [B, J, h, w] heatmap logits; `target`: [B, J, h, w], each map
  /// summing to 1 (or all zero: no supervision for that joint). Zero exactly
  /// when softmax(H) = T. Pullback: softmax(H)·ΣT − T per map.
  public func heatmapLoss(_ logits: Variable, target: Tensor) -> Variable {
    let s = logits.shape
    precondition(s.rank == 4 && target.shape == s, "heatmapLoss wants logits and target of one [B, J, h, w] shape, got \(s), \(target.shape)")
    let maps = s[0] * s[1], n = s[2] * s[3]
    let (logitsValue, x, t) = (logits.value, logits.value.pointer, target.pointer)
    var probabilities = Tensor(uninitialized: s)
    var mass = [Float](repeating: 0, count: maps), kls = [Float](repeating: 0, count: maps)
    let p = probabilities.mutablePointer
    mass.withUnsafeMutableBufferPointer { mass in
      kls.withUnsafeMutableBufferPointer { kls in
        Parallel.chunks(maps, threads: threads, minimumPerWorker: 16) { range, _ in
          for m in range {
            let (xm, tm, pm) = (x + m * n, t + m * n, p + m * n)
            let logZ = softmaxRow(xm, n, into: pm)
            var (klm, massm): (Float, Float) = (0, 0)
            for i in 0..<n where tm[i] > 0 {
              klm += tm[i] * (Foundation.log(tm[i]) - (xm[i] - logZ))
              massm += tm[i]
            }
            (mass[m], kls[m]) = (massm, klm)
          }
        }
      }
    }
    withExtendedLifetime((logitsValue, target)) {}
    let total = kls.reduce(0.0) { $0 + Double($1) }
    let scale = 1 / Float(max(s[0], 1))
    let probabilitiesValue = probabilities
    return record(Tensor(Float(total) * scale), inputs: [logits]) { dy, d in
      guard let dx = d[0] else { return }
      let (g, p, t) = (dy.scalar * scale, probabilitiesValue.pointer, target.pointer)
      for m in 0..<maps where mass[m] > 0 {
        let o = m * n
        for i in 0..<n { dx[o + i] += g * (p[o + i] * mass[m] - t[o + i]) }
      }
      withExtendedLifetime((probabilitiesValue, target)) {}
    }
  }
}
