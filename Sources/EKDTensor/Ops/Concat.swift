/// Concatenation along one axis (the channel axis of NCHW by default).
///
/// Viewed as [outer, extent_i · inner] blocks: each input contributes one
/// contiguous run per outer index, so forward and backward are block copies.
extension Tape {
  public func concat(_ xs: [Variable], axis: Int = 1) -> Variable {
    precondition(!xs.isEmpty, "concat of nothing")
    let first = xs[0].shape
    let a = axis < 0 ? first.rank + axis : axis
    for x in xs {
      precondition(
        x.shape.rank == first.rank
          && (0..<first.rank).allSatisfy { $0 == a || x.shape[$0] == first[$0] },
        "concat along \(axis): \(x.shape) does not match \(first)")
    }
    let outer = first.dimensions[..<a].reduce(1, *)
    let inner = first.dimensions[(a + 1)...].reduce(1, *)
    let runs = xs.map { $0.shape[a] * inner }
    let total = runs.reduce(0, +)
    var dims = first.dimensions
    dims[a] = xs.map { $0.shape[a] }.reduce(0, +)
    var y = Tensor(uninitialized: Shape(dims))
    let py = y.mutablePointer
    var offset = 0
    for (x, run) in zip(xs, runs) {
      let px = x.value.pointer
      for o in 0..<outer { (py + o * total + offset).update(from: px + o * run, count: run) }
      offset += run
    }
    tracer?.traced(.concat(axis: a), inputs: xs.map(\.value), output: y)
    return record(y, inputs: xs) { dy, d in
      let g = dy.pointer
      var offset = 0
      for (k, run) in runs.enumerated() {
        if let dx = d[k] {
          for o in 0..<outer {
            let src = g + o * total + offset, dst = dx + o * run
            for j in 0..<run { dst[j] += src[j] }
          }
        }
        offset += run
      }
    }
  }
}

extension Tape {
  /// x[…, range, …] along one axis: the inverse of `concat` (splits a head's
  /// 42 channels into heatmaps and depths, for example).
  public func slice(_ x: Variable, axis: Int = 1, _ range: Range<Int>) -> Variable {
    let s = x.shape
    let a = axis < 0 ? s.rank + axis : axis
    precondition(a >= 0 && a < s.rank && range.lowerBound >= 0 && range.upperBound <= s[a], "slice \(range) of axis \(axis) in \(s)")
    let outer = s.dimensions[..<a].reduce(1, *), inner = s.dimensions[(a + 1)...].reduce(1, *)
    let run = range.count * inner, total = s[a] * inner, offset = range.lowerBound * inner
    var dims = s.dimensions
    dims[a] = range.count
    var y = Tensor(uninitialized: Shape(dims))
    let px = x.value.pointer, py = y.mutablePointer
    for o in 0..<outer { (py + o * run).update(from: px + o * total + offset, count: run) }
    return record(y, inputs: [x]) { dy, d in
      guard let dx = d[0] else { return }
      let g = dy.pointer
      for o in 0..<outer {
        let dst = dx + o * total + offset, src = g + o * run
        for j in 0..<run { dst[j] += src[j] }
      }
    }
  }
}
