/// Pooling and nearest upsampling on the tape; the arithmetic is in `PoolingKernel`.
extension Tape {
  /// Max over each window; padding never wins (it is −∞).
  public func maxPool2d(_ x: Variable, geometry g: ConvGeometry, ceilMode: Bool = false) -> Variable {
    let (y, argmax) = PoolingKernel.Max.forward(x.value, geometry: g, ceilMode: ceilMode, threads: threads, argmax: isRecording)
    tracer?.traced(.maxPool2d(geometry: g, ceilMode: ceilMode), inputs: [x.value], output: y)
    let (shape, workers) = (x.value.shape, threads)
    return record(y, inputs: [x]) { dy, d in
      guard let dx = d[0] else { return }
      PoolingKernel.Max.backward(dy, argmax: argmax, inputShape: shape, dx: dx, threads: workers)
    }
  }

  /// Mean over each window, padding counted as zeros (PyTorch's count_include_pad).
  public func avgPool2d(_ x: Variable, geometry g: ConvGeometry) -> Variable {
    let y = PoolingKernel.Average.forward(x.value, geometry: g, threads: threads)
    tracer?.traced(.avgPool2d(geometry: g), inputs: [x.value], output: y)
    let shape = x.value.shape
    return record(y, inputs: [x]) { dy, d in
      guard let dx = d[0] else { return }
      PoolingKernel.Average.backward(dy, inputShape: shape, geometry: g, dx: dx)
    }
  }

  /// [N, C, H, W] → [N, C, 1, 1], the mean of each plane.
  public func globalAvgPool2d(_ x: Variable) -> Variable {
    let y = PoolingKernel.GlobalAverage.forward(x.value)
    tracer?.traced(.globalAvgPool2d, inputs: [x.value], output: y)
    let shape = x.value.shape
    return record(y, inputs: [x]) { dy, d in
      guard let dx = d[0] else { return }
      PoolingKernel.GlobalAverage.backward(dy, inputShape: shape, dx: dx)
    }
  }

  /// Nearest-neighbour upsampling by an integer factor: y[i, j] = x[i / s, j / s].
  public func upsampleNearest2d(_ x: Variable, scale s: Int) -> Variable {
    let y = PoolingKernel.NearestUpsample.forward(x.value, scale: s, threads: threads)
    tracer?.traced(.upsampleNearest2d(scale: s), inputs: [x.value], output: y)
    let (shape, workers) = (x.value.shape, threads)
    return record(y, inputs: [x]) { dy, d in
      guard let dx = d[0] else { return }
      PoolingKernel.NearestUpsample.backward(dy, inputShape: shape, scale: s, dx: dx, threads: workers)
    }
  }
}
