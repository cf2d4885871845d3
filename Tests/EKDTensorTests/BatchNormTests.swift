import EKDTensor
import Testing
import _EKDTestSupport

@Suite struct BatchNormOp {
  func parameters(_ c: Int, rng: inout SeededRandom) -> (Parameter, Parameter, Parameter, Parameter) {
    (
      Parameter(Tensor.randomUniform([c], in: 0.5...1.5, using: &rng)),
      Parameter(Tensor.randomNormal([c], using: &rng)),
      Parameter(Tensor(zeros: [c]), trainable: false),
      Parameter(Tensor(repeating: 1, shape: [c]), trainable: false)
    )
  }

  @Test(arguments: [Tape.Mode.training, .inference])
  func gradientsForInputScaleAndShift(mode: Tape.Mode) {
    var rng = SeededRandom(seed: 9)
    let (gamma, beta, mean, variance) = parameters(3, rng: &rng)
    mean.value = Tensor(shape: [3], scalars: [0.3, -0.2, 0.1])
    variance.value = Tensor(shape: [3], scalars: [1.5, 0.7, 2.0])
    let x = Tensor.randomNormal([4, 3, 3, 2], mean: 0.5, std: 2, using: &rng)
    // An inference-mode BN still has a gradient; check it via running statistics on a training tape
    // by feeding eval semantics: the checker's tapes are training tapes, so for the eval case we
    // compare against the closed form instead.
    if mode == .training {
      let (mismatches, probed) = GradientCheck().check(inputs: [x], parameters: [gamma, beta]) { t, v in
        t.batchNorm2d(v[0], scale: t.variable(gamma), shift: t.variable(beta), runningMean: mean, runningVariance: variance)
      }
      #expect(probed == 24 + 6)
      #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
      // The checker's tapes must not have touched the running statistics.
      #expect(mean.value.scalars == [0.3, -0.2, 0.1])
    } else {
      let tape = Tape(mode: .inference)
      let y = tape.batchNorm2d(tape.constant(x), scale: tape.variable(gamma), shift: tape.variable(beta), runningMean: mean, runningVariance: variance).value
      for i in 0..<x.count {
        let ch = (i / 6) % 3
        let expected = gamma.value[ch] * (x[flat: i] - mean.value[ch]) / (variance.value[ch] + 1e-5).squareRoot() + beta.value[ch]
        #expect(abs(y[flat: i] - expected) < 1e-5)
      }
    }
  }

  @Test func trainingNormalisesAndUpdatesRunningStatistics() {
    var rng = SeededRandom(seed: 2)
    let c = 2
    let gamma = Parameter(Tensor(repeating: 1, shape: [c])), beta = Parameter(Tensor(zeros: [c]))
    let mean = Parameter(Tensor(zeros: [c]), trainable: false)
    let variance = Parameter(Tensor(repeating: 1, shape: [c]), trainable: false)
    let x = Tensor.randomNormal([8, c, 4, 4], mean: 3, std: 2, using: &rng)
    let tape = Tape(mode: .training)
    let y = tape.batchNorm2d(tape.input(x), scale: tape.variable(gamma), shift: tape.variable(beta), runningMean: mean, runningVariance: variance).value
    // Per channel: output mean 0, biased variance 1 (up to ε).
    for ch in 0..<c {
      var values: [Float] = []
      var raw: [Double] = []
      for n in 0..<8 { for i in 0..<16 { values.append(y[flat: (n * c + ch) * 16 + i]); raw.append(Double(x[flat: (n * c + ch) * 16 + i])) } }
      let m = values.reduce(0, +) / Float(values.count)
      let v = values.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Float(values.count)
      #expect(abs(m) < 1e-5)
      #expect(abs(v - 1) < 1e-3)
      // Running statistics moved 10% toward the batch mean and the *unbiased* batch variance.
      let bm = raw.reduce(0, +) / Double(raw.count)
      let bv = raw.map { ($0 - bm) * ($0 - bm) }.reduce(0, +) / Double(raw.count - 1)
      #expect(abs(Double(mean.value[ch]) - 0.1 * bm) < 1e-5)
      #expect(abs(Double(variance.value[ch]) - (0.9 + 0.1 * bv)) < 1e-4)
    }
    // Eval on the same input uses the running statistics, so it differs from training output.
    let evalTape = Tape(mode: .inference)
    let ye = evalTape.batchNorm2d(evalTape.constant(x), scale: evalTape.variable(gamma), shift: evalTape.variable(beta), runningMean: mean, runningVariance: variance).value
    #expect(Reference.maxAbsDifference(y, ye) > 0.5)
  }
}

@Suite struct TapeMechanics {
  @Test func fanOutAccumulates() {
    let tape = Tape()
    let x = tape.input(Tensor(shape: [3], scalars: [1, 2, 3]))
    tape.backward(from: (x + x).sum())
    #expect(tape.gradient(of: x)?.scalars == [2, 2, 2])
  }

  @Test func unusedBranchGetsNoGradient() {
    let tape = Tape()
    let x = tape.input(Tensor(shape: [2], scalars: [1, 2]))
    let y = tape.input(Tensor(shape: [2], scalars: [3, 4]))
    _ = (y * y).sum()
    tape.backward(from: (x * x).sum())
    #expect(tape.gradient(of: x)?.scalars == [2, 4])
    #expect(tape.gradient(of: y) == nil)
  }

