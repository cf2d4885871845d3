import EKDHand
import EKDModels
import EKDTensor
import Foundation

/// Why a student could not be exported.
public struct ExportError: Error, CustomStringConvertible {
  public var description: String
}

/// A trained student as an ONNX inference graph (opset 17), for runtimes other than ours.
///
/// The graph is traced, not written by hand: the student's own forward runs once
/// on an inference tape whose `tracer` records every op with its constants, so
/// the export can never disagree with the network's definition. Then:
/// - a batch norm that directly follows a conv (whose output nothing else reads)
///   is folded into the conv's weights and bias; the hourglass's pre-activation
///   batch norms, which follow an add, stay BatchNormalization nodes;
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
    let tracer = GraphTracer()
    let tape = Tape(mode: .inference, threads: 1)
    tape.tracer = tracer
    let input = Tensor(zeros: [1, 3, size, size])
    tracer.name(input, "crops")
    let head = student(tape.constant(input)).value
    if let failure = tracer.failure { throw ExportError(description: "student \(student.name): \(failure)") }
    guard let headName = tracer.names[head.storageIdentity], head.shape.rank == 4, head.shape[1] == 2 * j else {
      throw ExportError(description: "student \(student.name): its output \(head.shape) does not come from traced ops, or is not [N, \(2 * j), h, w]")
    }
    var model = ONNXModel(graphName: "ekd_\(student.name)")
    model.docString =
      "EKD student \(student.name) at \(size)x\(size): crops [batch, 3, \(size), \(size)] (RGB, value/255 - 0.5) -> uvz [batch, \(j), 3] "
      + "(u, v in crop pixels; z latent depth relative to nothing, subtract the wrist's)"
    tracer.emit(into: &model)
    appendDecode(&model, head: headName, joints: j, height: head.shape[2], width: head.shape[3], crop: size)
    model.inputs = [.init(name: "crops", dims: [.named("batch"), .fixed(3), .fixed(size), .fixed(size)])]
    model.outputs = [.init(name: "uvz", dims: [.named("batch"), .fixed(j), .fixed(3)])]
    return model.serialized()
  }

  /// Soft-argmax of `Tape.decode25D` in ONNX ops, with the same pixel-centre grid.
  static func appendDecode(_ m: inout ONNXModel, head: String, joints j: Int, height h: Int, width w: Int, crop: Int) {
    let sx = Float(crop) / Float(w), sy = Float(crop) / Float(h)
    var grid = [Float](repeating: 0, count: h * w * 2)
    for y in 0..<h {
      for x in 0..<w {
        grid[2 * (y * w + x)] = (Float(x) + 0.5) * sx - 0.5
        grid[2 * (y * w + x) + 1] = (Float(y) + 0.5) * sy - 0.5
      }
    }
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

/// Names every traced value, keeps it alive (so no buffer is reused under a
/// name), and turns the ops into ONNX nodes, folding batch norm into convs.
final class GraphTracer: OpTracer {
  struct Record {
    var op: TracedOp
    var inputs: [String]
    var output: String
  }

  private(set) var names: [ObjectIdentifier: String] = [:]
  private var kept: [Tensor] = []
  private var records: [Record] = []
  private(set) var failure: String?

  func name(_ t: Tensor, _ name: String) {
    names[t.storageIdentity] = name
    kept.append(t)
  }

  func traced(_ op: TracedOp, inputs: [Tensor], output: Tensor) {
    guard failure == nil else { return }
    var operands: [String] = []
    for t in inputs {
      guard let n = names[t.storageIdentity] else {
        failure = "an op reads a value of shape \(t.shape) that no exportable op made (the network uses an op ONNX export does not know)"
        return
      }
      operands.append(n)
    }
    let out = "t\(records.count)"
    records.append(Record(op: op, inputs: operands, output: out))
    name(output, out)
  }

  func emit(into m: inout ONNXModel) {
    var readers: [String: Int] = [:]
    for r in records { for i in r.inputs { readers[i, default: 0] += 1 } }
    // Convs whose only reader is a batch norm: the norm is folded in, and the
    // conv's node is written when the norm comes (so the renaming is local).
    var pending: [String: Record] = [:]
    for (k, r) in records.enumerated() {
      let p = "n\(k)"
      switch r.op {
      case .conv2d(let weight, let bias, _):
        let reader = records[(k + 1)...].first { $0.inputs.contains(r.output) }
        if readers[r.output] == 1, let reader, case .batchNorm2d = reader.op {
          pending[r.output] = r
        } else {
          conv(&m, p, r, weight: weight, bias: bias, output: r.output)
        }
      case .batchNorm2d(let scale, let shift, let mean, let variance, let epsilon, let relu):
        let normed = relu ? r.output + ".pre_relu" : r.output
        if let c = pending.removeValue(forKey: r.inputs[0]), case .conv2d(let weight, let bias, _) = c.op {
          let (w, b) = fold(weight: weight, bias: bias, scale: scale, shift: shift, mean: mean, variance: variance, epsilon: epsilon)
          conv(&m, p, c, weight: w, bias: b, output: normed)
        } else {
          m.initializers += [
            .init(name: p + ".scale", dims: [scale.count], values: .float(scale.scalars)),
            .init(name: p + ".shift", dims: [shift.count], values: .float(shift.scalars)),
            .init(name: p + ".mean", dims: [mean.count], values: .float(mean.scalars)),
            .init(name: p + ".var", dims: [variance.count], values: .float(variance.scalars)),
          ]
          m.nodes.append(
            .init(
              op: "BatchNormalization", inputs: [r.inputs[0], p + ".scale", p + ".shift", p + ".mean", p + ".var"], outputs: [normed],
              attributes: [("epsilon", .float(epsilon))]))
        }
        if relu { m.nodes.append(.init(op: "Relu", inputs: [normed], outputs: [r.output])) }
      case .relu: m.nodes.append(.init(op: "Relu", inputs: r.inputs, outputs: [r.output]))
      case .add: m.nodes.append(.init(op: "Add", inputs: r.inputs, outputs: [r.output]))
      case .concat(let axis): m.nodes.append(.init(op: "Concat", inputs: r.inputs, outputs: [r.output], attributes: [("axis", .int(axis))]))
      case .maxPool2d(let g, let ceil):
        m.nodes.append(.init(op: "MaxPool", inputs: r.inputs, outputs: [r.output], attributes: window(g) + [("ceil_mode", .int(ceil ? 1 : 0))]))
      case .avgPool2d(let g):
        m.nodes.append(.init(op: "AveragePool", inputs: r.inputs, outputs: [r.output], attributes: window(g) + [("count_include_pad", .int(1))]))
      case .globalAvgPool2d: m.nodes.append(.init(op: "GlobalAveragePool", inputs: r.inputs, outputs: [r.output]))
      case .upsampleNearest2d(let s):
        m.initializers.append(.init(name: p + ".scales", dims: [4], values: .float([1, 1, Float(s), Float(s)])))
        m.nodes.append(
          .init(
            op: "Resize", inputs: [r.inputs[0], "", p + ".scales"], outputs: [r.output],
            attributes: [
              ("mode", .string("nearest")), ("coordinate_transformation_mode", .string("asymmetric")), ("nearest_mode", .string("floor")),
            ]))
      }
    }
  }

  private func window(_ g: ConvGeometry) -> [(String, ONNXModel.Attribute)] {
    [
      ("kernel_shape", .ints([g.kernelHeight, g.kernelWidth])), ("strides", .ints([g.strideHeight, g.strideWidth])),
      ("pads", .ints([g.padHeight, g.padWidth, g.padHeight, g.padWidth])),
    ]
  }

  private func conv(_ m: inout ONNXModel, _ p: String, _ r: Record, weight: Tensor, bias: Tensor?, output: String) {
    guard case .conv2d(_, _, let g) = r.op else { return }
    m.initializers.append(.init(name: p + ".weight", dims: weight.shape.dimensions, values: .float(weight.scalars)))
    var inputs = [r.inputs[0], p + ".weight"]
    if let bias {
      m.initializers.append(.init(name: p + ".bias", dims: [bias.count], values: .float(bias.scalars)))
      inputs.append(p + ".bias")
    }
    m.nodes.append(.init(op: "Conv", inputs: inputs, outputs: [output], attributes: window(g)))
  }

  /// W'[o] = W[o]·γ/√(σ²+ε), b'[o] = (b[o] − μ[o])·γ/√(σ²+ε) + β[o], in double precision.
  private func fold(weight: Tensor, bias: Tensor?, scale: Tensor, shift: Tensor, mean: Tensor, variance: Tensor, epsilon: Float) -> (Tensor, Tensor) {
    let o = weight.shape[0], per = weight.count / o
    var w = weight.scalars, b = [Float](repeating: 0, count: o)
    let (g, beta, mu, v, b0) = (scale.scalars, shift.scalars, mean.scalars, variance.scalars, bias?.scalars)
    for c in 0..<o {
      let s = Double(g[c]) / (Double(v[c]) + Double(epsilon)).squareRoot()
      for i in 0..<per { w[c * per + i] = Float(Double(w[c * per + i]) * s) }
      b[c] = Float((Double(b0?[c] ?? 0) - Double(mu[c])) * s + Double(beta[c]))
    }
    return (Tensor(shape: weight.shape, scalars: w), Tensor(shape: [o], scalars: b))
  }
}
