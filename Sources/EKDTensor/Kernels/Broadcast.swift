/// NumPy-style broadcasting kernels for binary element-wise ops.
///
/// Shapes are aligned at their last axis; an extent of 1 (or a missing leading
/// axis) repeats. Inputs are walked with per-axis strides where a repeated
/// axis has stride 0, one output row (last axis) at a time.
enum Broadcast {
  /// Element strides of `shape` when read as `out` (0 on repeated axes).
  static func strides(of shape: Shape, in out: Shape) -> [Int] {
    let st = shape.strides
    let offset = out.rank - shape.rank
    return (0..<out.rank).map { i in
      i < offset || shape.dimensions[i - offset] == 1 ? 0 : st[i - offset]
    }
  }

  /// Calls `row(outOffset, aOffset, bOffset, length, aStep, bStep)` for every
  /// last-axis row of `out`.
  @inline(__always)
  static func rows(
    _ out: Shape, _ sa: [Int], _ sb: [Int],
    _ row: (Int, Int, Int, Int, Int, Int) -> Void
  ) {
    let r = out.rank
    guard r > 0 else { return row(0, 0, 0, 1, 0, 0) }
    let n = out.dimensions[r - 1]
    guard n > 0 else { return }
    let rowCount = out.count / n
    var index = [Int](repeating: 0, count: r)
    var oa = 0, ob = 0
    for k in 0..<rowCount {
      row(k * n, oa, ob, n, sa[r - 1], sb[r - 1])
      // Odometer over axes 0..<r-1.
      var axis = r - 2
      while axis >= 0 {
        index[axis] += 1
        oa += sa[axis]
        ob += sb[axis]
        if index[axis] < out.dimensions[axis] { break }
        oa -= sa[axis] * index[axis]
        ob -= sb[axis] * index[axis]
        index[axis] = 0
        axis -= 1
      }
    }
  }

  /// out[i] = f(a[·], b[·]) over the broadcast shape.
  @inline(__always)
  static func apply(
    _ a: Tensor, _ b: Tensor, threads: Int, _ f: (Float, Float) -> Float
  ) -> Tensor {
    guard let shape = Shape.broadcast(a.shape, b.shape) else {
      preconditionFailure("shapes \(a.shape) and \(b.shape) do not broadcast")
    }
    var out = Tensor(uninitialized: shape)
    let o = out.mutablePointer, pa = a.pointer, pb = b.pointer
    if a.shape == b.shape {
      Parallel.chunks(shape.count, threads: threads, minimumPerWorker: 1 << 16) { range, _ in
        for i in range { o[i] = f(pa[i], pb[i]) }
      }
    } else if b.count == 1 {
      let s = pb[0]
      for i in 0..<shape.count { o[i] = f(pa[i], s) }
    } else {
      rows(shape, strides(of: a.shape, in: shape), strides(of: b.shape, in: shape)) {
        oo, ia, ib, n, sa, sb in
        for j in 0..<n { o[oo + j] = f(pa[ia + j * sa], pb[ib + j * sb]) }
      }
    }
    return out
  }

  /// da[·] += ga(dy, a, b) and db[·] += gb(dy, a, b), summing over repeated axes.
  @inline(__always)
  static func pullback(
    _ dy: Tensor, _ a: Tensor, _ b: Tensor,
    _ da: UnsafeMutablePointer<Float>?, _ db: UnsafeMutablePointer<Float>?, threads: Int = 1,
    _ ga: (Float, Float, Float) -> Float, _ gb: (Float, Float, Float) -> Float
  ) {
    let g = dy.pointer, pa = a.pointer, pb = b.pointer
    if a.shape == b.shape {
      let n = dy.count
      Parallel.chunks(n, threads: threads, minimumPerWorker: 1 << 16) { range, _ in
        if let da { for i in range { da[i] += ga(g[i], pa[i], pb[i]) } }
        if let db { for i in range { db[i] += gb(g[i], pa[i], pb[i]) } }
      }
      return
    }
    let sa = strides(of: a.shape, in: dy.shape), sb = strides(of: b.shape, in: dy.shape)
    rows(dy.shape, sa, sb) { oo, ia, ib, n, sa, sb in
      for j in 0..<n {
        let x = pa[ia + j * sa], y = pb[ib + j * sb], d = g[oo + j]
        da?[ia + j * sa] += ga(d, x, y)
        db?[ib + j * sb] += gb(d, x, y)
      }
    }
  }
}
