import EKDTensor
import Testing
import _EKDTestSupport

/// One finite-difference check per differentiable op, for every input.
@Suite struct OpGradients {
  struct Case: CustomTestStringConvertible, @unchecked Sendable {
    var name: String
    var inputs: [Shape]
    /// Inputs drawn away from kinks: |x| ≥ this (ReLU, abs), or positive (log, sqrt).
    var positive = false
    var awayFromZero: Float = 0
    var threads = 1
    var f: (Tape, [Variable]) -> Variable
    var testDescription: String { name }
  }

  static func geometry(_ k: Int, _ s: Int, _ p: Int) -> ConvGeometry { ConvGeometry(kernel: k, stride: s, padding: p) }

  static let cases: [Case] = [
    Case(name: "add same shape", inputs: [[2, 3], [2, 3]]) { _, v in v[0] + v[1] },
    Case(name: "add broadcast channel", inputs: [[2, 3, 2, 2], [3, 1, 1]]) { _, v in v[0] + v[1] },
    Case(name: "sub broadcast both", inputs: [[2, 1, 3], [4, 1]]) { _, v in v[0] - v[1] },
    Case(name: "mul broadcast", inputs: [[3, 4], [4]]) { _, v in v[0] * v[1] },
    Case(name: "mul by scalar tensor", inputs: [[3, 4], [1]]) { _, v in v[0] * v[1] },
    Case(name: "div", inputs: [[3, 4], [3, 4]], positive: true) { _, v in v[0] / v[1] },
    Case(name: "scalar affine", inputs: [[5]]) { _, v in (v[0] * 3 + 2) - 1 },
    Case(name: "relu", inputs: [[4, 5]], awayFromZero: 0.1) { _, v in v[0].relu() },
    Case(name: "abs", inputs: [[4, 5]], awayFromZero: 0.1) { _, v in v[0].abs() },
    Case(name: "squared", inputs: [[6]]) { _, v in v[0].squared() },
    Case(name: "sqrt", inputs: [[6]], positive: true) { _, v in v[0].squareRoot() },
    Case(name: "exp", inputs: [[6]]) { _, v in v[0].exp() },
    Case(name: "log", inputs: [[6]], positive: true) { _, v in v[0].log() },
    Case(name: "sigmoid", inputs: [[6]]) { _, v in v[0].sigmoid() },
    Case(name: "sum", inputs: [[3, 4]]) { _, v in v[0].sum() },
    Case(name: "mean", inputs: [[3, 4]]) { _, v in v[0].mean() },
    Case(name: "sum axis 1", inputs: [[2, 3, 4]]) { _, v in v[0].sum(alongAxis: 1) },
    Case(name: "sum last axis kept", inputs: [[2, 3, 4]]) { _, v in v[0].sum(alongAxis: -1, keepingAxis: true) },
    Case(name: "reshape", inputs: [[2, 6]]) { _, v in v[0].reshaped([3, 4]) * v[0].reshaped([3, 4]) },
    Case(name: "softmax", inputs: [[3, 7]]) { t, v in t.softmax(v[0]) },
    Case(name: "matmul", inputs: [[3, 4], [4, 5]]) { t, v in t.matmul(v[0], v[1]) },
    Case(name: "matmul Aᵀ", inputs: [[4, 3], [4, 5]]) { t, v in t.matmul(v[0], v[1], transposeA: true) },
    Case(name: "matmul Bᵀ", inputs: [[3, 4], [5, 4]]) { t, v in t.matmul(v[0], v[1], transposeB: true) },
    Case(name: "matmul AᵀBᵀ", inputs: [[4, 3], [5, 4]]) { t, v in t.matmul(v[0], v[1], transposeA: true, transposeB: true) },
    Case(name: "linear", inputs: [[3, 4], [5, 4], [5]]) { t, v in t.linear(v[0], weight: v[1], bias: v[2]) },
    Case(name: "conv 3x3 s1 p1", inputs: [[2, 3, 5, 4], [4, 3, 3, 3], [4]]) { t, v in
      t.conv2d(v[0], weight: v[1], bias: v[2], geometry: geometry(3, 1, 1))
    },
    Case(name: "conv 3x3 s2 p1 threads 2", inputs: [[3, 2, 7, 6], [3, 2, 3, 3], [3]], threads: 2) { t, v in
      t.conv2d(v[0], weight: v[1], bias: v[2], geometry: geometry(3, 2, 1))
    },
    Case(name: "conv 1x1 pointwise threads 2", inputs: [[2, 4, 3, 5], [3, 4, 1, 1], [3]], threads: 2) { t, v in
      t.conv2d(v[0], weight: v[1], bias: v[2], geometry: geometry(1, 1, 0))
    },
    Case(name: "conv 1x1 stride 2 no bias", inputs: [[2, 4, 5, 5], [3, 4, 1, 1]]) { t, v in
      t.conv2d(v[0], weight: v[1], bias: nil, geometry: geometry(1, 2, 0))
    },
    Case(name: "conv 2x3 non-square", inputs: [[1, 2, 5, 6], [2, 2, 2, 3], [2]]) { t, v in
      t.conv2d(v[0], weight: v[1], bias: v[2], geometry: ConvGeometry(kernelHeight: 2, kernelWidth: 3, stride: 1, padding: 1))
    },
    Case(name: "avg pool 3 s2 p1", inputs: [[2, 2, 5, 6]]) { t, v in t.avgPool2d(v[0], geometry: geometry(3, 2, 1)) },
    Case(name: "global avg pool", inputs: [[2, 3, 4, 5]]) { t, v in t.globalAvgPool2d(v[0]) },
    Case(name: "upsample x2", inputs: [[2, 2, 3, 4]]) { t, v in t.upsampleNearest2d(v[0], scale: 2) },
    Case(name: "upsample x3", inputs: [[1, 2, 2, 3]]) { t, v in t.upsampleNearest2d(v[0], scale: 3) },
    Case(name: "concat channels", inputs: [[2, 2, 3, 3], [2, 3, 3, 3]]) { t, v in t.concat([v[0], v[1]]) },
    Case(name: "concat last axis, fan-out", inputs: [[2, 3], [2, 2]]) { t, v in t.concat([v[0], v[1], v[0]], axis: -1) },
    Case(name: "slice channels", inputs: [[2, 5, 2, 3]]) { t, v in t.slice(v[0], 1..<4) * t.slice(v[0], 2..<5) },
    Case(name: "slice last axis", inputs: [[3, 4]]) { t, v in t.slice(v[0], axis: -1, 0..<2) },
  ]

