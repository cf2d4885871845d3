import ArgumentParser
import EKDData
import EKDHand
import Foundation

/// `ekd synth`: render the built-in synthetic dataset to disk.
struct SynthCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "synth", abstract: "Render synthetic right hands with exact labels to DIR/images/*.png and DIR/labels.json.")

  @Option(help: "Output directory.") var out: String
  @Option(help: "Number of images.") var count = 1000
  @Option(help: "Image side in pixels.") var size = 128
  @Option(help: "Seed: the same seed renders the same images.") var seed: UInt64 = 1
  @Option(help: "Rendering threads.") var threads = 2

  func validate() throws {
    guard count > 0, size >= 32, threads >= 1 else { throw ValidationError("--count > 0, --size ≥ 32 and --threads ≥ 1") }
  }

  func run() throws {
    let progress = Progress(total: count, label: "synth")
    do {
      try SyntheticDataset.write(to: out, count: count, size: size, seed: seed, threads: threads) { progress.update($0) }
    } catch { throw CommandFailure(error.description) }
    progress.finish()
    print("wrote \(count) images of \(size)×\(size) and labels.json to \(out)")
  }
}

/// `ekd data inspect`: what a dataset reader makes of a dataset.
struct DataCommand: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "data", abstract: "Inspect datasets.", subcommands: [Inspect.self])

  struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Print {count, first: {K, xyz, uv, hand}} for a dataset split, the first sample before cropping.")
    @OptionGroup var dataset: DatasetOptions

    func run() throws {
      let source = try dataset.source()
      guard source.count > 0 else { throw CommandFailure("\(dataset.describe()): no samples") }
      let s: Sample
      do { s = try source.sample(0) } catch { throw CommandFailure(error.description) }
      let k = s.intrinsics
      try printJSON([
        "count": source.count,
        "first": [
          "K": [[k[0], k[1], k[2]], [k[3], k[4], k[5]], [k[6], k[7], k[8]]],
          "xyz": s.xyz.map { [$0.x, $0.y, $0.z] }, "uv": s.uv.map { [$0.x, $0.y] }, "hand": s.hand.rawValue,
        ] as [String: Any],
      ] as [String: Any])
    }
  }
}

/// `--dataset NAME [--root DIR] [--split train|val|test]`, shared by the data, train and eval commands.
struct DatasetOptions: ParsableArguments {
  @Option(help: "Dataset: synth (built in), rhd, stb, lm, freihand.") var dataset = "synth"
  @Option(help: "Dataset root directory (for synth: a folder from `ekd synth`; omit to render in memory).") var root: String?
  @Option(help: "Split: train, val or test.") var split = "train"
  @Option(help: "For synth rendered in memory: samples in the split.") var count: Int?

  func describe() -> String { "\(dataset)\(root.map { " at \($0)" } ?? "") [\(split)]" }

  /// Rendered-in-memory synthetic splits use disjoint seeds.
  static func syntheticSeed(_ split: String) -> UInt64 { ["train": 1, "val": 2, "test": 3][split] ?? 4 }

  func source() throws -> any SampleSource {
    guard ["train", "val", "test"].contains(split) else { throw CommandFailure("--split must be train, val or test, got \(split)") }
    switch dataset {
    case "synth":
      if let root {
        let dir = FileManager.default.fileExists(atPath: root + "/" + split + "/labels.json") ? root + "/" + split : root
        do { return try SyntheticFolder(directory: dir) } catch { throw CommandFailure(error.description) }
      }
      return SyntheticStream(count: count ?? (split == "train" ? 8000 : 1000), seed: Self.syntheticSeed(split), size: 128)
    case "rhd", "stb", "lm", "freihand":
      guard let root else { throw CommandFailure("--dataset \(dataset) needs --root DIR (the dataset cannot be downloaded here)") }
      let s = Split(rawValue: split)!
      do {
        switch dataset {
        case "rhd": return try RHDReader(root: root, split: s)
        case "stb": return try STBReader(root: root, split: s)
        case "lm": return try LMReader(root: root, split: s)
        default: return try FreiHANDReader(root: root, split: s)
        }
      } catch { throw CommandFailure(error.description) }
    default:
      throw CommandFailure("unknown dataset '\(dataset)'; choose synth, rhd, stb, lm or freihand")
    }
  }
}

/// A progress bar on a terminal, plain periodic lines otherwise (logs, CI).
final class Progress {
  let total: Int, label: String
  let start = Date()
  let terminal = isatty(fileno(stderr)) != 0
  var lastPrint = Date.distantPast

  init(total: Int, label: String) { (self.total, self.label) = (total, label) }

  func update(_ done: Int, detail: String = "") {
    let now = Date()
    guard now.timeIntervalSince(lastPrint) > (terminal ? 0.2 : 10) || done == total else { return }
    lastPrint = now
    let elapsed = now.timeIntervalSince(start)
    let eta = done > 0 ? elapsed / Double(done) * Double(total - done) : 0
    let line: String
    if terminal {
      let width = 30, filled = total > 0 ? width * done / total : width
      line = "\r\(label) [" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        + "] \(done)/\(total) \(detail) ETA \(Int(eta))s   "
    } else {
      line = "\(label): \(done)/\(total) \(detail) elapsed \(Int(elapsed))s ETA \(Int(eta))s\n"
    }
    FileHandle.standardError.write(Data(line.utf8))
  }

  func finish() { if terminal { FileHandle.standardError.write(Data("\n".utf8)) } }
}
