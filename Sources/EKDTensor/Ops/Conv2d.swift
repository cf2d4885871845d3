/// 2-D convolution as im2col + SGEMM, Caffe's lowering, one image per GEMM.
///
/// Dimension letters: N batch, C input channels, H×W input, O output channels,
/// Ho×Wo output, K = C·kh·kw, P = Ho·Wo.
///   forward:  Y[n] (O×P) = W (O×K) · cols(X[n]) (K×P) + b
///   backward: dW (O×K) += dY[n] (O×P) · cols(X[n])ᵀ
///             dX[n]    += col2im(Wᵀ (K×O) · dY[n])
/// A 1×1 stride-1 unpadded conv skips im2col: X[n] (C×P) is its own column matrix.
///
/// Threads: with a batch, images are split over `threads` workers, each with
/// single-threaded BLAS and its own im2col scratch (so im2col runs in
/// parallel too); a batch of one instead gives all threads to BLAS.
/// `docs/performance.md` has the measurements behind this policy.
public enum Conv2dKernel {
  /// (workers over the batch, OpenBLAS threads inside each GEMM).
  public static func threadPlan(batch: Int, threads: Int) -> (workers: Int, blasThreads: Int) {
    let workers = max(1, min(threads, batch))
    return (workers, workers > 1 ? 1 : threads)
  }

  public static func outputShape(input: Shape, weight: Shape, geometry g: ConvGeometry) -> Shape {
    let (ho, wo) = g.outputSize(height: input[2], width: input[3])
    return [input[0], weight[0], ho, wo]
  }

  public static func forward(
    _ x: Tensor, weight w: Tensor, bias b: Tensor?, geometry g: ConvGeometry, threads: Int
  ) -> Tensor {
    precondition(x.shape.rank == 4 && w.shape.rank == 4, "conv2d wants NCHW input and OCkk weight")
    precondition(x.shape[1] == w.shape[1], "conv2d: input \(x.shape) has \(x.shape[1]) channels, weight \(w.shape) wants \(w.shape[1])")
    precondition(w.shape[2] == g.kernelHeight && w.shape[3] == g.kernelWidth, "conv2d: weight \(w.shape) vs \(g)")
    let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let yShape = outputShape(input: x.shape, weight: w.shape, geometry: g)
    precondition(yShape[2] > 0 && yShape[3] > 0, "conv2d: \(g) on \(x.shape) leaves no output")
    let o = w.shape[0], p = yShape[2] * yShape[3], k = c * g.kernelHeight * g.kernelWidth
    var y = Tensor(uninitialized: yShape)
    let px = x.pointer, pw = w.pointer, py = y.mutablePointer, pb = b?.pointer
    let plan = threadPlan(batch: n, threads: threads)
    BLAS.threads = plan.blasThreads
    Parallel.chunks(n, threads: plan.workers) { images, _ in
      let scratch = g.isPointwise ? nil : TensorStorage(uninitializedCount: k * p)
      for i in images {
        let xi = px + i * c * h * wd, yi = py + i * o * p
        var columns = xi
        if let scratch {
          Im2Col.forward(xi, channels: c, height: h, width: wd, g, into: scratch.pointer)
          columns = UnsafePointer(scratch.pointer)
        }
        if let pb { for r in 0..<o { (yi + r * p).update(repeating: pb[r], count: p) } }
        BLAS.gemm(m: o, n: p, k: k, a: pw, lda: k, b: columns, ldb: p, beta: pb == nil ? 0 : 1, c: yi, ldc: p)
      }
      withExtendedLifetime(scratch) {}
    }
    return y
  }

  /// Accumulates dX, dW, db (each optional) for dY.
  public static func backward(
    _ dy: Tensor, input x: Tensor, weight w: Tensor, geometry g: ConvGeometry, threads: Int,
    dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>?, db: UnsafeMutablePointer<Float>?
  ) {
    let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let o = w.shape[0], p = dy.shape[2] * dy.shape[3], k = c * g.kernelHeight * g.kernelWidth
    let px = x.pointer, pw = w.pointer, pg = dy.pointer
    let plan = threadPlan(batch: n, threads: threads)
    BLAS.threads = plan.blasThreads
    // Per-worker dW partial sums when the batch is split; worker 0 writes dw directly.
    let partials = (dw != nil && plan.workers > 1)
      ? (1..<plan.workers).map { _ in TensorStorage(zeroedCount: o * k) } : []
    Parallel.chunks(n, threads: plan.workers) { images, worker in
      let dwOut = worker == 0 ? dw : partials[worker - 1].pointer
      let cols = (dwOut != nil && !g.isPointwise) ? TensorStorage(uninitializedCount: k * p) : nil
      let dcols = (dx != nil && !g.isPointwise) ? TensorStorage(uninitializedCount: k * p) : nil
      for i in images {
        let xi = px + i * c * h * wd, gi = pg + i * o * p
        if let dwOut {
          var columns = xi
          if let cols {
            Im2Col.forward(xi, channels: c, height: h, width: wd, g, into: cols.pointer)
            columns = UnsafePointer(cols.pointer)
          }
          BLAS.gemm(transB: true, m: o, n: k, k: p, a: gi, lda: p, b: columns, ldb: p, beta: 1, c: dwOut, ldc: k)
        }
        if let dx {
          let dxi = dx + i * c * h * wd
          if let dcols {
            BLAS.gemm(transA: true, m: k, n: p, k: o, a: pw, lda: k, b: gi, ldb: p, beta: 0, c: dcols.pointer, ldc: p)
            Im2Col.backward(dcols.pointer, channels: c, height: h, width: wd, g, accumulatingInto: dxi)
          } else {
            BLAS.gemm(transA: true, m: k, n: p, k: o, a: pw, lda: k, b: gi, ldb: p, beta: 1, c: dxi, ldc: p)
          }
        }
      }
      withExtendedLifetime((cols, dcols)) {}
    }
    if let dw {
      for part in partials {
        let q = part.pointer
        for j in 0..<(o * k) { dw[j] += q[j] }
      }
    }
    if let db {
      for i in 0..<n {
        for r in 0..<o {
          let row = pg + (i * o + r) * p
          var s: Float = 0
          for j in 0..<p { s += row[j] }
          db[r] += s
        }
      }
    }
  }
}

extension Tape {
  /// y = conv2d(x, weight) + bias, x NCHW, weight [O, C, kh, kw], bias [O].
  public func conv2d(_ x: Variable, weight: Variable, bias: Variable?, geometry: ConvGeometry) -> Variable {
    let y = Conv2dKernel.forward(x.value, weight: weight.value, bias: bias?.value, geometry: geometry, threads: threads)
    let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
    let workers = threads
    return record(y, inputs: inputs) { dy, d in
      Conv2dKernel.backward(
        dy, input: x.value, weight: weight.value, geometry: geometry, threads: workers,
        dx: d[0], dw: d[1], db: d.count > 2 ? d[2] : nil)
    }
  }
}
