import EKDTensor

/// Finite-difference gradient checking, after Caffe's `GradientChecker`.
///
/// The objective is a random projection L = Σ rᵢ·yᵢ (r seeded, accumulated in
/// Double), never a plain Σy: batch norm's d(Σy)/dx is identically zero, so a
/// backward that returned zeros would pass a sum. Analytic gradients come from
/// one `backward(seed: r)`; numeric ones from central differences
/// (L(x + h) − L(x − h)) / 2h at sampled coordinates that always include the
/// first and last elements, where padding bugs live.
///
/// Tolerance: |analytic − numeric| ≤ τ · max(floor, |analytic|, |numeric|): relative,
/// with a small absolute floor. Caffe's floor of 1 made the test absolute below 1, so
/// a pullback returning zeros for gradients of 0.004 passed at τ = 2e-2. Float32
/// forward passes with h = 1e-2 resolve ~1e-4, so the floor is 1e-2 (τ·floor ≈ 1e-4
/// at τ = 1e-2): correct kernels pass, and a zero, halved or doubled gradient fails
/// down to gradients of ~1e-3. It is agreement of one directional derivative per
/// coordinate, not an elementwise closeness of tensors.
public struct GradientCheck {
  public struct Mismatch: CustomStringConvertible {
    public var what: String
    public var index: Int
    public var analytic: Double
    public var numeric: Double
    public var description: String { "\(what)[\(index)]: analytic \(analytic), numeric \(numeric)" }
  }

  public var step: Float = 1e-2
  public var tolerance: Double = 1e-2
  /// The absolute floor of the relative test (see the type's documentation).
  public var floor: Double = 1e-2
  /// Coordinates probed per tensor (all of them when the tensor is smaller).
  public var samplesPerTensor = 24
  public var seed: UInt64 = 0x5EED
  public var threads = 1

  public init(step: Float = 1e-2, tolerance: Double = 1e-2, samplesPerTensor: Int = 24, threads: Int = 1) {
    self.step = step
    self.tolerance = tolerance
    self.samplesPerTensor = samplesPerTensor
    self.threads = threads
  }

  /// Compares tape gradients of `f` with central differences, for every input
  /// and every trainable parameter. Returns the mismatches (empty = pass) and
  /// the number of coordinates probed.
  public func check(
    inputs: [Tensor], parameters: [Parameter] = [],
    _ f: (Tape, [Variable]) -> Variable
  ) -> (mismatches: [Mismatch], probed: Int) {
    var rng = SeededRandom(seed: seed)
    // The projection r, fixed by the output shape of one forward pass.
    let probeTape = makeTape()
    let shape = f(probeTape, inputs.map { probeTape.input($0) }).shape
    let r = Tensor.randomNormal(shape, using: &rng)

    func objective(_ xs: [Tensor]) -> Double {
      let tape = makeTape()
      let y = f(tape, xs.map { tape.constant($0) }).value
      var acc = 0.0
      for i in 0..<y.count { acc += Double(y[flat: i]) * Double(r[flat: i]) }
      return acc
    }

    for p in parameters { p.zeroGradient() }
    let tape = makeTape()
    let vars = inputs.map { tape.input($0) }
    let y = f(tape, vars)
    tape.backward(from: y, seed: r)
    let inputGrads = vars.map { tape.gradient(of: $0) ?? Tensor(zeros: $0.shape) }
    let paramGrads = parameters.map { $0.grad }

    var mismatches: [Mismatch] = []
    var probed = 0
    func compare(_ what: String, _ index: Int, _ analytic: Float, _ plus: Double, _ minus: Double) {
      probed += 1
      let numeric = (plus - minus) / (2 * Double(step))
      let a = Double(analytic)
      if abs(a - numeric) > tolerance * max(floor, abs(a), abs(numeric)) {
        mismatches.append(Mismatch(what: what, index: index, analytic: a, numeric: numeric))
      }
    }
    for (k, x) in inputs.enumerated() {
      for i in coordinates(x.count, using: &rng) {
        var xs = inputs
        let v = x[flat: i]
        xs[k][flat: i] = v + step
        let plus = objective(xs)
        xs[k][flat: i] = v - step
        let minus = objective(xs)
        compare("input\(k)", i, inputGrads[k][flat: i], plus, minus)
      }
    }
    for (k, p) in parameters.enumerated() where p.isTrainable {
      for i in coordinates(p.value.count, using: &rng) {
        let v = p.value[flat: i]
        p.value[flat: i] = v + step
        let plus = objective(inputs)
        p.value[flat: i] = v - step
        let minus = objective(inputs)
        p.value[flat: i] = v
        compare("parameter\(k)\(p.shape)", i, paramGrads[k][flat: i], plus, minus)
      }
    }
    return (mismatches, probed)
  }

  private func makeTape() -> Tape {
    let t = Tape(mode: .training, threads: threads)
    t.updatesRunningStatistics = false
    return t
  }

  private func coordinates(_ count: Int, using rng: inout SeededRandom) -> [Int] {
    if count <= samplesPerTensor { return Array(0..<count) }
    var picked: Set<Int> = [0, 1, count - 2, count - 1]
    while picked.count < samplesPerTensor { picked.insert(Int(rng.next() % UInt64(count))) }
    return picked.sorted()
  }
}
