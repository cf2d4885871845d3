import EKDLayers
import EKDTensor
import Testing
import _EKDTestSupport

/// Every layer and block: tape gradients for the input and every trainable
/// parameter against central differences.
@Suite struct LayerGradients {
  struct Case: CustomTestStringConvertible, @unchecked Sendable {
    var name: String
    var input: Shape
    var threads = 1
    var make: (inout SeededRandom) -> any Layer
    var testDescription: String { name }
  }

  static let cases: [Case] = [
    Case(name: "Conv2d 3x3 s2 p1", input: [2, 3, 6, 5]) { Conv2d(inputChannels: 3, outputChannels: 4, kernelSize: 3, stride: 2, padding: 1, using: &$0) },
    Case(name: "Conv2d 1x1 no bias, 2 threads", input: [3, 4, 3, 3], threads: 2) { Conv2d(inputChannels: 4, outputChannels: 2, kernelSize: 1, bias: false, using: &$0) },
    Case(name: "BatchNorm2d", input: [3, 2, 3, 3]) { _ in BatchNorm2d(2) },
    Case(name: "Linear", input: [3, 5]) { Linear(inputFeatures: 5, outputFeatures: 4, using: &$0) },
    Case(name: "AvgPool2d", input: [2, 2, 4, 4]) { _ in AvgPool2d(kernelSize: 2) },
    Case(name: "GlobalAvgPool2d + Flatten + Linear", input: [2, 3, 3, 3]) { Sequential(GlobalAvgPool2d(), Flatten(), Linear(inputFeatures: 3, outputFeatures: 2, using: &$0)) },
    Case(name: "Upsample", input: [1, 2, 2, 3]) { _ in Upsample(scale: 3) },
    Case(name: "Bottleneck with downsample", input: [2, 4, 6, 6]) { Bottleneck(inputChannels: 4, planes: 2, stride: 2, using: &$0) },
    Case(name: "Bottleneck identity", input: [2, 8, 4, 4]) { Bottleneck(inputChannels: 8, planes: 2, using: &$0) },
    Case(name: "Fire", input: [2, 4, 5, 5]) { Fire(inputChannels: 4, squeeze: 2, expand1x1: 3, expand3x3: 3, using: &$0) },
    Case(name: "Residual with skip conv", input: [2, 3, 4, 4]) { Residual(inputChannels: 3, outputChannels: 4, using: &$0) },
    Case(name: "Hourglass depth 2", input: [2, 4, 4, 4], threads: 2) { Hourglass(depth: 2, features: 4, using: &$0) },
  ]

  @Test(arguments: cases)
  func matchesCentralDifferences(_ c: Case) throws {
    var rng = SeededRandom(seed: 21)
    let layer = c.make(&rng)
    // Zero-initialised biases put ReLU inputs exactly on the kink wherever a
    // ReLU before them zeroed a whole pixel; move them off it.
    for p in layer.trainableParameters where p.shape.rank == 1 {
      p.value = Tensor(shape: p.shape, scalars: p.value.scalars.map { $0 + 0.3 * rng.nextNormal() })
    }
    let x = Tensor.randomNormal(c.input, using: &rng)
    // Smooth-enough probes: BN inside blocks keeps ReLU inputs O(1), so a step of
    // 1e-3 rarely crosses a kink; the tolerance allows Float32 noise at that step.
    // Through a dozen BN layers that noise reaches ~1e-3 absolute, so these wiring
    // checks keep the scale floor of 1; every op inside is checked on its own with
    // the tight default floor (OpGradientTests).
    var checker = GradientCheck(step: 1e-3, tolerance: 2e-2, samplesPerTensor: 12, threads: c.threads)
    checker.floor = 1
    let (mismatches, probed) = checker.check(inputs: [x], parameters: layer.trainableParameters) { _, v in layer(v[0]) }
    #expect(probed >= 12)
    #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    // The forward output shape is the one shape inference predicts.
    let tape = Tape(mode: .inference)
    #expect(layer(tape.constant(x)).shape == (try layer.outputShape(for: c.input)))
  }
}

@Suite struct LayerStructure {
  @Test func parameterNamesFollowPyTorch() {
    var rng = SeededRandom(seed: 1)
    let block = Bottleneck(inputChannels: 4, planes: 2, stride: 2, using: &rng)
    let names = block.namedParameters.map(\.name)
    #expect(names.prefix(6) == ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked"])
    #expect(names.contains("downsample.0.weight"))
    #expect(names.contains("downsample.1.running_var"))
    #expect(block.trainableParameters.count == 3 + 2 * 3 + 1 + 2)
    let hg = Hourglass(depth: 2, features: 2, using: &rng)
    #expect(hg.namedParameters.map(\.name).contains("low2.low2.conv3.bias"))
  }

