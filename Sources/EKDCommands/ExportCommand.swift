import ArgumentParser
import EKDModels
import EKDONNX
import EKDTensor
import EKDTraining
import Foundation

/// `ekd export`: a trained student as an ONNX file (docs/using-ekd.md).
struct ExportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "export",
    abstract: "Write a trained student as an ONNX inference graph (opset 17, BN folded, 2.5D decode included, dynamic batch).",
    discussion: """
      Input `crops` [batch, 3, S, S]: RGB crops, each value/255 - 0.5, framed as `ekd predict` frames them. \
      Output `uvz` [batch, 21, 3]: (u, v) in crop pixels and the latent depth z, as `ekd predict` decodes them. \
      The teacher (offset network, bounds) is not part of the graph.
      """)

  @Option(help: "Checkpoint directory or .safetensors file from `ekd train`.") var checkpoint: String
  @Option(help: "Where to write the ONNX file.") var onnx: String

  func run() throws {
    let student: Student
    do { student = try Trainer.student(fromCheckpoint: checkpoint).0 } catch { throw CommandFailure(error.description) }
    let bytes: [UInt8]
    do { bytes = try StudentExport.onnx(student) } catch { throw CommandFailure(error.description) }
    do { try AtomicFile.write(Data(bytes), to: URL(fileURLWithPath: onnx)) } catch { throw CommandFailure(error.description) }
    print("wrote \(onnx): \(student.name) at \(student.inputSize)², \(bytes.count) bytes")
  }
}
