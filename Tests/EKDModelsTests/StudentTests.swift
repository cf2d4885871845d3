import EKDHand
import EKDLayers
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

  /// The shape pass names the layer that refuses, also deep inside a model,
  /// and a refusal does not crash the rest of the forward.
  @Test func shapeErrorsNameTheLayer() throws {
    let ts20g = try StudentZoo.make("ts20g")
    #expect(throws: ShapeError("hg.0", expected: "[N, C, H, W] with H and W divisible by 16", got: [1, 256, 25, 25])) {
      try ts20g.outputShape(for: [1, 3, 100, 100])
    }
    let tiny = try StudentZoo.make("tiny")
    #expect(throws: ShapeError("stage1.0", expected: "[N, 3, H, W]", got: [1, 1, 64, 64])) { try tiny.outputShape(for: [1, 1, 64, 64]) }
    #expect(throws: ShapeError("input", expected: "[N, C, H, W] with H and W divisible by 8", got: [1, 3, 60, 60])) {
      try tiny.outputShape(for: [1, 3, 60, 60])
    }
    let resnet = try StudentZoo.make("resnet50")
    #expect(throws: ShapeError("conv1", expected: "[N, 3, H, W]", got: [1, 3])) { try resnet.outputShape(for: [1, 3]) }
  }
}

var rngForTests = SeededRandom(seed: 1)

/// Every student in the zoo at its default input, with the figures it had when
/// each student also had a hand-written shape trace (docs/models.md): the
/// shape pass over the forward must reproduce them exactly. A new student adds
/// its row here.
@Suite struct ZooFigures {
  static let figures: [String: (macs: Int, parameters: Int, output: Shape)] = [
    "ts120g": (116_253_523_968, 25_739_988, [1, 42, 128, 128]),
    "ts20g": (20_710_424_576, 3_433_130, [1, 42, 128, 128]),
    "ts500m": (509_602_496, 80_315, [1, 42, 128, 128]),
    "resnet50": (4_248_702_976, 24_071_274, [1, 42, 28, 28]),
    "squeezenet1_0": (764_671_520, 808_042, [1, 42, 26, 26]),
    "squeezenet1_1": (294_898_880, 795_114, [1, 42, 26, 26]),
    "tiny": (20_004_864, 118_842, [1, 42, 16, 16]),
    "small": (35_340_288, 497_530, [1, 42, 16, 16]),
  ]

  @Test(arguments: StudentZoo.names)
  func shapePassReproducesTheFigures(name: String) throws {
    let expected = try #require(Self.figures[name], "no figures for \(name): add its row")
    let student = try StudentZoo.make(name)
    let summary = try ModelSummary(student, inputSize: student.inputSize)
    #expect(summary.macs == expected.macs)
    #expect(summary.parameters == expected.parameters)
    #expect(summary.output == expected.output)
    // Every trainable parameter is used by a leaf that ran, once, and the rows
    // are named like the state dict ("layer1.0.conv1" owns "layer1.0.conv1.weight").
    #expect(summary.rows.reduce(0) { $0 + $1.parameters } == expected.parameters)
    let owners = Set(student.namedParameters.filter { $0.parameter.isTrainable }.map { $0.name.split(separator: ".").dropLast().joined(separator: ".") })
    #expect(Set(summary.rows.filter { $0.parameters > 0 }.map(\.path)) == owners)
  }
}

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
