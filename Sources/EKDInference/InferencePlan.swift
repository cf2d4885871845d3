import EKDModels
import EKDTensor
import Foundation

/// Runs an `InferenceGraph` with the kernels directly: no tape, convs with their
/// batch norm folded in and their ReLU applied to each tile right after its GEMM,
/// and every intermediate value released after its last reader.
///
/// Built once per student (a batch-1 trace), then run on any batch size.
public final class InferencePlan {
  public let graph: InferenceGraph
  /// For each value, the index of the last node that reads it (the output: never freed).
  private let lastUse: [Int]

  /// For a conv whose only reader is a channel concat: that concat's node and the
  /// channel where this conv's output starts in it. The conv writes there, and the
  /// concat has nothing left to copy.
  private let concatSlot: [Int: (concat: Int, channel: Int)]

  /// For a conv whose only reader is an add: that add's node and its other operand,
  /// which exists before the conv runs (a ResNet block's shortcut). The conv adds it
  /// (and the add's ReLU) in its epilogue, and the add has nothing left to do.
  private let residualFor: [Int: (add: Int, residual: Int)]

  /// For a shallow conv on `DirectConv`'s path (at most 32 taps: squeezenet1_1's 3×3
  /// stem) whose only reader is a stride-2 max pool: that pool's node. The conv pools
  /// each band of its output while it is in cache, and the pool has nothing left to do.
  /// A deep stem (ResNet's 7×7, 147 taps) is bound by its FMAs, not its stores, and was
  /// no faster fused (docs/performance.md).
  private let pooledBy: [Int: Int]

  /// Winograd's transformed weights of the 3×3 convs that may take that path, made once.
  private let winograd: [Int: Tensor]

  /// `ChannelConv`'s packed weights of the convs on small planes, made once.
  private let channelPacked: [Int: Tensor]

  /// How many concats the plan never copies (their convs write into them).
  public var concatsWrittenInPlace: Int { Set(concatSlot.values.map(\.concat)).count }
  /// How many adds the plan folds into the conv before them.
  public var addsFoldedIntoConvs: Int { residualFor.count }
  /// How many max pools the plan runs inside the conv before them.
  public var poolsFusedIntoConvs: Int { pooledBy.count }

  public init(_ student: Student) throws(GraphError) {
    let graph = try InferenceGraph.trace(student)
    self.graph = graph
    var last = [Int](repeating: -1, count: graph.nodes.count + 1)
    var readers = [Int](repeating: 0, count: graph.nodes.count + 1)
    for (k, node) in graph.nodes.enumerated() {
      for i in node.inputs {
        last[i] = k
        readers[i] += 1
      }
    }
    last[graph.output] = Int.max
    lastUse = last
    var slots: [Int: (concat: Int, channel: Int)] = [:]
    for (k, node) in graph.nodes.enumerated() {
      guard case .concat(let axis) = node.op, axis == 1, !node.relu, Set(node.inputs).count == node.inputs.count else { continue }
      let producers = node.inputs.map { $0 - 1 }
      guard
        producers.allSatisfy({ p in
          guard p >= 0, readers[p + 1] == 1, p + 1 != graph.output, case .conv = graph.nodes[p].op else { return false }
          return true
        })
      else { continue }
      var channel = 0
      for p in producers {
        slots[p] = (k, channel)
        channel += graph.shapes[p + 1][1]
      }
    }
    concatSlot = slots
    var residuals: [Int: (add: Int, residual: Int)] = [:]
    for (k, node) in graph.nodes.enumerated() {
      guard case .add = node.op, node.inputs.count == 2, node.inputs[0] != node.inputs[1] else { continue }
      for (mine, other) in [(node.inputs[0], node.inputs[1]), (node.inputs[1], node.inputs[0])] {
        let p = mine - 1
        guard p >= 0, other < mine, readers[mine] == 1, mine != graph.output, slots[p] == nil, residuals[p] == nil,
          !graph.nodes[p].relu, case .conv = graph.nodes[p].op
        else { continue }
        residuals[p] = (k, other)
        break
      }
    }
    residualFor = residuals
    var pooled: [Int: Int] = [:]
    for (k, node) in graph.nodes.enumerated() {
      guard case .maxPool(let pool, _) = node.op, !node.relu, PoolingKernel.Max.hasVectorKernel(pool) else { continue }
      let p = node.inputs[0] - 1
      guard p >= 0, readers[p + 1] == 1, slots[p] == nil, residuals[p] == nil, case .conv(let w, _, let g) = graph.nodes[p].op,
        w.shape[1] * g.kernelHeight * g.kernelWidth <= 32,
        DirectConv.applies(inputChannels: w.shape[1], outputChannels: w.shape[0], geometry: g, outputWidth: graph.shapes[p + 1][3])
      else { continue }
      pooled[p] = k
    }
    pooledBy = pooled
    var transformed: [Int: Tensor] = [:]
    for (k, node) in graph.nodes.enumerated() {
      guard case .conv(let w, _, let g) = node.op, residuals[k] == nil,
        Winograd.applies(inputChannels: w.shape[1], outputChannels: w.shape[0], geometry: g)
      else { continue }
      transformed[k] = Winograd.transformedWeights(w)
    }
    winograd = transformed
    var packed: [Int: Tensor] = [:]
    for (k, node) in graph.nodes.enumerated() {
      guard case .conv(let w, _, let g) = node.op, residuals[k] == nil, pooled[k] == nil,
        ChannelConv.applies(inputChannels: w.shape[1], outputChannels: w.shape[0], geometry: g, outputWidth: graph.shapes[k + 1][3])
      else { continue }
      packed[k] = ChannelConv.pack(w)
    }
    channelPacked = packed
  }

