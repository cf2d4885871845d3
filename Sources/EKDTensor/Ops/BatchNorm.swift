extension Tape {
  /// Batch norm over N, H, W per channel (see `BatchNormKernel`): batch
  /// statistics on a `.training` tape, which also moves the running averages
  /// unless `updatesRunningStatistics` is off; the running ones otherwise.
  /// `relu` fuses a following ReLU, `residual` an add before it (a ResNet block's
  /// end: one pass instead of three, and one activation kept instead of three).
  /// An exporter's tape sees the separate ops, as its graph names them.
  public func batchNorm2d(
    _ x: Variable, scale gamma: Variable, shift beta: Variable,
    runningMean: Parameter, runningVariance: Parameter,
    momentum: Float = 0.1, epsilon: Float = 1e-5, relu: Bool = false, residual: Variable? = nil
  ) -> Variable {
    if let residual, tracer != nil {
      let y =
        batchNorm2d(
          x, scale: gamma, shift: beta, runningMean: runningMean, runningVariance: runningVariance, momentum: momentum,
          epsilon: epsilon) + residual
      return relu ? y.relu() : y
    }
    let (xs, gs) = (x.value, gamma.value)
    let group = mode == .training ? replicas : nil
    precondition(xs.shape.rank >= 2, "batchNorm2d wants [N, C, ...], got \(xs.shape)")
    let c = xs.shape[1]
    precondition(gs.count == c && beta.value.count == c && runningMean.value.count == c)
    let (y, statistics) = BatchNormKernel.forward(
      xs, scale: gs, shift: beta.value, runningMean: runningMean.value, runningVariance: runningVariance.value,
      useBatch: mode == .training, epsilon: epsilon, relu: relu, residual: residual?.value, threads: threads, replicas: group)
    tracer?.traced(
      .batchNorm2d(
        scale: gs, shift: beta.value, mean: runningMean.value, variance: runningVariance.value, epsilon: epsilon, relu: relu),
      inputs: [xs], output: y)
    if statistics.isBatch && updatesRunningStatistics {
      BatchNormKernel.updateRunning(
        mean: runningMean.value.mutablePointer, variance: runningVariance.value.mutablePointer,
        toward: statistics, momentum: momentum)
    }
    let workers = threads, out: Tensor? = relu ? y : nil
    return record(y, inputs: [x, gamma, beta] + (residual.map { [$0] } ?? [])) { dy, d in
      BatchNormKernel.backward(
        dy, input: xs, scale: gs, statistics: statistics, reluOutput: out, threads: workers, replicas: group,
        dx: d[0], dscale: d[1], dshift: d[2], dresidual: d.count > 3 ? d[3] : nil)
    }
  }
}
