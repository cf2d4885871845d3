/// Loops over one contiguous row of floats, in explicit 16-lane SIMD, for the
/// element-wise passes of batch norm, ReLU and the conv's fused ReLU.
///
/// Written out because the compiler would not vectorise them: a single running
/// sum is one dependent add per element (float adds may not be reordered), which
/// made batch norm a third of a ts500m training step; and a mask written as
/// `y > 0 ? g : 0` stayed scalar, which made backward through BN + ReLU nine
/// times slower than forward. Masks test `y > 0` so that a NaN in y masks too.
enum Rows {
  @inline(__always)
  static func load(_ p: UnsafePointer<Float>) -> SIMD16<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self) }

  @inline(__always)
  static func sum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = SIMD16<Float>(), j = 0
    while j + 16 <= n {
      acc += load(p + j)
      j += 16
    }
    var s = acc.sum()
    while j < n {
      s += p[j]
      j += 1
    }
    return s
  }

  @inline(__always)
  static func squaredDeviations(_ p: UnsafePointer<Float>, _ n: Int, around mu: Float) -> Float {
    var acc = SIMD16<Float>(), j = 0
    let m = SIMD16<Float>(repeating: mu)
    while j + 16 <= n {
      let d = load(p + j) - m
      acc += d * d
      j += 16
    }
    var s = acc.sum()
    while j < n {
      s += (p[j] - mu) * (p[j] - mu)
      j += 1
    }
    return s
  }

  /// (Σ g, Σ g·(x − μ)) over a row, with g = dy masked by y > 0 when `y` is given.
  @inline(__always)
  static func gradientSums(_ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>?, _ n: Int, around mu: Float) -> (Float, Float) {
    var a = SIMD16<Float>(), b = SIMD16<Float>(), j = 0
    let m = SIMD16<Float>(repeating: mu), zero = SIMD16<Float>()
    while j + 16 <= n {
      var gv = load(g + j)
      if let y { gv.replace(with: zero, where: .!(load(y + j) .> zero)) }  // as y > 0 ? g : 0, NaN included
      a += gv
      b += gv * (load(x + j) - m)
      j += 16
    }
    var (sa, sb) = (a.sum(), b.sum())
    while j < n {
      let gj = y.map { $0[j] > 0 ? g[j] : 0 } ?? g[j]
      sa += gj
      sb += gj * (x[j] - mu)
      j += 1
    }
    return (sa, sb)
  }

  /// d += s·g' + bx·(x − μ) + c over a row, with g' = g masked by y > 0 when `y` is given
  /// (x − μ, not bx·x − bx·μ: two large terms that cancel lose digits when |μ| ≫ σ).
  @inline(__always)
  static func accumulate(
    _ g: UnsafePointer<Float>, masking y: UnsafePointer<Float>?, scale s: Float, x: UnsafePointer<Float>?, around mu: Float = 0,
    _ bx: Float, _ c: Float, into d: UnsafeMutablePointer<Float>, _ n: Int
  ) {
    var j = 0
    let zero = SIMD16<Float>(), sv = SIMD16<Float>(repeating: s), bv = SIMD16<Float>(repeating: bx), cv = SIMD16<Float>(repeating: c)
    let mv = SIMD16<Float>(repeating: mu)
    while j + 16 <= n {
      var gv = load(g + j)
      if let y { gv.replace(with: zero, where: .!(load(y + j) .> zero)) }
      var v = load(d + j) + sv * gv + cv
      if let x { v += bv * (load(x + j) - mv) }
      UnsafeMutableRawPointer(d + j).storeBytes(of: v, as: SIMD16<Float>.self)
      j += 16
    }
    while j < n {
      let gj = y.map { $0[j] > 0 ? g[j] : 0 } ?? g[j]
      d[j] += s * gj + (x.map { bx * ($0[j] - mu) } ?? 0) + c
      j += 1
    }
  }

  /// d += g (masked by y > 0 when `y` is given) over a whole tensor, in chunks over `threads`.
  static func accumulate(_ g: Tensor, masking y: Tensor? = nil, into d: UnsafeMutablePointer<Float>, threads: Int) {
    let pg = g.pointer, py = y?.pointer
    Parallel.chunks(g.count, threads: threads, minimumPerWorker: 1 << 16) { range, _ in
      let first = range.lowerBound
      accumulate(pg + first, masking: py.map { $0 + first }, scale: 1, x: nil, 0, 0, into: d + first, range.count)
    }
    withExtendedLifetime((g, y)) {}
  }

  /// g·[y > 0] over a whole tensor, in chunks over `threads`.
  static func mask(_ g: Tensor, by y: Tensor, threads: Int) -> Tensor {
    var d = Tensor(uninitialized: g.shape)
    let (pg, py, pd) = (g.pointer, y.pointer, d.mutablePointer)
    Parallel.chunks(g.count, threads: threads, minimumPerWorker: 1 << 16) { range, _ in
      let first = range.lowerBound
      mask(pg + first, by: py + first, range.count, into: pd + first)
    }
    withExtendedLifetime((g, y)) {}
    return d
  }

  /// d = g·[y > 0].
  @inline(__always)
  static func mask(_ g: UnsafePointer<Float>, by y: UnsafePointer<Float>, _ n: Int, into d: UnsafeMutablePointer<Float>) {
    var j = 0
    let zero = SIMD16<Float>()
    while j + 16 <= n {
      var v = load(g + j)
      v.replace(with: zero, where: .!(load(y + j) .> zero))
      UnsafeMutableRawPointer(d + j).storeBytes(of: v, as: SIMD16<Float>.self)
      j += 16
    }
    while j < n {
      d[j] = y[j] > 0 ? g[j] : 0
      j += 1
    }
  }
}
