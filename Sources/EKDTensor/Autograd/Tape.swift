import Dispatch

/// A Wengert list of coarse ops, replayed backwards to compute gradients.
///
/// Each forward op appends one record holding a pullback closure that calls the
/// op's backward kernel. Backward walks the records in reverse; gradients live
/// in an array indexed by variable id, so the walk is deterministic, and each
/// intermediate gradient is released as soon as its record has run.
///
/// Backward kernels *accumulate* (`+=`) into the gradient buffers they are
/// handed, so fan-out (a skip connection, a fire module's two expands) needs no
/// special op. A `Parameter`'s gradient buffer is `parameter.grad` itself: two
/// backward passes without `zeroGradients()` in between add up, as in PyTorch.
///
/// In `.inference` mode nothing is recorded: ops compute values only.
public final class Tape {
  public enum Mode: Sendable { case training, inference }

  /// Training: record for backward, batch norm uses batch statistics.
  public let mode: Mode
  /// Workers for the kernels of ops recorded on this tape (and for BLAS).
  public let threads: Int
  /// In training mode, whether batch norm also updates its running statistics.
  /// Gradient checks turn this off so that probing a layer does not change it.
  public var updatesRunningStatistics = true
  /// Set on a shape-only tape (EKDLayers' shape pass): layers report to it and
  /// return placeholders instead of running their kernels. Nil otherwise.
  public var observer: AnyObject?
  /// Set by an exporter on an inference tape: traced ops report themselves to it.
  public var tracer: (any OpTracer)?
  /// Set on the training tapes of a data-parallel run: batch norm then normalises
  /// with the statistics of the global batch (synchronised BN).
  public var replicas: (any ReplicaGroup)?
  /// Called during `backward` with each parameter whose gradient is complete (its
  /// earliest use has been backpropagated), in an order fixed by the graph: data-parallel
  /// training starts summing a bucket of gradients while backward goes on.
  public var parameterGradientReady: ((Parameter) -> Void)?

  /// A backward function: `dy` is the gradient of the op's output; `dx[i]` is
  /// the gradient buffer of input i (to be accumulated into), or nil when that
  /// input needs no gradient.
  public typealias Pullback = (_ dy: Tensor, _ dx: [UnsafeMutablePointer<Float>?]) -> Void

  struct Record {
    let output: Int
    let inputs: [Int]
    let name: String
    let pullback: Pullback
  }

  /// Time spent per op kind, when profiling (`enableProfiling()`): forward time
  /// is the time since the previous op was recorded (so it includes the glue
  /// between ops), backward time is the pullback's own.
  public struct OpProfile: Sendable {
    public var forward: Double = 0, backward: Double = 0, calls = 0
  }
  public private(set) var profile: [String: OpProfile]?
  private var lastMark: UInt64 = 0

  /// Starts attributing time to op kinds (named by the function that recorded them).
  public func enableProfiling() {
    profile = [:]
    lastMark = DispatchTime.now().uptimeNanoseconds
  }

  private func markForward(_ name: String) {
    guard profile != nil else { return }
    let now = DispatchTime.now().uptimeNanoseconds
    profile![name, default: OpProfile()].forward += Double(now - lastMark) * 1e-9
    profile![name, default: OpProfile()].calls += 1
    lastMark = now
  }

  private var records: [Record] = []
  private var backwardDone = false
  private var shapes: [Shape] = []
  private var needsGradient: [Bool] = []
  private var gradients: [Tensor?] = []
  private var leafParameters: [Int: Parameter] = [:]
  private var parameterIDs: [ObjectIdentifier: Int] = [:]

  public init(mode: Mode = .training, threads: Int = 1) {
    precondition(threads >= 1, "threads must be at least 1")
    self.mode = mode
    self.threads = threads
  }

  public var isRecording: Bool { mode == .training }
  /// Number of recorded ops (0 in inference mode).
  public var recordCount: Int { records.count }

  private func newID(_ shape: Shape, needsGradient: Bool) -> Int {
    shapes.append(shape)
    self.needsGradient.append(needsGradient)
    gradients.append(nil)
    return shapes.count - 1
  }

  /// A value that takes no gradient (an image, a label).
  public func constant(_ value: Tensor) -> Variable { Variable(value: value, id: -1, tape: self) }

  /// A leaf whose gradient `gradient(of:)` returns after `backward`.
  public func input(_ value: Tensor, requiresGradient: Bool = true) -> Variable {
    guard isRecording, requiresGradient else { return constant(value) }
    return Variable(value: value, id: newID(value.shape, needsGradient: true), tape: self)
  }