  @Test(arguments: cases)
  func matchesCentralDifferences(_ c: Case) {
    var rng = SeededRandom(seed: 42)
    let inputs = c.inputs.map { shape -> Tensor in
      var t = Tensor.randomNormal(shape, using: &rng)
      t.withUnsafeMutableBufferPointer { b in
        for i in b.indices {
          if c.positive { b[i] = 0.5 + abs(b[i]) }
          if c.awayFromZero > 0 && abs(b[i]) < c.awayFromZero { b[i] = b[i] < 0 ? -c.awayFromZero : c.awayFromZero }
        }
      }
      return t
    }
    let checker = GradientCheck(threads: c.threads)
    let (mismatches, probed) = checker.check(inputs: inputs, c.f)
    #expect(probed > 0)
    #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
  }

  /// Max pooling: distinct values with gaps ≫ 2h, so no probe flips an argmax.
  @Test(arguments: [(3, 2, 1, false), (2, 2, 0, false), (3, 2, 0, true)])
  func maxPool(kernel: Int, stride: Int, padding: Int, ceilMode: Bool) {
    var rng = SeededRandom(seed: 5)
    let n = 2 * 2 * 7 * 6
    var values = (0..<n).map { Float($0) * 0.1 }
    values.shuffle(using: &rng)
    let x = Tensor(shape: [2, 2, 7, 6], scalars: values)
    let (mismatches, _) = GradientCheck(step: 1e-3).check(inputs: [x]) { t, v in
      t.maxPool2d(v[0], geometry: ConvGeometry(kernel: kernel, stride: stride, padding: padding), ceilMode: ceilMode)
    }
    #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
  }

