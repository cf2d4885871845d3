import CKernels

/// Max, average and global average pooling, and nearest upsampling, over
/// NCHW planes.
///
/// Each (n, c) plane is independent, so forward splits planes over workers.
/// Backward accumulates (`+=`) into `dx`, one plane after another.
public enum PoolingKernel {
  /// Output extent, with PyTorch's ceil-mode rule: a window must start inside
  /// the input or its left padding.
  public static func outputSize(_ size: Int, kernel: Int, stride: Int, padding: Int, ceilMode: Bool) -> Int {
    let span = size + 2 * padding - kernel
    var out = (ceilMode ? (span + stride - 1) / stride : span / stride) + 1
    if ceilMode && (out - 1) * stride >= size + padding { out -= 1 }
    return out
  }

  /// Max over each window; padding never wins (it is −∞).
  public enum Max {
    /// `argmax` (when asked for: backward needs it, inference does not) holds each
    /// output's flat index inside its input plane, the first maximum in row-major order.
    ///
    /// The students' pools (2×2 or 3×3, stride 2, padding 0 or 1) take `CKernels`'
    /// vector kernel (`path`, the CPU's best unless a test asks for another), argmax
    /// included: a scalar search for each maximum's first occurrence made squeezenet1_1's
    /// pools a sixth of its training step. Other geometries take a plain scan.
    public static func forward(
      _ x: Tensor, geometry g: ConvGeometry, ceilMode: Bool, threads: Int, argmax wantsArgmax: Bool = true,
      path: ThinGEMM.Path = ThinGEMM.best
    ) -> (y: Tensor, argmax: [Int32]) {
      // As PyTorch: with more padding, a window could hold padding only.
      precondition(2 * g.padHeight <= g.kernelHeight && 2 * g.padWidth <= g.kernelWidth, "max pool \(g): padding above half the window")
      let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
      let ho = PoolingKernel.outputSize(h, kernel: g.kernelHeight, stride: g.strideHeight, padding: g.padHeight, ceilMode: ceilMode)
      let wo = PoolingKernel.outputSize(w, kernel: g.kernelWidth, stride: g.strideWidth, padding: g.padWidth, ceilMode: ceilMode)
      var y = Tensor(uninitialized: [n, c, ho, wo])
      let px = x.pointer, py = y.mutablePointer
      let vector = hasVectorKernel(g)
      let count = wantsArgmax ? n * c * ho * wo : 0
      let argmax = [Int32](unsafeUninitializedCapacity: max(count, 1)) { buffer, initialized in
        let pa = wantsArgmax ? buffer.baseAddress! : nil
        Parallel.chunks(n * c, threads: threads) { planes, _ in
          if vector {
            ekd_max_pool_s2_isa(
              path.rawValue, px + planes.lowerBound * h * w, h * w, 0, Int32(planes.count), Int32(h), Int32(w), Int32(g.kernelHeight),
              Int32(g.padHeight), py + planes.lowerBound * ho * wo, ho * wo, pa.map { $0 + planes.lowerBound * ho * wo }, 0, Int32(ho),
              Int32(wo))
            return
          }
          for plane in planes {
            let src = px + plane * h * w, dst = py + plane * ho * wo
            for oy in 0..<ho {
              let y0 = oy * g.strideHeight - g.padHeight
              let ya = max(y0, 0), yb = min(y0 + g.kernelHeight, h)
              for ox in 0..<wo {
                let x0 = ox * g.strideWidth - g.padWidth
                let xa = max(x0, 0), xb = min(x0 + g.kernelWidth, w)
                // The first maximum in row-major order (strictly greater replaces it).
                var (best, at) = (-Float.infinity, ya * w + xa)
                for iy in ya..<yb {
                  for ix in xa..<xb where src[iy * w + ix] > best { (best, at) = (src[iy * w + ix], iy * w + ix) }
                }
                dst[oy * wo + ox] = best
                pa?[plane * ho * wo + oy * wo + ox] = Int32(at)
              }
            }
          }
        }
        initialized = count
      }
      return (y, argmax)
    }

    /// Whether `forward` takes `CKernels`' vector kernel for this pool (and so whether
    /// `DirectConv.forwardPooled` can fuse it): 2×2 or 3×3, stride 2, padding 0 or 1.
    public static func hasVectorKernel(_ g: ConvGeometry) -> Bool {
      g.kernelHeight == g.kernelWidth && (2...3).contains(g.kernelHeight) && g.strideHeight == 2 && g.strideWidth == 2
        && g.padHeight == g.padWidth && g.padHeight <= 1
    }

    /// dx[argmax] += dy, planes shared out over `threads` (an argmax stays in its plane).
    public static func backward(_ dy: Tensor, argmax: [Int32], inputShape: Shape, dx: UnsafeMutablePointer<Float>, threads: Int = 1) {
      let planes = inputShape[0] * inputShape[1], hw = inputShape[2] * inputShape[3]
      let out = dy.shape[2] * dy.shape[3]
      let g = dy.pointer
      argmax.withUnsafeBufferPointer { arg in
        Parallel.chunks(planes, threads: threads, minimumPerWorker: max(1, (1 << 12) / max(out, 1))) { range, _ in
          for plane in range {
            let dst = dx + plane * hw
            for k in 0..<out { dst[Int(arg[plane * out + k])] += g[plane * out + k] }
          }
        }
      }
    }
  }