  @Test func inferenceRecordsNothing() {
    let tape = Tape(mode: .inference)
    let p = Parameter(Tensor(shape: [2], scalars: [1, 2]))
    let y = (tape.variable(p) * tape.variable(p)).relu().sum()
    #expect(tape.recordCount == 0)
    #expect(!y.requiresGradient)
    #expect(y.value.scalar == 5)
  }

  @Test func parameterGradientsAddUpUntilZeroed() {
    let p = Parameter(Tensor(shape: [2], scalars: [1, -2]))
    for _ in 0..<2 {
      let tape = Tape()
      tape.backward(from: (tape.variable(p) * tape.variable(p)).sum())
    }
    #expect(p.grad.scalars == [4, -8])
    p.zeroGradient()
    #expect(p.grad.scalars == [0, 0])
  }
}

@Suite struct TapeLifetime {
  /// Pullbacks must not keep their tape alive, or every training step leaks
  /// all its activations.
  @Test func aTapeIsFreedWithItsLastVariable() {
    weak var weakTape: Tape?
    do {
      var rng = SeededRandom(seed: 1)
      let tape = Tape(mode: .training, threads: 2)
      weakTape = tape
      let x = tape.input(Tensor.randomNormal([2, 3, 6, 6], using: &rng))
      let w = tape.input(Tensor.randomNormal([4, 3, 3, 3], using: &rng))
      let gamma = Parameter(Tensor(repeating: 1, shape: [4])), beta = Parameter(Tensor(zeros: [4]))
      let mean = Parameter(Tensor(zeros: [4]), trainable: false), variance = Parameter(Tensor(repeating: 1, shape: [4]), trainable: false)
      var y = tape.conv2d(x, weight: w, bias: nil, geometry: ConvGeometry(kernel: 3, padding: 1))
      y = tape.batchNorm2d(y, scale: tape.variable(gamma), shift: tape.variable(beta), runningMean: mean, runningVariance: variance)
      y = tape.maxPool2d(y.relu(), geometry: ConvGeometry(kernel: 2, stride: 2))
      y = tape.concat([y, tape.upsampleNearest2d(tape.avgPool2d(y, geometry: ConvGeometry(kernel: 3, stride: 3)), scale: 3)])
      let z = tape.softmax(tape.linear(y.flattened(), weight: tape.input(Tensor.randomNormal([5, 8 * 9], using: &rng)), bias: nil))
      let loss = ((z * z - z) / (z + 1)).abs().sum(alongAxis: 1).mean()
      tape.backward(from: loss)
    }
    #expect(weakTape == nil)
  }
}

/// Synchronised batch norm: two replicas holding halves of a batch compute what
/// one process computes on the whole batch, forward and backward.
@Suite struct SynchronisedBatchNorm {
  @Test(arguments: [false, true])
  func twoReplicasEqualOneProcessOnTheWholeBatch(relu: Bool) {
    var rng = SeededRandom(seed: 21)
    let (n, c, hw) = (6, 5, 12)
    let x = Tensor.randomNormal([n, c, 3, 4], mean: 1.5, std: 2, using: &rng)
    let w = Tensor.randomNormal([n, c, 3, 4], using: &rng)
    let gamma0 = Tensor.randomUniform([c], in: 0.5...1.5, using: &rng), beta0 = Tensor.randomNormal([c], using: &rng)
    @Sendable func half(_ t: Tensor, _ r: Int) -> Tensor {
      let per = t.count / 2
      return Tensor(shape: [n / 2, c, 3, 4], scalars: Array(t.scalars[(r * per)..<((r + 1) * per)]))
    }
    /// y, dx, dγ, dβ and the running statistics after one training step on `x`.
    @Sendable func run(_ x: Tensor, _ w: Tensor, replicas: (any ReplicaGroup)?) -> [[Float]] {
      let gamma = Parameter(gamma0), beta = Parameter(beta0)
      let mean = Parameter(Tensor(zeros: [c]), trainable: false), variance = Parameter(Tensor(repeating: 1, shape: [c]), trainable: false)
      let tape = Tape(mode: .training)
      tape.replicas = replicas
      let input = tape.input(x)
      let y = tape.batchNorm2d(input, scale: tape.variable(gamma), shift: tape.variable(beta), runningMean: mean, runningVariance: variance, relu: relu)
      tape.backward(from: (y * tape.constant(w)).sum())
      return [y.value.scalars, tape.gradient(of: input)!.scalars, gamma.grad.scalars, beta.grad.scalars, mean.value.scalars, variance.value.scalars]
    }
    let whole = run(x, w, replicas: nil)
    let group = LocalReplicas(size: 2)
    let parts = group.run { r in run(half(x, r), half(w, r), replicas: group.member(r)) }
    func close(_ a: [Float], _ b: [Float], _ what: String) {
      let scale = b.map(abs).max() ?? 1
      let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
      #expect(a.count == b.count && worst <= 1e-5 * max(scale, 1), "\(what): \(worst)")
    }
    close(parts[0][0] + parts[1][0], whole[0], "y")
    close(parts[0][1] + parts[1][1], whole[1], "dx")
    // dγ and dβ stay local: their sum over the replicas is the whole batch's.
    close(zip(parts[0][2], parts[1][2]).map(+), whole[2], "dγ")
    close(zip(parts[0][3], parts[1][3]).map(+), whole[3], "dβ")
    // Both replicas move their running statistics as the whole batch does (unbiased with M = N·H·W).
    for r in 0..<2 {
      close(parts[r][4], whole[4], "running mean")
      close(parts[r][5], whole[5], "running variance")
    }
    #expect(hw == 12)
  }
}