  /// Max pooling's values (with and without the argmax) and argmax against a scan of each
  /// window, on every vector path this CPU has, odd planes, padding, ceil mode and ties
  /// (small integers repeat often); 83 columns, so that the stride-2 kernels' unmasked
  /// chunks (16 or 8 outputs) run with a masked chunk on either side.
  @Test(arguments: [(3, 2, 1, false), (2, 2, 0, false), (2, 2, 1, true), (3, 2, 0, true), (3, 1, 1, false), (5, 3, 2, true)])
  func maxPoolMatchesTheReference(kernel: Int, stride: Int, padding: Int, ceilMode: Bool) {
    var rng = SeededRandom(seed: 9)
    let x = Tensor(shape: [2, 3, 11, 83], scalars: (0..<(2 * 3 * 11 * 83)).map { _ in Float(Int.random(in: -4...4, using: &rng)) })
    let g = ConvGeometry(kernel: kernel, stride: stride, padding: padding)
    let expected = Reference.maxPool2d(x, geometry: g, ceilMode: ceilMode)
    for path in ThinGEMM.Path.allCases where path.rawValue <= ThinGEMM.best.rawValue {
      for threads in [1, 2] {
        let (y, argmax) = PoolingKernel.Max.forward(x, geometry: g, ceilMode: ceilMode, threads: threads, path: path)
        #expect(y.shape == expected.y.shape && Reference.maxAbsDifference(y, expected.y) == 0, "\(path)")
        #expect(argmax == expected.argmax, "\(path)")
        let values = PoolingKernel.Max.forward(x, geometry: g, ceilMode: ceilMode, threads: threads, argmax: false, path: path).y
        #expect(Reference.maxAbsDifference(values, expected.y) == 0, "\(path)")
      }
    }
  }

  /// The checker itself must fail a wrong pullback, or it proves nothing.
  @Test func checkerCatchesAWrongPullback() {
    var rng = SeededRandom(seed: 1)
    let x = Tensor.randomUniform([4, 3], in: 1...2, using: &rng)
    let (mismatches, _) = GradientCheck().check(inputs: [x]) { t, v in
      let y = Tensor(shape: v[0].shape, scalars: v[0].value.scalars.map { $0 * $0 })
      return t.record(y, inputs: [v[0]]) { dy, dx in
        // Wrong on purpose: d(x²)/dx is 2x, not x.
        for i in 0..<dy.count { dx[0]?[i] += dy[flat: i] * v[0].value[flat: i] }
      }
    }
    // The error is x·rᵢ per coordinate; only a tiny projection weight rᵢ can hide it.
    #expect(mismatches.count >= 10)
  }

  /// The same at the scale of Loss_θ's gradients (~1e-3): a halved gradient and a
  /// pullback that returns nothing must both fail (under a floor of 1 they passed).
  @Test(arguments: [0.5, 0] as [Float])
  func checkerCatchesAWrongSmallGradient(factor: Float) {
    var rng = SeededRandom(seed: 2)
    let x = Tensor.randomUniform([4, 3], in: 1...2, using: &rng)
    let (mismatches, _) = GradientCheck(tolerance: 2e-2).check(inputs: [x]) { t, v in
      let y = Tensor(shape: v[0].shape, scalars: v[0].value.scalars.map { 1e-3 * $0 * $0 })
      return t.record(y, inputs: [v[0]]) { dy, dx in
        for i in 0..<dy.count { dx[0]?[i] += factor * dy[flat: i] * 2e-3 * v[0].value[flat: i] }
      }
    }
    #expect(mismatches.count >= 10, "\(mismatches.count) of 12 coordinates caught")
  }
}

@Suite struct NearestUpsampling {
  /// y[i, j] = x[i / s, j / s], for the s = 2 fast path and the general one, on many threads.
  @Test(arguments: [1, 2, 3])
  func copiesEachValueIntoItsBlock(scale s: Int) {
    var rng = SeededRandom(seed: 4)
    let x = Tensor.randomNormal([3, 5, 4, 7], using: &rng)
    let y = Tape(mode: .inference, threads: 2).upsampleNearest2d(Tape(mode: .inference).constant(x), scale: s).value
    #expect(y.shape == [3, 5, 4 * s, 7 * s])
    var wrong = 0
    for p in 0..<15 {
      for i in 0..<(4 * s) {
        for j in 0..<(7 * s) where y[flat: (p * 4 * s + i) * 7 * s + j] != x[flat: (p * 4 + i / s) * 7 + j / s] { wrong += 1 }
      }
    }
    #expect(wrong == 0)
  }
}
