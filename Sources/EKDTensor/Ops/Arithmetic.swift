import Foundation

// Element-wise arithmetic with broadcasting, unary maps, and reductions.
// Each op: forward value, then a pullback that accumulates into dx.

extension Variable {
  public static func + (a: Variable, b: Variable) -> Variable {
    let t = a.tape
    let y = Broadcast.apply(a.value, b.value, threads: t.threads) { $0 + $1 }
    let workers = t.threads
    if a.shape == b.shape {
      t.tracer?.traced(.add, inputs: [a.value, b.value], output: y)
      // The pullback holds no operand: a residual branch's output would otherwise live
      // until backward reached the add (one activation per block, for nothing).
      return t.record(y, inputs: [a, b]) { dy, dx in
        for d in dx { if let d { Rows.accumulate(dy, into: d, threads: workers) } }
      }
    }
    let (av, bv) = (a.value, b.value)
    return t.record(y, inputs: [a, b]) { dy, dx in
      Broadcast.pullback(dy, av, bv, dx[0], dx[1], threads: workers, { d, _, _ in d }, { d, _, _ in d })
    }
  }

  public static func - (a: Variable, b: Variable) -> Variable {
    let t = a.tape
    let y = Broadcast.apply(a.value, b.value, threads: t.threads) { $0 - $1 }
    let (av, bv, workers) = (a.value, b.value, t.threads)
    return t.record(y, inputs: [a, b]) { dy, dx in
      Broadcast.pullback(dy, av, bv, dx[0], dx[1], threads: workers, { d, _, _ in d }, { d, _, _ in -d })
    }
  }

  public static func * (a: Variable, b: Variable) -> Variable {
    let t = a.tape
    let y = Broadcast.apply(a.value, b.value, threads: t.threads) { $0 * $1 }
    let (av, bv, workers) = (a.value, b.value, t.threads)
    return t.record(y, inputs: [a, b]) { dy, dx in
      Broadcast.pullback(dy, av, bv, dx[0], dx[1], threads: workers, { d, _, y in d * y }, { d, x, _ in d * x })
    }
  }

  public static func / (a: Variable, b: Variable) -> Variable {
    let t = a.tape
    let y = Broadcast.apply(a.value, b.value, threads: t.threads) { $0 / $1 }
    let (av, bv, workers) = (a.value, b.value, t.threads)
    return t.record(y, inputs: [a, b]) { dy, dx in
      Broadcast.pullback(
        dy, av, bv, dx[0], dx[1], threads: workers, { d, _, y in d / y }, { d, x, y in -d * x / (y * y) })
    }
  }

  public static func * (a: Variable, s: Float) -> Variable { a.map({ $0 * s }, derivative: { _, _ in s }) }
  public static func * (s: Float, a: Variable) -> Variable { a * s }
  public static func + (a: Variable, s: Float) -> Variable { a.map({ $0 + s }, derivative: { _, _ in 1 }) }
  public static func - (a: Variable, s: Float) -> Variable { a + (-s) }
  public static prefix func - (a: Variable) -> Variable { a * -1 }

  /// y = f(x) element-wise, with dy/dx = derivative(x, y).
  @inline(__always)
  public func map(
    _ f: @escaping (Float) -> Float, derivative: @escaping (_ x: Float, _ y: Float) -> Float,
    name: String = #function
  ) -> Variable {
    let x = value, n = value.count
    var y = Tensor(uninitialized: x.shape)
    let px = x.pointer, py = y.mutablePointer
    Parallel.chunks(n, threads: tape.threads, minimumPerWorker: 1 << 16) { range, _ in
      for i in range { py[i] = f(px[i]) }
    }
    let out = y
    return tape.record(y, inputs: [self], name: name) { dy, dx in
      guard let d = dx[0] else { return }
      let g = dy.pointer, px = x.pointer, py = out.pointer
      for i in 0..<n { d[i] += g[i] * derivative(px[i], py[i]) }
    }
  }

