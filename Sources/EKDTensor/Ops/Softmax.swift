import Foundation

/// Softmax over the last axis: y = exp(x − max x) / Σ exp(x − max x).
/// Pullback: dx = y ⊙ (dy − Σ dy·y), row by row.
extension Tape {
  public func softmax(_ x: Variable) -> Variable {
    let xs = x.value
    let n = xs.shape.rank == 0 ? 1 : xs.shape[-1]
    let rows = xs.count / max(n, 1)
    var y = Tensor(uninitialized: xs.shape)
    let px = xs.pointer, py = y.mutablePointer
    Parallel.chunks(rows, threads: threads, minimumPerWorker: 64) { range, _ in
      for r in range { softmaxRow(px + r * n, n, into: py + r * n) }
    }
    let out = y
    return record(y, inputs: [x]) { dy, d in
      guard let dx = d[0] else { return }
      let g = dy.pointer, py = out.pointer
      for r in 0..<rows {
        var dot: Float = 0
        for j in 0..<n { dot += g[r * n + j] * py[r * n + j] }
        for j in 0..<n { dx[r * n + j] += py[r * n + j] * (g[r * n + j] - dot) }
      }
    }
  }
}

/// One row's softmax, y = exp(x − max x) / Σ exp(x − max x), for `softmax` and the heatmap
/// loss alike. Returns log Σ exp(x), the row's log-partition, which that loss's KL needs.
@discardableResult
package func softmaxRow(_ x: UnsafePointer<Float>, _ n: Int, into y: UnsafeMutablePointer<Float>) -> Float {
  var m = -Float.infinity
  for j in 0..<n { m = max(m, x[j]) }
  var s: Float = 0
  for j in 0..<n {
    y[j] = Foundation.exp(x[j] - m)
    s += y[j]
  }
  let inv = 1 / s
  for j in 0..<n { y[j] *= inv }
  return m + Foundation.log(s)
}
