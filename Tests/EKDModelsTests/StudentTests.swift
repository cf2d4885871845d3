import EKDLayers
import EKDHand
import EKDLosses
import EKDModels
import EKDTensor
import Testing

/// MAC and parameter totals against published figures (torchvision, counted
/// by ../shared/peers/count_macs.py with forward hooks; fvcore agrees), tolerance 0.
@Suite struct PublishedCounts {
  @Test(arguments: [
    ("resnet50", 4_089_184_256, 25_557_032),
    ("squeezenet1_0", 818_924_576, 1_248_424),
    ("squeezenet1_1", 349_151_936, 1_235_496),
  ])
  func classifierModelsAt224(name: String, macs: Int, parameters: Int) throws {
    let model = try StudentZoo.make(name, inputSize: 224, classifier: true)
    let summary = try ModelSummary(model, inputSize: 224)
    #expect(summary.macs == macs)
    #expect(summary.parameters == parameters)
    #expect(summary.output == [1, 1000])
  }

  @Test(arguments: [("ts120g", 120e9), ("ts20g", 20e9), ("ts500m", 0.5e9)])
  func hourglassStudentsHitTheirNominalCost(name: String, nominal: Double) throws {
    let summary = try ModelSummary(try StudentZoo.make(name), inputSize: 512)
    #expect(abs(Double(summary.macs) / nominal - 1) <= 0.10, "\(name): \(summary.macs) MACs")
    #expect(summary.output == [1, 42, 128, 128])
  }

  /// The peers' PyTorch hourglass (256 features, 256² input) is 5,177,606,144 MACs:
  /// stem 2.251 G + one stack 2.926 G (../shared/peers/README.md).
  @Test func hourglassMatchesThePeersCount() throws {
    let net = StackedHourglass(.init(stacks: 1, features: 256), using: &rngForTests)
    #expect(try ModelSummary(net, inputSize: 256).macs == 5_177_606_144)
  }

  @Test func stateDictNamesAreTorchvisions() throws {
    let resnet = try StudentZoo.make("resnet50", classifier: true).namedParameters.map(\.name)
    #expect(resnet.first == "conv1.weight" && resnet.last == "fc.bias")
    #expect(resnet.contains("layer4.2.bn3.running_var") && resnet.contains("layer2.0.downsample.0.weight"))
    let squeeze = try StudentZoo.make("squeezenet1_1", classifier: true).namedParameters.map(\.name)
    #expect(squeeze.contains("features.12.expand3x3.weight") && squeeze.last == "classifier.1.bias")
  }

  @Test func unknownNamesAndBadInputsAreTypedErrors() {
    #expect(throws: ModelError.self) { try StudentZoo.make("vgg16") }
    #expect(throws: ModelError.self) { try StudentZoo.make("ts20g", inputSize: 100) }
    #expect(throws: ModelError.self) { try StudentZoo.make("tiny", classifier: true) }
  }
}

var rngForTests = SeededRandom(seed: 1)

@Suite struct StudentForward {
  /// Real forward passes (inference tape) match shape inference, at inputs small enough for a test.
  @Test(arguments: [("tiny", 64), ("squeezenet1_1", 96), ("squeezenet1_0", 96), ("resnet50", 64), ("ts500m", 128)])
  func outputsMatchShapeInference(name: String, size: Int) throws {
    let student = try StudentZoo.make(name, inputSize: size)
    let tape = Tape(mode: .inference, threads: 2)
    var rng = SeededRandom(seed: 3)
    let x = tape.constant(Tensor.randomNormal([2, 3, size, size], using: &rng))
    let out = student.predict(x)
    var expected = try student.outputShape(for: [2, 3, size, size])
    #expect(expected[1] == 42)
    expected[1] = 21
    #expect(out.heatmaps.shape == expected && out.depths.shape == expected)
    #expect(out.features.shape == [2, student.featureChannels])
    #expect(out.heatmaps.value.scalars.allSatisfy { $0.isFinite })
  }

  @Test func everyStudentHasAShapeAtItsDefaultInput() throws {
    for name in StudentZoo.names {
      let s = try StudentZoo.make(name)
      let out = try s.outputShape(for: [1, 3, s.inputSize, s.inputSize])
      #expect(out[1] == 42 && out[2] >= s.inputSize / 16, "\(name): \(out)")
    }
  }

  /// The offset network is the teacher's: no student includes its parameters or cost.
  @Test func offsetNetworkIsSeparate() throws {
    let student = try StudentZoo.make("tiny")
    let offsets = OffsetNetwork(featureChannels: student.featureChannels, using: &rngForTests)
    let ids = Set(student.namedParameters.map { ObjectIdentifier($0.parameter) })
    #expect(offsets.namedParameters.allSatisfy { !ids.contains(ObjectIdentifier($0.parameter)) })
    let summary = try ModelSummary(student, inputSize: 64)
    #expect(summary.rows.allSatisfy { !$0.path.hasPrefix("fc") })
    let tape = Tape(mode: .inference)
    let m = offsets.offsets(features: tape.constant(Tensor(zeros: [2, 64])), pose: tape.constant(Tensor(zeros: [2, 21, 3])))
    #expect(m.shape == [2, 21, 3])
  }

  /// A tiny student overfits one fixed batch through the 2.5D decode and Loss_pos_stu.
  @Test func tinyStudentLossFallsOnAFixedBatch() throws {
    let student = try StudentZoo.make("tiny", seed: 5)
    var rng = SeededRandom(seed: 8)
    let x = Tensor.randomNormal([4, 3, 64, 64], using: &rng)
    let target = Tensor(shape: [4, 21, 3], scalars: (0..<252).map { i in i % 3 == 2 ? 0.3 * rng.nextNormal() : Float.random(in: 8...56, using: &rng) })
    let optimizer = Adam(learningRate: 3e-3)
    var losses: [Float] = []
    for _ in 0..<40 {
      let tape = Tape(mode: .training, threads: 2)
      let out = student.predict(tape.constant(x))
      let uvz = tape.decode25D(heatmaps: out.heatmaps, depths: out.depths, cropWidth: 64, cropHeight: 64)
      let loss = EKDLoss.studentPosition(uvz, target: target, cropWidth: 64, cropHeight: 64)
      student.zeroGradients()
      tape.backward(from: loss)
      optimizer.step(student.trainableParameters)
      losses.append(loss.value.scalar)
    }
    #expect(losses.allSatisfy { $0.isFinite })
    #expect(losses.last! < 0.5 * losses.first!, "\(losses.first!) → \(losses.last!)")
  }
}