  /// max(x, 0), with its own loops: it runs after nearly every conv, so it
  /// must vectorise (a closure per element, as `map` has, does not).
  public func relu() -> Variable {
    let n = value.count
    var y = Tensor(uninitialized: value.shape)
    let px = value.pointer, py = y.mutablePointer
    Parallel.chunks(n, threads: tape.threads, minimumPerWorker: 1 << 16) { range, _ in
      for i in range { py[i] = Swift.max(px[i], 0) }
    }
    tape.tracer?.traced(.relu, inputs: [value], output: y)
    let out = y, workers = tape.threads
    return tape.record(y, inputs: [self]) { dy, dx in
      guard let d = dx[0] else { return }
      Rows.accumulate(dy, masking: out, into: d, threads: workers)
    }
  }
  public func abs() -> Variable { map({ Swift.abs($0) }, derivative: { x, _ in x > 0 ? 1 : (x < 0 ? -1 : 0) }) }
  public func squared() -> Variable { map({ $0 * $0 }, derivative: { x, _ in 2 * x }) }
  public func squareRoot() -> Variable { map({ $0.squareRoot() }, derivative: { _, y in 0.5 / y }) }
  public func exp() -> Variable { map({ Foundation.exp($0) }, derivative: { _, y in y }) }
  public func log() -> Variable { map({ Foundation.log($0) }, derivative: { x, _ in 1 / x }) }
  public func sigmoid() -> Variable {
    map({ 1 / (1 + Foundation.exp(-$0)) }, derivative: { _, y in y * (1 - y) })
  }

  /// Sum of all elements, as a rank-0 tensor.
  public func sum() -> Variable {
    let x = value
    var acc: Double = 0
    x.withUnsafeBufferPointer { for v in $0 { acc += Double(v) } }
    return tape.record(Tensor(Float(acc)), inputs: [self]) { dy, dx in
      guard let d = dx[0] else { return }
      let g = dy.scalar
      for i in 0..<x.count { d[i] += g }
    }
  }

  /// Mean of all elements, as a rank-0 tensor.
  public func mean() -> Variable { sum() * (1 / Float(Swift.max(value.count, 1))) }

  /// Sum along one axis, which is removed (or kept with extent 1).
  public func sum(alongAxis axis: Int, keepingAxis: Bool = false) -> Variable {
    let x = value, r = x.shape.rank
    let a = axis < 0 ? r + axis : axis
    precondition(a >= 0 && a < r, "axis \(axis) for shape \(x.shape)")
    let outer = x.shape.dimensions[..<a].reduce(1, *)
    let n = x.shape[a]
    let inner = x.shape.dimensions[(a + 1)...].reduce(1, *)
    var dims = x.shape.dimensions
    if keepingAxis { dims[a] = 1 } else { dims.remove(at: a) }
    var y = Tensor(zeros: Shape(dims))
    let px = x.pointer, py = y.mutablePointer
    for o in 0..<outer {
      for k in 0..<n {
        let src = px + (o * n + k) * inner, dst = py + o * inner
        for i in 0..<inner { dst[i] += src[i] }
      }
    }
    return tape.record(y, inputs: [self]) { dy, dx in
      guard let d = dx[0] else { return }
      let g = dy.pointer
      for o in 0..<outer {
        for k in 0..<n {
          let dst = d + (o * n + k) * inner, src = g + o * inner
          for i in 0..<inner { dst[i] += src[i] }
        }
      }
    }
  }

  /// The same values with another shape of equal count.
  public func reshaped(_ shape: Shape) -> Variable {
    let y = value.reshaped(shape)
    return tape.record(y, inputs: [self]) { dy, dx in
      guard let d = dx[0] else { return }
      let g = dy.pointer
      for i in 0..<dy.count { d[i] += g[i] }
    }
  }

  /// [N, ...] → [N, product of the rest].
  public func flattened() -> Variable {
    reshaped([shape[0], shape.count / Swift.max(shape[0], 1)])
  }
}
