import ArgumentParser
import EKDData
import EKDHand
import EKDTraining
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
  @Option(help: "Viewpoints: capture (forearm, third-person and egocentric) or uniform (random orientations).") var views = SyntheticViews.capture
  @Option(help: "Also write a contact sheet of the first 32 images with their skeletons to this PNG.") var sheet: String?

  func validate() throws {
    guard count > 0 else { throw CommandFailure("--count: must be positive, got \(count)") }
    guard size >= 32, size * size <= DatasetLimits.imagePixels else {
      throw CommandFailure("--size: must be at least 32 and at most \(Int(Double(DatasetLimits.imagePixels).squareRoot())) (the readers' image limit), got \(size)")
    }
    guard threads >= 1 else { throw CommandFailure("--threads: must be positive, got \(threads)") }
  }

  func run() throws {
    let progress = Progress(total: count, label: "synth")
    do {
      try SyntheticDataset.write(to: out, count: count, size: size, seed: seed, views: views, threads: threads) { progress.update($0) }
    } catch { throw CommandFailure(error.description) }
    progress.finish()
    if let sheet {
      let samples = (0..<min(count, 32)).map { SyntheticHands.sample(index: $0, seed: seed, size: size, views: views) }
      do { try Report.contactSheet(samples.map(\.image), skeletons: samples.map(\.uv))?.writePNG(to: sheet) } catch {
        throw CommandFailure(error.description)
      }
      print("wrote \(sheet)")
    }
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
      let source = try dataset.source(dataset.split ?? .train, trainCount: DatasetCatalog.fixedCount(.val))
      guard source.count > 0 else { throw CommandFailure("\(dataset.describe(dataset.split ?? .train)): no samples") }
      let s: Sample
      do { s = try source.sample(0) } catch { throw CommandFailure(error.description) }
      let k = s.intrinsics
      try printJSON(
        [
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
  @Option(help: "Dataset: \(DatasetCatalog.names.joined(separator: ", ")) (synth is built in).") var dataset = "synth"
  @Option(help: "Dataset root directory (for synth: a tree from `ekd synth --out ROOT/SPLIT`; omit to render in memory).") var root: String?
  @Option(help: "Split: train, val or test (default: the command's).") var split: Split?
  @Option(help: "For synth rendered in memory: samples in the training split (default: fresh samples for every step).") var count: Int?
  @Option(help: "For synth rendered in memory: viewpoints, capture or uniform.") var views = SyntheticViews.capture

  func describe(_ split: Split) -> String { "\(dataset)\(root.map { " at \($0)" } ?? "") [\(split.rawValue)]" }

  func validate() throws {
    if let count, count <= 0 { throw CommandFailure("--count: must be positive, got \(count)") }
  }

  /// Exactly the split `split` (never the user's --split: a command that needs the
  /// training split must not get the test split because --split said so).
  /// `trainCount` sizes an in-memory training split when --count is not given.
  func source(_ split: Split, trainCount: Int? = nil) throws -> any SampleSource {
    let count = split == .train ? (count ?? trainCount) : nil
    do {
      return try DatasetCatalog.open(dataset, root: root, split: split, synthetic: .init(count: count, views: views))
    } catch { throw CommandFailure(error.description) }
  }

  /// Commands that train use the train and val splits by definition.
  func refuseSplit(_ command: String) throws {
    if let split { throw CommandFailure("--split \(split.rawValue): `ekd \(command)` trains on the train split and validates on val; --split is for eval, reference and data inspect") }
  }
}

extension Split: ExpressibleByArgument {}

/// A progress bar on a terminal, plain periodic lines otherwise (logs, CI).
final class Progress {
  let total: Int, label: String
  let start = Date()
  let terminal = isatty(fileno(stderr)) != 0
  var lastPrint = Date.distantPast

  /// Prints nothing (ranks other than 0 under mpirun).
  let silent: Bool

  init(total: Int, label: String, silent: Bool = false) { (self.total, self.label, self.silent) = (total, label, silent) }

  func update(_ done: Int, detail: String = "") {
    guard !silent else { return }
    let now = Date()
    guard now.timeIntervalSince(lastPrint) > (terminal ? 0.2 : 10) || done == total else { return }
    lastPrint = now
    let elapsed = now.timeIntervalSince(start)
    let eta = done > 0 ? elapsed / Double(done) * Double(total - done) : 0
    let line: String
    if terminal {
      let width = 30, filled = total > 0 ? width * done / total : width
      line =
        "\r\(label) [" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        + "] \(done)/\(total) \(detail) ETA \(Int(eta))s   "
    } else {
      line = "\(label): \(done)/\(total) \(detail) elapsed \(Int(elapsed))s ETA \(Int(eta))s\n"
    }
    FileHandle.standardError.write(Data(line.utf8))
  }

  func finish() { if terminal && !silent { FileHandle.standardError.write(Data("\n".utf8)) } }
}

extension SyntheticViews: ExpressibleByArgument {}
