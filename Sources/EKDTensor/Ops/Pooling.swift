/// Max and average pooling over NCHW planes, nearest upsampling.
///
/// Each (n, c) plane is independent, so planes are split over workers.
public enum PoolingKernel {
  /// Output extent, with PyTorch's ceil-mode rule: a window must start inside
  /// the input or its left padding.
  public static func outputSize(_ size: Int, kernel: Int, stride: Int, padding: Int, ceilMode: Bool) -> Int {
    let span = size + 2 * padding - kernel
    var out = (ceilMode ? (span + stride - 1) / stride : span / stride) + 1
    if ceilMode && (out - 1) * stride >= size + padding { out -= 1 }
    return out
  }
}

extension Tape {
  /// Max over each window; padding never wins (it is −∞).
  public func maxPool2d(_ x: Variable, geometry g: ConvGeometry, ceilMode: Bool = false) -> Variable {
    let xs = x.value
    let (n, c, h, w) = (xs.shape[0], xs.shape[1], xs.shape[2], xs.shape[3])
    let ho = PoolingKernel.outputSize(h, kernel: g.kernelHeight, stride: g.strideHeight, padding: g.padHeight, ceilMode: ceilMode)
    let wo = PoolingKernel.outputSize(w, kernel: g.kernelWidth, stride: g.strideWidth, padding: g.padWidth, ceilMode: ceilMode)
    var y = Tensor(uninitialized: [n, c, ho, wo])
    // Argmax as a flat index inside the input plane, for the pullback.
    let argmax = UnsafeMutablePointer<Int32>.allocate(capacity: max(n * c * ho * wo, 1))
    let px = xs.pointer, py = y.mutablePointer
    Parallel.chunks(n * c, threads: threads) { planes, _ in
      for plane in planes {
        let src = px + plane * h * w, dst = py + plane * ho * wo, arg = argmax + plane * ho * wo
        for oy in 0..<ho {
          let y0 = oy * g.strideHeight - g.padHeight
          let ya = max(y0, 0), yb = min(y0 + g.kernelHeight, h)
          for ox in 0..<wo {
            let x0 = ox * g.strideWidth - g.padWidth
            let xa = max(x0, 0), xb = min(x0 + g.kernelWidth, w)
            var best = -Float.infinity, at = ya * w + xa
            for iy in ya..<yb {
              for ix in xa..<xb where src[iy * w + ix] > best {
                best = src[iy * w + ix]
                at = iy * w + ix
              }
            }
            dst[oy * wo + ox] = best
            arg[oy * wo + ox] = Int32(at)
          }
        }
      }
    }
    let indices = ArgmaxBox(argmax)
    return record(y, inputs: [x]) { dy, d in
      guard let dx = d[0] else { return }
      let g = dy.pointer, arg = indices.pointer
      for plane in 0..<(n * c) {
        let dst = dx + plane * h * w
        for k in 0..<(ho * wo) { dst[Int(arg[plane * ho * wo + k])] += g[plane * ho * wo + k] }
      }
    }
  }

  /// Mean over each window, padding counted as zeros (PyTorch's count_include_pad).
  public func avgPool2d(_ x: Variable, geometry g: ConvGeometry) -> Variable {
    let xs = x.value
    let (n, c, h, w) = (xs.shape[0], xs.shape[1], xs.shape[2], xs.shape[3])
    let (ho, wo) = g.outputSize(height: h, width: w)
    let scale = 1 / Float(g.kernelHeight * g.kernelWidth)
    var y = Tensor(uninitialized: [n, c, ho, wo])
    let px = xs.pointer, py = y.mutablePointer
    // Calls body(outputIndex, inputIndex) for every (output, in-bounds input) pair of a plane.
    func windows(_ body: (Int, Int) -> Void) {
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
    Parallel.chunks(n * c, threads: threads) { planes, _ in
      for plane in planes {
        let src = px + plane * h * w, dst = py + plane * ho * wo
        dst.update(repeating: 0, count: ho * wo)
        windows { o, i in dst[o] += src[i] }
        for k in 0..<(ho * wo) { dst[k] *= scale }
      }
    }
    return record(y, inputs: [x]) { dy, d in
      guard let dx = d[0] else { return }
      let gp = dy.pointer
      for plane in 0..<(n * c) {
        let src = gp + plane * ho * wo, dst = dx + plane * h * w
        windows { o, i in dst[i] += src[o] * scale }
      }
    }
  }

  /// [N, C, H, W] → [N, C, 1, 1], the mean of each plane.
  public func globalAvgPool2d(_ x: Variable) -> Variable {
    let xs = x.value
    let (n, c) = (xs.shape[0], xs.shape[1])
    let hw = xs.count / max(n * c, 1)
    var y = Tensor(uninitialized: [n, c, 1, 1])
    let px = xs.pointer, py = y.mutablePointer
    for plane in 0..<(n * c) {
      var s: Float = 0
      for j in 0..<hw { s += px[plane * hw + j] }
      py[plane] = s / Float(hw)
    }
    return record(y, inputs: [x]) { dy, d in
      guard let dx = d[0] else { return }
      let g = dy.pointer
      for plane in 0..<(n * c) {
        let v = g[plane] / Float(hw)
        for j in 0..<hw { dx[plane * hw + j] += v }
      }
    }
  }

  /// Nearest-neighbour upsampling by an integer factor: y[i, j] = x[i / s, j / s].
  public func upsampleNearest2d(_ x: Variable, scale s: Int) -> Variable {
    let xs = x.value
    let (n, c, h, w) = (xs.shape[0], xs.shape[1], xs.shape[2], xs.shape[3])
    let (ho, wo) = (h * s, w * s)
    var y = Tensor(uninitialized: [n, c, ho, wo])
    let px = xs.pointer, py = y.mutablePointer
    Parallel.chunks(n * c, threads: threads) { planes, _ in
      for plane in planes {
        let src = px + plane * h * w, dst = py + plane * ho * wo
        for oy in 0..<ho {
          let row = src + (oy / s) * w, out = dst + oy * wo
          for ox in 0..<wo { out[ox] = row[ox / s] }
        }
      }
    }
    return record(y, inputs: [x]) { dy, d in
      guard let dx = d[0] else { return }
      let g = dy.pointer
      for plane in 0..<(n * c) {
        let src = g + plane * ho * wo, dst = dx + plane * h * w
        for oy in 0..<ho {
          for ox in 0..<wo { dst[(oy / s) * w + ox / s] += src[oy * wo + ox] }
        }
      }
    }
  }
}

/// Owns the argmax indices a max-pool pullback needs; freed with the tape.
final class ArgmaxBox {
  let pointer: UnsafeMutablePointer<Int32>
  init(_ pointer: UnsafeMutablePointer<Int32>) { self.pointer = pointer }
  deinit { pointer.deallocate() }
}
