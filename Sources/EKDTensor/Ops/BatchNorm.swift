extension Tape {
  /// Batch norm over N, H, W per channel (see `BatchNormKernel`): batch
  /// statistics on a `.training` tape, which also moves the running averages
  /// unless `updatesRunningStatistics` is off; the running ones otherwise.
  /// `relu` fuses a following ReLU.
  public func batchNorm2d(
    _ x: Variable, scale gamma: Variable, shift beta: Variable,
    runningMean: Parameter, runningVariance: Parameter,
    momentum: Float = 0.1, epsilon: Float = 1e-5, relu: Bool = false
  ) -> Variable {
    let (xs, gs) = (x.value, gamma.value)
    let group = mode == .training ? replicas : nil
    precondition(xs.shape.rank >= 2, "batchNorm2d wants [N, C, ...], got \(xs.shape)")
    let c = xs.shape[1]
    precondition(gs.count == c && beta.value.count == c && runningMean.value.count == c)
    let (y, statistics) = BatchNormKernel.forward(
      xs, scale: gs, shift: beta.value, runningMean: runningMean.value, runningVariance: runningVariance.value,
      useBatch: mode == .training, epsilon: epsilon, relu: relu, threads: threads, replicas: group)
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
    return record(y, inputs: [x, gamma, beta]) { dy, d in
      BatchNormKernel.backward(
        dy, input: xs, scale: gs, statistics: statistics, reluOutput: out, threads: workers, replicas: group,
        dx: d[0], dscale: d[1], dshift: d[2])
    }
  }
}
