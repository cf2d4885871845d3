import ArgumentParser
import EKDLayers
import Foundation

/// `ekd checkpoint inspect FILE`: what a safetensors checkpoint holds.
struct CheckpointCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "checkpoint", abstract: "Look inside safetensors checkpoints.", subcommands: [Inspect.self])

  struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the tensors (name, dtype, shape) and metadata of a checkpoint.")

    @Argument(help: "A .safetensors file (ours or PyTorch's).") var file: String
    @Flag(help: "Print JSON instead of a table.") var json = false

    func run() throws {
      let contents: Safetensors.Contents
      do { contents = try Safetensors.read(URL(fileURLWithPath: file)) } catch { throw CommandFailure(error.description) }
      if json {
        let tensors = contents.names.map { name -> [String: Any] in
          ["name": name, "dtype": contents.dtypes[name] ?? "", "shape": contents.tensors[name]?.shape.dimensions ?? []]
        }
        let data = try JSONSerialization.data(withJSONObject: ["metadata": contents.metadata, "tensors": tensors], options: [.prettyPrinted, .sortedKeys])
        print(String(decoding: data, as: UTF8.self))
        return
      }
      for (k, v) in contents.metadata.sorted(by: { $0.key < $1.key }) { print("# \(k): \(v)") }
      var total = 0
      for name in contents.names {
        let t = contents.tensors[name]!
        total += t.count
        print("\(name)\t\(contents.dtypes[name] ?? "")\t\(t.shape)")
      }
      print("\(contents.names.count) tensors, \(total) values")
    }
  }
}

/// A failure reported as one line on stderr with exit code 2, nothing on stdout.
struct CommandFailure: Error, CustomStringConvertible {
  var description: String
  init(_ message: String) { description = message }
}
