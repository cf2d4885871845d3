import EKDModels
import EKDTensor

/// Why a student could not be turned into a graph.
public struct GraphError: Error, CustomStringConvertible {
  public var description: String
}

/// A student's inference computation as a list of ops on numbered values, traced
/// from its own forward and simplified for inference:
/// - a batch norm that directly follows a conv (whose output nothing else reads)
///   is folded into the conv's weights and bias;
/// - a ReLU whose input has no other reader is fused into the op that made it.
///
/// Tracing, not a second definition: the student's forward runs once at batch 1
/// on an inference tape whose `OpTracer` sees every op with its constants, so the
/// graph cannot disagree with the network. `InferencePlan` runs it; EKDONNX
/// writes it as ONNX.
public struct InferenceGraph {
  public enum Op {
    case conv(weight: Tensor, bias: Tensor?, geometry: ConvGeometry)
    /// A batch norm that follows no conv (the hourglass's pre-activation ones), with running statistics.
    case batchNorm(scale: Tensor, shift: Tensor, mean: Tensor, variance: Tensor, epsilon: Float)
    case relu, add
    case concat(axis: Int)
    case maxPool(ConvGeometry, ceilMode: Bool)
    case avgPool(ConvGeometry)
    case globalAvgPool
    case upsample(scale: Int)
  }

  /// Value 0 is the graph's input; node i writes value i + 1.
  public struct Node {
    public var op: Op
    public var inputs: [Int]
    /// max(·, 0) on the output, fused.
    public var relu: Bool
  }

  public var nodes: [Node]
  /// The value the graph returns (the student's final head, [N, 2J, h, w]).
  public var output: Int
  /// The traced input shape (batch 1) and each value's shape at batch 1 (index = value).
  public var shapes: [Shape]

  /// Traces `student` at its input size.
  public static func trace(_ student: Student) throws(GraphError) -> InferenceGraph {
    let tracer = Recorder()
    let tape = Tape(mode: .inference, threads: 1)
    tape.tracer = tracer
    let input = Tensor(zeros: [1, 3, student.inputSize, student.inputSize])
    tracer.name(input, 0)
    let head = student(tape.constant(input)).value
    if let failure = tracer.failure { throw GraphError(description: "\(student.name): \(failure)") }
    guard let output = tracer.ids[head.storageIdentity], tracer.shapes[output] == head.shape else {
      throw GraphError(description: "\(student.name): its output does not come from an op the graph knows")
    }
    return simplify(tracer.records, output: output, shapes: tracer.shapes)
  }

  /// Folds batch norms into the convs before them and fuses single-reader ReLUs.
  static func simplify(_ records: [Recorder.Record], output: Int, shapes: [Shape]) -> InferenceGraph {
    var readers = [Int](repeating: 0, count: records.count + 1)
    for r in records { for i in r.inputs { readers[i] += 1 } }
    readers[output] += 1
    // Each traced value's id in the new graph (values vanish when folded or fused).
    var rename = Array(0...records.count)
    var nodes: [Node] = [], newShapes = [shapes[0]]
    func emit(_ op: Op, _ inputs: [Int], relu: Bool, traced: Int) {
      nodes.append(Node(op: op, inputs: inputs.map { rename[$0] }, relu: relu))
      newShapes.append(shapes[traced])
      rename[traced] = nodes.count
    }
    for (k, r) in records.enumerated() {
      let id = k + 1
      switch r.op {
      case .batchNorm2d(let scale, let shift, let mean, let variance, let epsilon, let relu):
        let source = r.inputs[0]
        if source > 0, readers[source] == 1, let last = nodes.last, rename[source] == nodes.count, case .conv(let w, let b, let g) = last.op, !last.relu {
          let (fw, fb) = fold(weight: w, bias: b, scale: scale, shift: shift, mean: mean, variance: variance, epsilon: epsilon)
          nodes[nodes.count - 1].op = .conv(weight: fw, bias: fb, geometry: g)
          nodes[nodes.count - 1].relu = relu
          newShapes[nodes.count] = shapes[id]
          rename[id] = nodes.count
        } else {
          emit(.batchNorm(scale: scale, shift: shift, mean: mean, variance: variance, epsilon: epsilon), r.inputs, relu: relu, traced: id)
        }
      case .relu:
        let source = r.inputs[0]
        if source > 0, readers[source] == 1, rename[source] == nodes.count, !nodes[nodes.count - 1].relu {
          nodes[nodes.count - 1].relu = true
          rename[id] = nodes.count
        } else {
          emit(.relu, r.inputs, relu: false, traced: id)
        }
      case .conv2d(let w, let b, let g): emit(.conv(weight: w, bias: b, geometry: g), r.inputs, relu: false, traced: id)
      case .add: emit(.add, r.inputs, relu: false, traced: id)
      case .concat(let axis): emit(.concat(axis: axis), r.inputs, relu: false, traced: id)
      case .maxPool2d(let g, let ceil): emit(.maxPool(g, ceilMode: ceil), r.inputs, relu: false, traced: id)
      case .avgPool2d(let g): emit(.avgPool(g), r.inputs, relu: false, traced: id)
      case .globalAvgPool2d: emit(.globalAvgPool, r.inputs, relu: false, traced: id)
      case .upsampleNearest2d(let s): emit(.upsample(scale: s), r.inputs, relu: false, traced: id)
      }
    }
    return InferenceGraph(nodes: nodes, output: rename[output], shapes: newShapes)
  }

  /// W'[o] = W[o]·γ/√(σ²+ε), b'[o] = (b[o] − μ[o])·γ/√(σ²+ε) + β[o], in double precision.
  static func fold(weight: Tensor, bias: Tensor?, scale: Tensor, shift: Tensor, mean: Tensor, variance: Tensor, epsilon: Float) -> (Tensor, Tensor) {
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

/// Numbers every traced value and keeps it alive, so that no buffer is reused
/// under another value's number while tracing.
final class Recorder: OpTracer {
  struct Record {
    var op: TracedOp
    var inputs: [Int]
  }

  private(set) var ids: [ObjectIdentifier: Int] = [:]
  private(set) var records: [Record] = []
  private(set) var shapes: [Shape] = []
  private var kept: [Tensor] = []
  private(set) var failure: String?

  func name(_ t: Tensor, _ id: Int) {
    ids[t.storageIdentity] = id
    kept.append(t)
    shapes.append(t.shape)
  }

  func traced(_ op: TracedOp, inputs: [Tensor], output: Tensor) {
    guard failure == nil else { return }
    var operands: [Int] = []
    for t in inputs {
      // Unknown buffer, or a known buffer under another shape (a view an untraced op made).
      guard let id = ids[t.storageIdentity], shapes[id] == t.shape else {
        failure = "an op reads a value of shape \(t.shape) that no traced op made (the network uses an op the graph does not know)"
        return
      }
      operands.append(id)
    }
    records.append(Record(op: op, inputs: operands))
    name(output, records.count)
  }
}
