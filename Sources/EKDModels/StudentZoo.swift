import EKDLayers
import EKDTensor

/// A model name that is not in the zoo, or an input it cannot take.
public struct ModelError: Error, CustomStringConvertible, Equatable {
  public var description: String
  public init(_ description: String) { self.description = description }
}

/// Every student by name, with its default input size (docs/models.md).
public enum StudentZoo {
  public static let names = ["ts120g", "ts20g", "ts500m", "resnet50", "squeezenet1_0", "squeezenet1_1", "tiny"]

  /// The hourglass students: TS20G is one stack of 256 features at 512²;
  /// TS120G two stacks of 512; TS500M one stack of 38 features with the stem
  /// shrunk to 8 → 16 channels (at small widths a 64-channel stem alone
  /// would cost more than the rest).
  public static func hourglassConfiguration(_ name: String) -> StackedHourglass.Configuration? {
    switch name {
    case "ts120g": return .init(stacks: 2, features: 512)
    case "ts20g": return .init(stacks: 1, features: 256)
    case "ts500m": return .init(stacks: 1, features: 38, stem: (8, 16))
    default: return nil
    }
  }

  public static func defaultInputSize(_ name: String) -> Int {
    switch name {
    case "ts120g", "ts20g", "ts500m": return 512
    case "tiny": return 64
    default: return 224
    }
  }

  /// Builds a student. `classifier` keeps the original ImageNet classifier
  /// (ResNet-50 and SqueezeNet only) instead of the 2.5D head, for checking
  /// MAC counts against published figures.
  public static func make(_ name: String, inputSize: Int? = nil, classifier: Bool = false, seed: UInt64 = 0) throws(ModelError) -> Student {
    var rng = SeededRandom(seed: seed)
    let size = inputSize ?? defaultInputSize(name)
    guard size > 0 else { throw ModelError("input size must be positive, got \(size)") }
    let network: any StudentNetwork
    switch name {
    case "resnet50": network = ResNet50(classifier: classifier, using: &rng)
    case "squeezenet1_0": network = SqueezeNet(version: .v1_0, classifier: classifier, using: &rng)
    case "squeezenet1_1": network = SqueezeNet(version: .v1_1, classifier: classifier, using: &rng)
    case "tiny": network = TinyStudent(using: &rng)
    default:
      guard let c = hourglassConfiguration(name) else {
        throw ModelError("unknown model '\(name)'; choose one of \(names.joined(separator: ", "))")
      }
      network = StackedHourglass(c, using: &rng)
    }
    if classifier && !(network is ResNet50 || network is SqueezeNet) {
      throw ModelError("--classifier applies to resnet50 and squeezenet only; '\(name)' has no ImageNet classifier")
    }
    let student = Student(name: name, inputSize: size, network: network)
    do { _ = try student.outputShape(for: [1, 3, size, size]) } catch { throw ModelError("\(name) cannot take a \(size)×\(size) input: \(error)") }
    return student
  }
}
