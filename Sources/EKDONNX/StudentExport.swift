import EKDHand
import EKDInference
import EKDModels
import EKDTensor
import Foundation

/// Why a student could not be exported.
public struct ExportError: Error, CustomStringConvertible {
  public var description: String
}

/// A trained student as an ONNX inference graph (opset 17), for runtimes other than ours.
///
/// It writes the student's `InferenceGraph`: traced from its own forward, so the
/// export cannot disagree with the network's definition, with batch norms that
/// follow a conv folded into it (the hourglass's pre-activation batch norms,
/// which follow an add, stay BatchNormalization nodes) and fused ReLUs written
/// back as Relu nodes. Then:
/// - the 2.5D decode is appended (slice, softmax over each heatmap, expected
///   (u, v) and z), so the output is `uvz` [batch, 21, 3]: (u, v) in crop pixels
///   and z the latent depth, exactly what `Tape.decode25D` gives;
/// - the batch dimension is dynamic.
///
/// The input `crops` is [batch, 3, S, S], RGB, each pixel value/255 − 0.5, as
/// `ekd predict` and training feed the student.
public enum StudentExport {
  public static func onnx(_ student: Student) throws(ExportError) -> [UInt8] {
    let size = student.inputSize, j = student.jointCount
    let graph: InferenceGraph
    do { graph = try InferenceGraph.trace(student) } catch { throw ExportError(description: "student \(error)") }
    let head = graph.shapes[graph.output]
    guard head.rank == 4, head[1] == 2 * j else {
      throw ExportError(description: "student \(student.name): its output \(head) is not [N, \(2 * j), h, w]")
    }
    var model = ONNXModel(graphName: "ekd_\(student.name)")
    model.docString =
      "EKD student \(student.name) at \(size)x\(size): crops [batch, 3, \(size), \(size)] (RGB, value/255 - 0.5) -> uvz [batch, \(j), 3] "
      + "(u, v in crop pixels; z latent depth, subtract the wrist's)"
    write(graph, into: &model)
    appendDecode(&model, head: name(graph.output), joints: j, height: head[2], width: head[3], crop: size)
    model.inputs = [.init(name: "crops", dims: [.named("batch"), .fixed(3), .fixed(size), .fixed(size)])]
    model.outputs = [.init(name: "uvz", dims: [.named("batch"), .fixed(j), .fixed(3)])]
    return model.serialized()
  }

  static func name(_ value: Int) -> String { value == 0 ? "crops" : "v\(value)" }