  @Test func shapeInferenceNamesTheLayerThatRefuses() {
    var rng = SeededRandom(seed: 1)
    let net = Sequential(Conv2d(inputChannels: 3, outputChannels: 4, kernelSize: 3, using: &rng), Conv2d(inputChannels: 5, outputChannels: 2, kernelSize: 1, using: &rng))
    #expect(throws: ShapeError("1", expected: "[N, 5, H, W]", got: [1, 4, 6, 6])) { try net.outputShape(for: [1, 3, 8, 8]) }
    let hg = Hourglass(depth: 3, features: 2, using: &rng)
    #expect(throws: ShapeError.self) { try hg.outputShape(for: [1, 2, 12, 12]) }
    #expect((try? hg.outputShape(for: [1, 2, 16, 8])) == [1, 2, 16, 8])
  }

  @Test func convCostIsMultiplyAccumulates() throws {
    var rng = SeededRandom(seed: 1)
    let conv = Conv2d(inputChannels: 3, outputChannels: 64, kernelSize: 7, stride: 2, padding: 3, bias: false, using: &rng)
    let t = try conv.traces(for: [1, 3, 224, 224])
    // ResNet's stem: 112·112 outputs × 64 channels × 3·7·7 taps.
    #expect(t[0].macs == 112 * 112 * 64 * 3 * 7 * 7)
    #expect(t[0].parameters == 64 * 3 * 7 * 7)
  }
}

@Suite struct FusedBatchNormReLU {
  /// bn(x, relu: true) equals ReLU()(bn(x)) in value and in every gradient.
  @Test func matchesTheUnfusedPair() {
    var rng = SeededRandom(seed: 13)
    let bn = BatchNorm2d(3)
    bn.weight.value = Tensor.randomUniform([3], in: 0.5...1.5, using: &rng)
    bn.bias.value = Tensor.randomNormal([3], using: &rng)
    let x = Tensor.randomNormal([2, 3, 4, 4], using: &rng), r = Tensor.randomNormal([2, 3, 4, 4], using: &rng)
    var results: [[Tensor]] = []
    for fused in [true, false] {
      bn.zeroGradients()
      let tape = Tape()
      tape.updatesRunningStatistics = false
      let v = tape.input(x)
      let y = fused ? bn(v, relu: true) : ReLU()(bn(v))
      tape.backward(from: y, seed: r)
      results.append([y.value, tape.gradient(of: v)!, bn.weight.grad, bn.bias.grad])
    }
    for (a, b) in zip(results[0], results[1]) { #expect(Reference.maxAbsDifference(a, b) < 1e-6) }
    #expect(results[0][0].scalars.contains(0))  // the ReLU did clip something
  }

  /// bn(x, relu:, residual: r) equals ReLU()(bn(x) + r), or bn(x) + r, in value and in
  /// every gradient (the residual's included), on training and inference tapes, 1 and 2 threads.
  @Test(arguments: [(true, 1), (false, 2), (true, 2)])
  func residualMatchesTheUnfusedOps(relu: Bool, threads: Int) {
    var rng = SeededRandom(seed: 17)
    let bn = BatchNorm2d(5)
    bn.weight.value = Tensor.randomUniform([5], in: 0.5...1.5, using: &rng)
    bn.bias.value = Tensor.randomNormal([5], using: &rng)
    bn.runningMean.value = Tensor.randomNormal([5], using: &rng)
    let x = Tensor.randomNormal([3, 5, 6, 7], using: &rng), skip = Tensor.randomNormal([3, 5, 6, 7], using: &rng)
    let seed = Tensor.randomNormal([3, 5, 6, 7], using: &rng)
    for mode in [Tape.Mode.training, .inference] {
      var results: [[Tensor]] = []
      for fused in [true, false] {
        bn.zeroGradients()
        let tape = Tape(mode: mode, threads: threads)
        tape.updatesRunningStatistics = false
        let (v, r) = (tape.input(x), tape.input(skip))
        let y = fused ? bn(v, relu: relu, residual: r) : (relu ? ReLU()(bn(v) + r) : bn(v) + r)
        guard mode == .training else {
          results.append([y.value])
          continue
        }
        tape.backward(from: y, seed: seed)
        results.append([y.value, tape.gradient(of: v)!, tape.gradient(of: r)!, bn.weight.grad, bn.bias.grad])
      }
      for (a, b) in zip(results[0], results[1]) { #expect(Reference.maxAbsDifference(a, b) < 1e-5, "\(mode)") }
      #expect(results[0][0].scalars.contains(0) == relu)  // the ReLU clipped something
    }
  }
}