  /// The variable of a trainable parameter; its gradient accumulates into `parameter.grad`.
  /// Repeated calls on one tape return the same leaf.
  public func variable(_ parameter: Parameter) -> Variable {
    guard isRecording, parameter.isTrainable else { return constant(parameter.value) }
    if let id = parameterIDs[ObjectIdentifier(parameter)] {
      return Variable(value: parameter.value, id: id, tape: self)
    }
    let id = newID(parameter.value.shape, needsGradient: true)
    parameterIDs[ObjectIdentifier(parameter)] = id
    leafParameters[id] = parameter
    return Variable(value: parameter.value, id: id, tape: self)
  }

  /// Records an op whose forward value is already computed.
  ///
  /// This is the one entry point every op uses, and the one `EKDLosses` uses
  /// for its coarse geometric ops. Nothing is recorded when no input needs a
  /// gradient or the tape is in inference mode.
  ///
  /// The pullback must capture tensors (`x.value`), never `Variable`s: a
  /// variable holds its tape, and a record holding the tape would keep every
  /// activation of every step alive.
  public func record(
    _ output: Tensor, inputs: [Variable], name: String = #function, pullback: @escaping Pullback
  ) -> Variable {
    markForward(name)
    guard isRecording else { return constant(output) }
    let ids = inputs.map { $0.id >= 0 && needsGradient[$0.id] ? $0.id : -1 }
    guard ids.contains(where: { $0 >= 0 }) else { return constant(output) }
    let id = newID(output.shape, needsGradient: true)
    records.append(Record(output: id, inputs: ids, name: name, pullback: pullback))
    return Variable(value: output, id: id, tape: self)
  }

  /// Propagates d(output)/d(·) back through every record.
  ///
  /// Backward consumes the records: each op's pullback, with the activations it
  /// saved, is released as soon as it has run, so a training step's memory falls
  /// through backward instead of holding every activation to the end. A tape is
  /// therefore backpropagated once.
  ///
  /// - Parameter seed: the gradient of the output; ones when nil (so for a
  ///   scalar loss, the usual dL/dL = 1).
  public func backward(from output: Variable, seed: Tensor? = nil) {
    precondition(isRecording, "backward on an inference tape")
    precondition(!backwardDone, "backward twice on one tape: the first released the records")
    guard output.id >= 0 else { return }
    backwardDone = true
    let s = seed ?? Tensor(repeating: 1, shape: output.value.shape)
    precondition(s.shape == output.value.shape, "seed \(s.shape) for output \(output.value.shape)")
    accumulate(s, into: output.id)
    // Each parameter's earliest record: once backward has passed it, the gradient is complete.
    var completes: [Int: [Parameter]] = [:]
    if parameterGradientReady != nil {
      var earliest: [Int: Int] = [:]
      for (index, record) in records.enumerated() {
        for id in record.inputs where id >= 0 && leafParameters[id] != nil && earliest[id] == nil { earliest[id] = index }
      }
      for (id, index) in earliest.sorted(by: { $0.key < $1.key }) { completes[index, default: []].append(leafParameters[id]!) }
    }
    while let record = records.popLast() {
      defer { if let done = completes[records.count] { for p in done { parameterGradientReady?(p) } } }
      guard record.output <= output.id, let dy = gradients[record.output] else { continue }
      var dx = [UnsafeMutablePointer<Float>?](repeating: nil, count: record.inputs.count)
      for (k, id) in record.inputs.enumerated() where id >= 0 { dx[k] = gradientPointer(id) }
      if profile != nil {
        let t0 = DispatchTime.now().uptimeNanoseconds
        record.pullback(dy, dx)
        profile![record.name, default: OpProfile()].backward += Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
      } else {
        record.pullback(dy, dx)
      }
      gradients[record.output] = nil
    }
  }

  /// The gradient of an `input(_:)` leaf after `backward`, or nil if none reached it.
  public func gradient(of variable: Variable) -> Tensor? {
    guard variable.id >= 0 else { return nil }
    if let p = leafParameters[variable.id] { return p.grad }
    return gradients[variable.id]
  }

  private func gradientPointer(_ id: Int) -> UnsafeMutablePointer<Float> {
    if let p = leafParameters[id] { return p.gradPointer() }
    if gradients[id] == nil { gradients[id] = Tensor(zeros: shapes[id]) }
    return gradients[id]!.mutablePointer
  }

  private func accumulate(_ g: Tensor, into id: Int) {
    let p = gradientPointer(id)
    let q = g.pointer
    for i in 0..<g.count { p[i] += q[i] }
  }
}
