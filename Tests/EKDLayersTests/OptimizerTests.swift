import EKDLayers
import EKDTensor
import Foundation
import Testing

/// Optimizer steps against values worked out by hand from the update rules.
@Suite struct Optimizers {
  func parameter(_ w: [Float], grad: [Float]) -> Parameter {
    let p = Parameter(Tensor(shape: Shape([w.count]), scalars: w))
    p.grad = Tensor(shape: Shape([grad.count]), scalars: grad)
    return p
  }

  @Test func plainSGD() {
    let p = parameter([1, -2], grad: [0.5, 4])
    SGD(learningRate: 0.1).step([p])
    // w − 0.1·g
    #expect(p.value.scalars == [0.95, -2.4])
  }

  @Test func sgdMomentumAndWeightDecay() {
    let p = parameter([1], grad: [0.5])
    let opt = SGD(learningRate: 0.1, momentum: 0.9, weightDecay: 0.1)
    opt.step([p])
    // g = 0.5 + 0.1·1 = 0.6; v = 0.6; w = 1 − 0.06 = 0.94
    #expect(abs(p.value[0] - 0.94) < 1e-6)
    opt.step([p])
    // g = 0.5 + 0.094 = 0.594; v = 0.9·0.6 + 0.594 = 1.134; w = 0.94 − 0.1134 = 0.8266
    #expect(abs(p.value[0] - 0.8266) < 1e-6)
  }

  @Test func nesterov() {
    let p = parameter([1], grad: [1])
    let opt = SGD(learningRate: 0.1, momentum: 0.5, nesterov: true)
    opt.step([p])  // v = 1; step g + μv = 1.5 → w = 0.85
    #expect(abs(p.value[0] - 0.85) < 1e-6)
    opt.step([p])  // v = 0.5 + 1 = 1.5; step 1 + 0.75 = 1.75 → w = 0.675
    #expect(abs(p.value[0] - 0.675) < 1e-6)
  }

  @Test func adamFirstStepsAreSignTimesLearningRate() {
    // With bias correction, step 1 moves each weight by lr·g/(|g| + ε) ≈ lr·sign(g).
    let p = parameter([1, 1, 1], grad: [0.001, -3, 50])
    let opt = Adam(learningRate: 0.01)
    opt.step([p])
    #expect(abs(p.value[0] - 0.99) < 1e-5)
    #expect(abs(p.value[1] - 1.01) < 1e-6)
    #expect(abs(p.value[2] - 0.99) < 1e-6)
    // Step 2 with gradient g2 = −g: m = 0.9·0.1g·... worked out for the third weight:
    // m1 = 5, v1 = 2.5; m2 = 0.9·5 − 0.1·50 = −0.5, v2 = 0.999·2.5 + 0.001·2500 = 4.9975
    // m̂ = −0.5/0.19 = −2.631579, v̂ = 4.9975/0.001999 = 2500.0; step = −lr·2.631579/50 = −0.000526316
    p.grad = Tensor(shape: [3], scalars: [-0.001, 3, -50])
    opt.step([p])
    #expect(abs(p.value[2] - (0.99 + 0.000526316)) < 1e-6)
  }

  @Test func frozenStateIsNotUpdated() {
    let p = Parameter(Tensor(shape: [1], scalars: [3]), trainable: false)
    p.grad = Tensor(shape: [1], scalars: [1])
    SGD(learningRate: 1).step([p])
    Adam(learningRate: 1).step([p])
    #expect(p.value[0] == 3)
  }
}

@Suite struct TinyNetwork {
  /// A small conv net with BN, pooling and a linear head overfits one fixed batch.
  @Test(arguments: ["sgd", "adam"])
  func lossFallsOnAFixedBatch(optimizer name: String) {
    var rng = SeededRandom(seed: 12)
    let net = Sequential(
      Conv2d(inputChannels: 3, outputChannels: 8, kernelSize: 3, padding: 1, using: &rng), BatchNorm2d(8), ReLU(),
      MaxPool2d(kernelSize: 2),
      Conv2d(inputChannels: 8, outputChannels: 8, kernelSize: 3, padding: 1, using: &rng), BatchNorm2d(8), ReLU(),
      GlobalAvgPool2d(), Flatten(), Linear(inputFeatures: 8, outputFeatures: 4, using: &rng))
    let x = Tensor.randomNormal([8, 3, 8, 8], using: &rng)
    let target = Tensor.randomNormal([8, 4], using: &rng)
    let opt: any Optimizer = name == "sgd" ? SGD(learningRate: 0.05, momentum: 0.9) : Adam(learningRate: 0.01)
    var losses: [Float] = []
    for _ in 0..<60 {
      let tape = Tape(mode: .training, threads: 2)
      let loss = (net(tape.constant(x)) - tape.constant(target)).squared().mean()
      net.zeroGradients()
      tape.backward(from: loss)
      opt.step(net.trainableParameters)
      losses.append(loss.value.scalar)
    }
    #expect(losses.allSatisfy { $0.isFinite })
    #expect(losses.last! < 0.2 * losses.first!, "loss \(losses.first!) → \(losses.last!)")
  }
}

@Suite struct AdamStepCounts {
  /// A parameter that joins after 1,000 steps starts with its own t = 1, so its
  /// first update is the learning rate (bias-corrected), not ~3× it.
  @Test func aLateParameterGetsItsOwnBiasCorrection() {
    let adam = Adam(learningRate: 0.1)
    let early = Parameter(Tensor(shape: [1], scalars: [0])), late = Parameter(Tensor(shape: [1], scalars: [0]))
    for _ in 0..<1000 {
      early.grad[flat: 0] = 1
      adam.step([early])
    }
    late.grad[flat: 0] = 1
    adam.step([early, late])
    #expect(abs(late.value[flat: 0] + 0.1) < 1e-4, "first step \(late.value[flat: 0])")
    let saved = adam.state([("late", late)])
    #expect(saved.first { $0.0 == "late.step" }?.1.scalar == 1)
  }
}
