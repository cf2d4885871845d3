import EKDHand
import Foundation

/// Every dataset EKD reads, by the name users type.
///
/// The built-in synthetic set comes two ways: a folder written by `ekd synth`
/// (ROOT/train, ROOT/val, ROOT/test), or rendered in memory, where the
/// training split is fresh every step and val/test are fixed sets of their
/// own size (disjoint seeds), whatever the training count.
public enum DatasetCatalog {
  public static let names = ["synth", "rhd", "stb", "lm", "freihand"]

  /// What an in-memory synthetic split looks like.
  public struct SyntheticOptions: Sendable {
    /// Samples in the split; nil: val and test get `fixedCount`, train must be told.
    public var count: Int?
    public var size = 128
    public var views = SyntheticViews.capture
    public init(count: Int? = nil, size: Int = 128, views: SyntheticViews = .capture) {
      (self.count, self.size, self.views) = (count, size, views)
    }
  }

  /// Sizes of the in-memory validation and test splits: large enough for a
  /// stable AUC (±0.01), small enough to evaluate in seconds.
  public static func fixedCount(_ split: Split) -> Int { split == .test ? 1000 : 500 }

  /// Rendered-in-memory synthetic splits use disjoint seeds.
  public static func syntheticSeed(_ split: Split) -> UInt64 { [.train: 1, .val: 2, .test: 3][split]! }

  /// Opens `split` of dataset `name`. `root` is required for the real
  /// datasets; for synth it names an `ekd synth` tree, or nil to render in memory.
  public static func open(_ name: String, root: String?, split: Split, synthetic: SyntheticOptions = .init()) throws(DatasetError) -> any SampleSource {
    switch name {
    case "synth":
      if let root {
        let dir = root + "/" + split.rawValue
        guard FileManager.default.fileExists(atPath: dir + "/labels.json") else {
          // Never fall back to ROOT itself: every split would read the same images.
          throw .missingFile(dir + "/labels.json (a synth root holds train/, val/ and test/, each written by `ekd synth --out ROOT/SPLIT`)")
        }
        return try SyntheticFolder(directory: dir)
      }
      let count = synthetic.count ?? (split == .train ? 0 : fixedCount(split))
      guard count > 0 else { throw .malformed("synth[\(split.rawValue)]", "an in-memory training split needs a sample count") }
      return SyntheticStream(count: count, seed: syntheticSeed(split), size: synthetic.size, views: synthetic.views)
    case "rhd", "stb", "lm", "freihand":
      guard let root else { throw .missingFile("\(name): no --root given (the dataset cannot be downloaded here)") }
      switch name {
      case "rhd": return try RHDReader(root: root, split: split)
      case "stb": return try STBReader(root: root, split: split)
      case "lm": return try LMReader(root: root, split: split)
      default: return try FreiHANDReader(root: root, split: split)
      }
    default:
      throw .unsupported(name, "unknown dataset; choose one of \(names.joined(separator: ", "))")
    }
  }
}
