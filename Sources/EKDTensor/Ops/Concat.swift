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