  /// The student's final head [N, 2J, h, w] for crops [N, 3, S, S].
  ///
  /// With several threads and a batch that shares out evenly (a multiple of the
  /// threads, or at least four images per thread), each thread runs whole images
  /// on its own, one at a time: the ops of a small student are too short to share
  /// between threads, and images need no synchronisation at all (docs/performance.md).
  public func run(_ input: Tensor, threads: Int = 1) -> Tensor {
    precondition(
      input.shape.rank == 4 && Array(input.shape.dimensions.dropFirst()) == Array(graph.shapes[0].dimensions.dropFirst()),
      "inference plan for \(graph.shapes[0]) given \(input.shape)")
    let n = input.shape[0]
    guard Self.imageParallel, threads > 1, n >= threads, n % threads == 0 || n >= 4 * threads else { return runImages(input, threads: threads) }
    // Each thread runs images one at a time, taking the next as it finishes one: one
    // image's activations stay in L2/L3 from a layer to the next, where four images'
    // spilled to memory (squeezenet1_1's 64×111×111 stem output is 3 MB an image).
    let outputs = Parallel.collect(n) { slots in
      Parallel.each(n, threads: threads) { i in slots[i] = runImages(input.items(i..<(i + 1)), threads: 1) }
    }.compactMap { $0 }
    var shape = outputs[0].shape
    shape[0] = n
    var y = Tensor(uninitialized: shape)
    var offset = 0
    let out = y.mutablePointer
    for part in outputs {
      part.withUnsafeBufferPointer { (out + offset).update(from: $0.baseAddress!, count: $0.count) }
      offset += part.count
    }
    return y
  }

  /// Off for A/B measurements (`EKD_AB_NO_IMAGES=1`), read once.
  static let imageParallel = ProcessInfo.processInfo.environment["EKD_AB_NO_IMAGES"] == nil

  /// Where one run's time goes: seconds per node, every op over the whole of `input` on
  /// `threads` (as `run` does when it does not share images out), with what each node is.
  /// The benchmark prints it beside the throughput.
  public func profile(_ input: Tensor, threads: Int) -> [(node: Int, kind: String, seconds: Double)] {
    var seconds = [Double](repeating: 0, count: graph.nodes.count)
    _ = runImages(input, threads: threads) { seconds[$0] += $1 }
    return seconds.enumerated().map { ($0.offset, kind(of: $0.offset), $0.element) }
  }

  /// A node as a profile names it, e.g. "conv k3x3 s1 p1 64→256 @13×13 Winograd → concat".
  private func kind(of k: Int) -> String {
    let node = graph.nodes[k]
    switch node.op {
    case .conv(let w, _, let g):
      let input = graph.shapes[node.inputs[0]]
      var s = "conv \(g) \(w.shape[1])→\(w.shape[0]) @\(input[2])×\(input[3])"
      if winograd[k] != nil { s += " (Winograd-capable)" }
      if channelPacked[k] != nil { s += " (channel-vectorized)" }
      if concatSlot[k] != nil { s += " → concat" }
      if pooledBy[k] != nil { s += " → max pool" }
      if residualFor[k] != nil { s += " + shortcut" }
      return s
    case .batchNorm: return "batchNorm"
    case .relu: return "relu"
    case .add: return residualFor.values.contains { $0.add == k } ? "add (in its conv)" : "add"
    case .concat: return concatSlot.values.contains { $0.concat == k } ? "concat (in place)" : "concat"
    case .maxPool(let g, _): return pooledBy.values.contains(k) ? "maxPool \(g) (in its conv)" : "maxPool \(g)"
    case .avgPool(let g): return "avgPool \(g)"
    case .globalAvgPool: return "globalAvgPool"
    case .upsample(let s): return "upsample ×\(s)"
    }
  }

