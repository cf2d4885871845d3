/// An ONNX model as the exporter builds it: nodes, constant tensors, and the
/// graph's typed inputs and outputs. `serialized()` writes the ModelProto bytes
/// (field numbers from onnx.proto, IR version 8 for opset 17).
struct ONNXModel {
  enum Attribute {
    case int(Int), ints([Int]), float(Float), string(String)
  }

  struct Node {
    var op: String
    var inputs: [String]
    var outputs: [String]
    var attributes: [(String, Attribute)] = []
  }

  /// A constant: float32 or int64 values with their dimensions.
  struct Initializer {
    enum Values { case float([Float]), int64([Int]) }
    var name: String
    var dims: [Int]
    var values: Values
  }

  /// A dimension of a graph input or output: a number, or a name for a dynamic one.
  enum Dimension { case fixed(Int), named(String) }

  struct ValueInfo {
    var name: String
    var dims: [Dimension]
  }

  static let irVersion = 8
  static let opset = 17

  var graphName: String
  var nodes: [Node] = []
  var initializers: [Initializer] = []
  var inputs: [ValueInfo] = []
  var outputs: [ValueInfo] = []
  var docString = ""

  func serialized(producer: String = "ekd", version: String = "1") -> [UInt8] {
    var model = ProtobufWriter()
    model.int(1, Self.irVersion)
    model.string(2, producer)
    model.string(3, version)
    model.message(7) { graph in
      for node in nodes { graph.message(1) { Self.write(node, &$0) } }
      graph.string(2, graphName)
      for t in initializers { graph.message(5) { Self.write(t, &$0) } }
      if !docString.isEmpty { graph.string(10, docString) }
      for v in inputs { graph.message(11) { Self.write(v, &$0) } }
      for v in outputs { graph.message(12) { Self.write(v, &$0) } }
    }
    model.message(8) { opset in
      opset.string(1, "")
      opset.int(2, Self.opset)
    }
    return model.bytes
  }

  private static func write(_ node: Node, _ w: inout ProtobufWriter) {
    for i in node.inputs { w.string(1, i) }
    for o in node.outputs { w.string(2, o) }
    w.string(3, node.outputs[0])
    w.string(4, node.op)
    for (name, value) in node.attributes {
      w.message(5) { a in
        a.string(1, name)
        switch value {
        case .float(let f):
          a.int(20, 1)
          a.float(2, f)
        case .int(let i):
          a.int(20, 2)
          a.int(3, i)
        case .string(let s):
          a.int(20, 3)
          a.string(4, s)
        case .ints(let v):
          a.int(20, 7)
          for i in v { a.int(8, i) }
        }
      }
    }
  }

  private static func write(_ t: Initializer, _ w: inout ProtobufWriter) {
    for d in t.dims { w.int(1, d) }
    switch t.values {
    case .float(let v):
      w.int(2, 1)
      w.string(8, t.name)
      // Raw little-endian bytes, as ONNX stores them (and as every machine EKD builds for holds them).
      w.bytes(9, v.withUnsafeBytes { Array($0) })
    case .int64(let v):
      w.int(2, 7)
      w.string(8, t.name)
      w.bytes(9, v.map { Int64($0) }.withUnsafeBytes { Array($0) })
    }
  }

  private static func write(_ v: ValueInfo, _ w: inout ProtobufWriter) {
    w.string(1, v.name)
    w.message(2) { type in
      type.message(1) { tensor in
        tensor.int(1, 1)  // FLOAT
        tensor.message(2) { shape in
          for d in v.dims {
            shape.message(1) { dim in
              switch d {
              case .fixed(let n): dim.int(1, n)
              case .named(let s): dim.string(2, s)
              }
            }
          }
        }
      }
    }
  }
}