  static func write(_ graph: InferenceGraph, into m: inout ONNXModel) {
    func window(_ g: ConvGeometry) -> [(String, ONNXModel.Attribute)] {
      [
        ("kernel_shape", .ints([g.kernelHeight, g.kernelWidth])), ("strides", .ints([g.strideHeight, g.strideWidth])),
        ("pads", .ints([g.padHeight, g.padWidth, g.padHeight, g.padWidth])),
      ]
    }
    for (k, node) in graph.nodes.enumerated() {
      let p = "n\(k + 1)", out = name(k + 1), inputs = node.inputs.map(name)
      let written = node.relu ? out + ".pre_relu" : out
      switch node.op {
      case .conv(let w, let b, let g):
        m.initializers.append(.init(name: p + ".weight", dims: w.shape.dimensions, values: .float(w.scalars)))
        var operands = [inputs[0], p + ".weight"]
        if let b {
          m.initializers.append(.init(name: p + ".bias", dims: [b.count], values: .float(b.scalars)))
          operands.append(p + ".bias")
        }
        m.nodes.append(.init(op: "Conv", inputs: operands, outputs: [written], attributes: window(g)))
      case .batchNorm(let scale, let shift, let mean, let variance, let epsilon):
        m.initializers += [
          .init(name: p + ".scale", dims: [scale.count], values: .float(scale.scalars)),
          .init(name: p + ".shift", dims: [shift.count], values: .float(shift.scalars)),
          .init(name: p + ".mean", dims: [mean.count], values: .float(mean.scalars)),
          .init(name: p + ".var", dims: [variance.count], values: .float(variance.scalars)),
        ]
        m.nodes.append(
          .init(
            op: "BatchNormalization", inputs: [inputs[0], p + ".scale", p + ".shift", p + ".mean", p + ".var"], outputs: [written],
            attributes: [("epsilon", .float(epsilon))]))
      case .relu: m.nodes.append(.init(op: "Relu", inputs: inputs, outputs: [written]))
      case .add: m.nodes.append(.init(op: "Add", inputs: inputs, outputs: [written]))
      case .concat(let axis): m.nodes.append(.init(op: "Concat", inputs: inputs, outputs: [written], attributes: [("axis", .int(axis))]))
      case .maxPool(let g, let ceil):
        m.nodes.append(.init(op: "MaxPool", inputs: inputs, outputs: [written], attributes: window(g) + [("ceil_mode", .int(ceil ? 1 : 0))]))
      case .avgPool(let g):
        m.nodes.append(.init(op: "AveragePool", inputs: inputs, outputs: [written], attributes: window(g) + [("count_include_pad", .int(1))]))
      case .globalAvgPool: m.nodes.append(.init(op: "GlobalAveragePool", inputs: inputs, outputs: [written]))
      case .upsample(let s):
        m.initializers.append(.init(name: p + ".scales", dims: [4], values: .float([1, 1, Float(s), Float(s)])))
        m.nodes.append(
          .init(
            op: "Resize", inputs: [inputs[0], "", p + ".scales"], outputs: [written],
            attributes: [
              ("mode", .string("nearest")), ("coordinate_transformation_mode", .string("asymmetric")), ("nearest_mode", .string("floor")),
            ]))
      }
      if node.relu { m.nodes.append(.init(op: "Relu", inputs: [written], outputs: [out])) }
    }
  }

  /// Soft-argmax of `Tape.decode25D` in ONNX ops, with the same pixel-centre grid.
  static func appendDecode(_ m: inout ONNXModel, head: String, joints j: Int, height h: Int, width w: Int, crop: Int) {
    let grid = Reconstruction.pixelCentres(height: h, width: w, cropWidth: crop, cropHeight: crop)
    m.initializers += [
      .init(name: "decode.grid", dims: [h * w, 2], values: .float(grid)),
      .init(name: "decode.heat_start", dims: [1], values: .int64([0])),
      .init(name: "decode.depth_start", dims: [1], values: .int64([j])),
      .init(name: "decode.depth_end", dims: [1], values: .int64([2 * j])),
      .init(name: "decode.channel_axis", dims: [1], values: .int64([1])),
      .init(name: "decode.flat", dims: [3], values: .int64([0, j, h * w])),  // 0 keeps the batch
      .init(name: "decode.last_axis", dims: [1], values: .int64([-1])),
    ]
    m.nodes += [
      .init(op: "Slice", inputs: [head, "decode.heat_start", "decode.depth_start", "decode.channel_axis"], outputs: ["decode.heatmaps"]),
      .init(op: "Slice", inputs: [head, "decode.depth_start", "decode.depth_end", "decode.channel_axis"], outputs: ["decode.depths"]),
      .init(op: "Reshape", inputs: ["decode.heatmaps", "decode.flat"], outputs: ["decode.logits"]),
      .init(op: "Reshape", inputs: ["decode.depths", "decode.flat"], outputs: ["decode.depth_maps"]),
      .init(op: "Softmax", inputs: ["decode.logits"], outputs: ["decode.p"], attributes: [("axis", .int(-1))]),
      .init(op: "MatMul", inputs: ["decode.p", "decode.grid"], outputs: ["decode.uv"]),
      .init(op: "Mul", inputs: ["decode.p", "decode.depth_maps"], outputs: ["decode.weighted"]),
      .init(op: "ReduceSum", inputs: ["decode.weighted", "decode.last_axis"], outputs: ["decode.z"], attributes: [("keepdims", .int(1))]),
      .init(op: "Concat", inputs: ["decode.uv", "decode.z"], outputs: ["uvz"], attributes: [("axis", .int(-1))]),
    ]
  }
}