  /// Mean over each window, padding counted as zeros (PyTorch's count_include_pad).
  public enum Average {
    public static func forward(_ x: Tensor, geometry g: ConvGeometry, threads: Int) -> Tensor {
      let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
      let (ho, wo) = g.outputSize(height: h, width: w)
      let scale = 1 / Float(g.kernelHeight * g.kernelWidth)
      var y = Tensor(uninitialized: [n, c, ho, wo])
      let px = x.pointer, py = y.mutablePointer
      Parallel.chunks(n * c, threads: threads) { planes, _ in
        for plane in planes {
          let src = px + plane * h * w, dst = py + plane * ho * wo
          dst.update(repeating: 0, count: ho * wo)
          windows(g, height: h, width: w, outputHeight: ho, outputWidth: wo) { o, i in dst[o] += src[i] }
          for k in 0..<(ho * wo) { dst[k] *= scale }
        }
      }
      return y
    }

    public static func backward(_ dy: Tensor, inputShape: Shape, geometry g: ConvGeometry, dx: UnsafeMutablePointer<Float>) {
      let (n, c, h, w) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
      let (ho, wo) = (dy.shape[2], dy.shape[3])
      let scale = 1 / Float(g.kernelHeight * g.kernelWidth)
      let gp = dy.pointer
      for plane in 0..<(n * c) {
        let src = gp + plane * ho * wo, dst = dx + plane * h * w
        windows(g, height: h, width: w, outputHeight: ho, outputWidth: wo) { o, i in dst[i] += src[o] * scale }
      }
    }

    /// Calls body(outputIndex, inputIndex) for every (output, in-bounds input) pair of a plane.
    @inline(__always)
    private static func windows(
      _ g: ConvGeometry, height h: Int, width w: Int, outputHeight ho: Int, outputWidth wo: Int,
      _ body: (Int, Int) -> Void
    ) {
      for oy in 0..<ho {
        let y0 = oy * g.strideHeight - g.padHeight
        for ox in 0..<wo {
          let x0 = ox * g.strideWidth - g.padWidth
          for iy in max(y0, 0)..<min(y0 + g.kernelHeight, h) {
            for ix in max(x0, 0)..<min(x0 + g.kernelWidth, w) { body(oy * wo + ox, iy * w + ix) }
          }
        }
      }
    }
  }

  /// [N, C, H, W] → [N, C, 1, 1], the mean of each plane.
  public enum GlobalAverage {
    public static func forward(_ x: Tensor) -> Tensor {
      let (n, c) = (x.shape[0], x.shape[1])
      let hw = x.count / max(n * c, 1)
      var y = Tensor(uninitialized: [n, c, 1, 1])
      let px = x.pointer, py = y.mutablePointer
      for plane in 0..<(n * c) {
        var s: Float = 0
        for j in 0..<hw { s += px[plane * hw + j] }
        py[plane] = s / Float(hw)
      }
      return y
    }

    public static func backward(_ dy: Tensor, inputShape: Shape, dx: UnsafeMutablePointer<Float>) {
      let (n, c) = (inputShape[0], inputShape[1])
      let hw = inputShape.count / max(n * c, 1)
      let g = dy.pointer
      for plane in 0..<(n * c) {
        let v = g[plane] / Float(hw)
        for j in 0..<hw { dx[plane * hw + j] += v }
      }
    }
  }

  /// Upsampling by an integer factor s: y[i, j] = x[i / s, j / s].
  public enum NearestUpsample {
    /// Each input value written s times along a row, then the row copied s − 1 times
    /// (no division per element: this op was 9% of a ts500m@64 training step); for
    /// s = 2, both rows in one loop, since a copy call per row of 16 cost tiny's
    /// upsample (64 planes of 8 rows) more than its stores.
    public static func forward(_ x: Tensor, scale s: Int, threads: Int) -> Tensor {
      let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
      let (ho, wo) = (h * s, w * s)
      var y = Tensor(uninitialized: [n, c, ho, wo])
      let px = x.pointer, py = y.mutablePointer
      Parallel.chunks(n * c, threads: threads, minimumPerWorker: max(1, (1 << 12) / max(ho * wo, 1))) { planes, _ in
        for plane in planes {
          let src = px + plane * h * w, dst = py + plane * ho * wo
          for iy in 0..<h {
            let row = src + iy * w, out = dst + iy * s * wo
            if s == 2 {
              for ix in 0..<w {
                let v = row[ix]
                (out[2 * ix], out[2 * ix + 1], out[wo + 2 * ix], out[wo + 2 * ix + 1]) = (v, v, v, v)
              }
              continue
            }
            for ix in 0..<w { for k in 0..<s { out[ix * s + k] = row[ix] } }
            for k in 1..<s { (out + k * wo).update(from: out, count: wo) }
          }
        }
      }
      return y
    }

    /// Each input value gathers its s×s block of dy.
    public static func backward(_ dy: Tensor, inputShape: Shape, scale s: Int, dx: UnsafeMutablePointer<Float>, threads: Int = 1) {
      let (n, c, h, w) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
      let (ho, wo) = (h * s, w * s)
      let g = dy.pointer
      Parallel.chunks(n * c, threads: threads, minimumPerWorker: max(1, (1 << 14) / max(ho * wo, 1))) { planes, _ in
        for plane in planes {
          let src = g + plane * ho * wo, dst = dx + plane * h * w
          for iy in 0..<h {
            let out = dst + iy * w
            for k in 0..<s {
              let row = src + (iy * s + k) * wo
              if s == 2 {
                for ix in 0..<w { out[ix] += row[2 * ix] + row[2 * ix + 1] }
              } else {
                for ix in 0..<w {
                  var sum: Float = 0
                  for j in 0..<s { sum += row[ix * s + j] }
                  out[ix] += sum
                }
              }
            }
          }
        }
      }
    }
  }
}
