import ArgumentParser
import EKDLayers
import EKDModels
import Foundation

/// `ekd info MODEL`: per-layer output shapes, MACs and parameters, and totals.
struct InfoCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "info",
    abstract: "Show a student's layers with output shape, MACs and parameters (conv and linear MACs, per image).",
    discussion: "MODEL: \(StudentZoo.names.joined(separator: ", ")).")

  @Argument(help: "The model.") var model: String
  @Option(help: "Square input size in pixels (default: the model's).") var input: Int?
  @Flag(help: "Count the original ImageNet classifier instead of the 2.5D head (resnet50, squeezenet).") var classifier = false
  @Flag(help: "Print JSON: {macs, params, input, output, layers: [...]}.") var json = false

  func run() throws {
    let student: Student, summary: ModelSummary
    do {
      student = try StudentZoo.make(model, inputSize: input, classifier: classifier)
      summary = try ModelSummary(student, inputSize: student.inputSize)
    } catch let e as ModelError { throw CommandFailure(e.description) } catch { throw CommandFailure("\(error)") }
    if json {
      let layers = summary.rows.map { r -> [String: Any] in
        ["name": r.path, "kind": r.kind, "output": r.output.dimensions, "macs": r.macs, "params": r.parameters]
      }
      try printJSON(
        [
          "model": model, "input": student.inputSize, "macs": summary.macs, "params": summary.parameters,
          "output": summary.output.dimensions, "layers": layers,
        ] as [String: Any])
      return
    }
    let nameWidth = min(48, summary.rows.map(\.path.count).max() ?? 10)
    func pad(_ s: String, _ n: Int, left: Bool = false) -> String {
      s.count >= n ? s : (left ? String(repeating: " ", count: n - s.count) + s : s + String(repeating: " ", count: n - s.count))
    }
    print(pad("layer", nameWidth), pad("output", 20), pad("MACs", 15, left: true), pad("params", 11, left: true), "  kind")
    for r in summary.rows where r.macs > 0 || r.parameters > 0 || r.kind.hasPrefix("MaxPool") || r.kind.hasPrefix("Upsample") {
      print(pad(r.path, nameWidth), pad(r.output.description, 20), pad(group(r.macs), 15, left: true), pad(group(r.parameters), 11, left: true), " ", r.kind)
    }
    print(
      "\(model) @ \(student.inputSize)×\(student.inputSize): \(group(summary.macs)) MACs (\(String(format: "%.3f", Double(summary.macs) / 1e9)) G), "
        + "\(group(summary.parameters)) parameters, output \(summary.output)")
  }

  private func group(_ n: Int) -> String {
    let s = String(n)
    var out = ""
    for (i, c) in s.reversed().enumerated() {
      if i > 0 && i % 3 == 0 { out.append(",") }
      out.append(c)
    }
    return String(out.reversed())
  }
}
