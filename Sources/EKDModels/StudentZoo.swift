import EKDLayers
import EKDTensor

/// A model name that is not in the zoo, or an input it cannot take.
public struct ModelError: Error, CustomStringConvertible, Equatable {
  public var description: String
  public init(_ description: String) { self.description = description }
}

/// Every student by name, with its default input size (docs/models.md).
public enum StudentZoo {
  /// Builds a student's network; nil when asked for an ImageNet classifier it does not have.
  typealias Builder = @Sendable (_ classifier: Bool, _ rng: inout SeededRandom) -> (any StudentNetwork)?

  /// One row per student: name, default input side, network. Adding a student
  /// is one row here (and its figures in the tests' zoo table).
  ///
  /// The hourglass students: TS20G is one stack of 256 features at 512²;
  /// TS120G two stacks of 512; TS500M one stack of 38 features with the stem
  /// shrunk to 8 → 16 channels (at small widths a 64-channel stem alone
  /// would cost more than the rest).
  static let zoo: [(name: String, inputSize: Int, build: Builder)] = [
    ("ts120g", 512, { c, rng in c ? nil : StackedHourglass(.init(stacks: 2, features: 512), using: &rng) }),
    ("ts20g", 512, { c, rng in c ? nil : StackedHourglass(.init(stacks: 1, features: 256), using: &rng) }),
    ("ts500m", 512, { c, rng in c ? nil : StackedHourglass(.init(stacks: 1, features: 38, stem: (8, 16)), using: &rng) }),
    ("resnet50", 224, { c, rng in ResNet50(classifier: c, using: &rng) }),
    ("squeezenet1_0", 224, { c, rng in SqueezeNet(version: .v1_0, classifier: c, using: &rng) }),
    ("squeezenet1_1", 224, { c, rng in SqueezeNet(version: .v1_1, classifier: c, using: &rng) }),
    ("tiny", 64, { c, rng in c ? nil : TinyStudent(using: &rng) }),
    ("small", 64, { c, rng in c ? nil : SmallStudent(using: &rng) }),
  ]

  public static let names = zoo.map { $0.name }

  /// The largest crop side a student accepts: 4× the largest default input;
  /// anything bigger is a typo, and its activations would not fit in memory.
  public static let maximumInputSize = 2048

  /// Builds a student. `classifier` keeps the original ImageNet classifier
  /// (ResNet-50 and SqueezeNet only) instead of the 2.5D head, for checking
  /// MAC counts against published figures.
  public static func make(_ name: String, inputSize: Int? = nil, classifier: Bool = false, seed: UInt64 = 0) throws(ModelError) -> Student {
    guard let entry = zoo.first(where: { $0.name == name }) else {
      throw ModelError("unknown model '\(name)'; choose one of \(names.joined(separator: ", "))")
    }
    let size = inputSize ?? entry.inputSize
    guard size > 0, size <= maximumInputSize else { throw ModelError("input size must be in 1…\(maximumInputSize), got \(size)") }
    var rng = SeededRandom(seed: seed)
    guard let network = entry.build(classifier, &rng) else {
      throw ModelError("--classifier applies to resnet50 and squeezenet only; '\(name)' has no ImageNet classifier")
    }
    let student = Student(name: name, inputSize: size, network: network)
    do { _ = try student.outputShape(for: [1, 3, size, size]) } catch { throw ModelError("\(name) cannot take a \(size)×\(size) input: \(error)") }
    return student
  }
}
