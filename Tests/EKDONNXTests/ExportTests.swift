import EKDLayers
import EKDModels
import EKDONNX
import EKDTensor
import EKDTraining
import Foundation
import Testing
import _EKDTestSupport

let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A Python that has `onnx` and `onnxruntime`: `make setup`'s venv, or python3 itself.
let onnxPython: String? = {
  for python in [repository.appendingPathComponent(".venv-onnx/bin/python").path, "/usr/bin/python3"] {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: python)
    p.arguments = ["-c", "import onnx, onnxruntime, numpy"]
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    guard (try? p.run()) != nil else { continue }
    p.waitUntilExit()
    if p.terminationStatus == 0 { return python }
  }
  print("⚠️  SKIPPING the ONNX Runtime checks: no Python with onnx and onnxruntime; run `make setup` (it creates .venv-onnx)")
  return nil
}()

func crops(count: Int, size: Int) -> Tensor {
  var rng = SeededRandom(seed: 11)
  return Tensor(shape: [count, 3, size, size], scalars: (0..<(count * 3 * size * size)).map { _ in Float(Double(rng.next() >> 11) / Double(1 << 53)) - 0.5 })
}

@Suite struct ONNXExport {
  /// The exported graph, run by ONNX Runtime, gives `ekd predict`'s (u, v, z) to 1e-4
  /// relative, at a batch other than the traced one (the batch is dynamic), for every
  /// student `make bench` runs and the demo student.
  @Test(
    .enabled(if: onnxPython != nil, "no Python with onnx and onnxruntime: run `make setup`"),
    arguments: [("tiny", 64), ("small", 64), ("squeezenet1_1", 128), ("squeezenet1_0", 128), ("resnet50", 128), ("ts500m", 64), ("ts20g", 64)])
  func onnxRuntimeMatchesOurDecode(student name: String, inputSize: Int) throws {
    let student = try studentWithMovedStatistics(name, inputSize: inputSize)
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ekd-onnx-\(getpid())-\(name)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let model = dir.appendingPathComponent("model.onnx"), x = dir.appendingPathComponent("crops.f32"), y = dir.appendingPathComponent("uvz.f32")
    try Data(StudentExport.onnx(student)).write(to: model)
    let input = crops(count: 3, size: inputSize)
    try input.scalars.withUnsafeBytes { try Data($0).write(to: x) }
    try Predictor.decode(student, crops: input).scalars.withUnsafeBytes { try Data($0).write(to: y) }
    let p = Process(), out = Pipe()
    p.executableURL = URL(fileURLWithPath: onnxPython!)
    p.arguments = [repository.appendingPathComponent("scripts/onnx_check.py").path, model.path, x.path, y.path]
    p.standardOutput = out
    p.standardError = out
    try p.run()
    let report = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    print("onnx_check \(name): \(report)")
    #expect(p.terminationStatus == 0, "\(report)")
    #expect(report.contains("\"opset\": 17"), "\(report)")
  }

  /// Batch norms that follow a conv leave no BatchNormalization node behind, and
  /// the decode's ops are there.
  @Test func batchNormIsFoldedIntoConvs() throws {
    let bytes = try StudentExport.onnx(try studentWithMovedStatistics("tiny", inputSize: 64))
    let text = String(decoding: bytes, as: UTF8.self)
    #expect(!text.contains("BatchNormalization"))
    for op in ["Conv", "Softmax", "ReduceSum", "MatMul", "crops", "uvz"] { #expect(text.contains(op), "\(op)") }
  }
}