  /// `run` on one thread group: every op over the whole of `input`; `timing` hears each
  /// node's seconds.
  private func runImages(_ input: Tensor, threads: Int, timing: ((Int, Double) -> Void)? = nil) -> Tensor {
    var values = [Tensor?](repeating: nil, count: graph.nodes.count + 1)
    values[0] = input
    let glue = Tape(mode: .inference, threads: threads)
    for (k, node) in graph.nodes.enumerated() {
      let start = timing == nil ? 0 : DispatchTime.now().uptimeNanoseconds
      defer { timing?(k, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9) }
      if values[k + 1] != nil {
        // Written by the convs before it (a concat, or an add folded into its conv).
        for i in node.inputs where lastUse[i] == k { values[i] = nil }
        continue
      }
      let x = node.inputs.map { values[$0]! }
      var y: Tensor
      switch node.op {
      case .conv(let w, let b, let g):
        // Where the output goes: its own value; a channel slice of the concat that reads
        // it (allocated by the first of its convs); or the add that reads it, with the
        // shortcut added and the add's ReLU applied in the conv's epilogue.
        var (slot, shape, channelOffset, imageStride) = (k + 1, Conv2dKernel.outputShape(input: x[0].shape, weight: w.shape, geometry: g), 0, Int?.none)
        if let pool = pooledBy[k], case .maxPool(let pg, let ceil) = graph.nodes[pool].op {
          values[pool + 1] = DirectConv.forwardPooled(x[0], weight: w, bias: b, geometry: g, relu: node.relu, pool: pg, ceilMode: ceil, threads: threads)
          for i in node.inputs where lastUse[i] == k { values[i] = nil }
          continue
        }
        var (relu, shortcut) = (node.relu, Tensor?.none)
        if let (concat, channel) = concatSlot[k] {
          let whole = graph.shapes[concat + 1]
          shape[1] = whole[1]
          (slot, channelOffset, imageStride) = (concat + 1, channel * whole[2] * whole[3], whole.count)
        } else if let (add, residual) = residualFor[k] {
          (slot, relu, shortcut) = (add + 1, graph.nodes[add].relu, values[residual]!)
        }
        if values[slot] == nil { values[slot] = Tensor(uninitialized: shape) }
        Conv2dKernel.forward(
          x[0], weight: w, bias: b, geometry: g, threads: threads, relu: relu, residual: shortcut?.pointer, winograd: winograd[k],
          channelPacked: channelPacked[k],
          into: values[slot]!.mutablePointer + channelOffset, imageStride: imageStride)
        withExtendedLifetime(shortcut) {}
        for i in node.inputs where lastUse[i] == k { values[i] = nil }
        continue
      case .batchNorm(let scale, let shift, let mean, let variance, let epsilon):
        y =
          BatchNormKernel.forward(
            x[0], scale: scale, shift: shift, runningMean: mean, runningVariance: variance, useBatch: false, epsilon: epsilon, relu: node.relu,
            threads: threads
          ).y
      case .relu: y = glue.constant(x[0]).relu().value
      case .add: y = (glue.constant(x[0]) + glue.constant(x[1])).value
      case .concat(let axis): y = glue.concat(x.map { glue.constant($0) }, axis: axis).value
      case .maxPool(let g, let ceil): y = glue.maxPool2d(glue.constant(x[0]), geometry: g, ceilMode: ceil).value
      case .avgPool(let g): y = glue.avgPool2d(glue.constant(x[0]), geometry: g).value
      case .globalAvgPool: y = glue.globalAvgPool2d(glue.constant(x[0])).value
      case .upsample(let s): y = glue.upsampleNearest2d(glue.constant(x[0]), scale: s).value
      }
      if node.relu {
        switch node.op {
        case .conv, .batchNorm: break  // fused in the kernel
        default: y.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] = Swift.max(p[i], 0) } }
        }
      }
      values[k + 1] = y
      for i in node.inputs where lastUse[i] == k { values[i] = nil }
    }
    return values[graph.output]!
  }
}
