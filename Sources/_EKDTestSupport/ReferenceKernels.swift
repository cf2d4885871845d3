import EKDTensor

/// Slow, obviously-correct kernels that the fast ones are tested against.
public enum Reference {
  /// Direct convolution, Double accumulation: y[n,o,i,j] = b[o] + Σ x·w over the window.
  public static func conv2d(_ x: Tensor, weight w: Tensor, bias: Tensor?, geometry g: ConvGeometry) -> Tensor {
    let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let o = w.shape[0]
    let (ho, wo) = g.outputSize(height: h, width: wd)
    var y = Tensor(zeros: [n, o, ho, wo])
    for b in 0..<n {
      for oc in 0..<o {
        for i in 0..<ho {
          for j in 0..<wo {
            var s = Double(bias?[flat: oc] ?? 0)
            for ic in 0..<c {
              for ki in 0..<g.kernelHeight {
                for kj in 0..<g.kernelWidth {
                  let iy = i * g.strideHeight - g.padHeight + ki
                  let ix = j * g.strideWidth - g.padWidth + kj
                  guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
                  s += Double(x[b, ic, iy, ix]) * Double(w[oc, ic, ki, kj])
                }
              }
            }
            y[b, oc, i, j] = Float(s)
          }
        }
      }
    }
    return y
  }

  /// conv2d's gradients for dY by the same loops, Double accumulation: every product
  /// x·w of the forward window sends dY·w to dX and dY·x to dW.
  public static func conv2dBackward(_ dy: Tensor, input x: Tensor, weight w: Tensor, geometry g: ConvGeometry) -> (dx: Tensor, dw: Tensor, db: Tensor) {
    let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (o, kh, kw, ho, wo) = (w.shape[0], g.kernelHeight, g.kernelWidth, dy.shape[2], dy.shape[3])
    var (dx, dw, db) = ([Double](repeating: 0, count: x.count), [Double](repeating: 0, count: w.count), [Double](repeating: 0, count: o))
    for b in 0..<n {
      for oc in 0..<o {
        for i in 0..<ho {
          for j in 0..<wo {
            let gy = Double(dy[b, oc, i, j])
            db[oc] += gy
            for ic in 0..<c {
              for ki in 0..<kh {
                for kj in 0..<kw {
                  let iy = i * g.strideHeight - g.padHeight + ki
                  let ix = j * g.strideWidth - g.padWidth + kj
                  guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
                  dx[((b * c + ic) * h + iy) * wd + ix] += gy * Double(w[oc, ic, ki, kj])
                  dw[((oc * c + ic) * kh + ki) * kw + kj] += gy * Double(x[b, ic, iy, ix])
                }
              }
            }
          }
        }
      }
    }
    return (
      Tensor(shape: x.shape, scalars: dx.map { Float($0) }), Tensor(shape: w.shape, scalars: dw.map { Float($0) }),
      Tensor(shape: [o], scalars: db.map { Float($0) })
    )
  }

  /// Triple-loop matrix product of row-major matrices with optional transposes.
  public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    let (m, k) = transposeA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
    let n = transposeB ? b.shape[0] : b.shape[1]
    var c = Tensor(zeros: [m, n])
    for i in 0..<m {
      for j in 0..<n {
        var s = 0.0
        for p in 0..<k {
          let av = transposeA ? a[p, i] : a[i, p]
          let bv = transposeB ? b[j, p] : b[p, j]
          s += Double(av) * Double(bv)
        }
        c[i, j] = Float(s)
      }
    }
    return c
  }

  /// Max pooling by a scan of each window: values, and the flat index in its plane of
  /// each output's first maximum (row-major), as backward routes gradients.
  public static func maxPool2d(_ x: Tensor, geometry g: ConvGeometry, ceilMode: Bool) -> (y: Tensor, argmax: [Int32]) {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let ho = PoolingKernel.outputSize(h, kernel: g.kernelHeight, stride: g.strideHeight, padding: g.padHeight, ceilMode: ceilMode)
    let wo = PoolingKernel.outputSize(w, kernel: g.kernelWidth, stride: g.strideWidth, padding: g.padWidth, ceilMode: ceilMode)
    var y = Tensor(zeros: [n, c, ho, wo])
    var argmax: [Int32] = []
    for b in 0..<n {
      for ch in 0..<c {
        for i in 0..<ho {
          for j in 0..<wo {
            var best = -Float.infinity, at = -1
            for ki in 0..<g.kernelHeight {
              for kj in 0..<g.kernelWidth {
                let iy = i * g.strideHeight - g.padHeight + ki, ix = j * g.strideWidth - g.padWidth + kj
                guard iy >= 0, iy < h, ix >= 0, ix < w, at < 0 || x[b, ch, iy, ix] > best else { continue }
                (best, at) = (x[b, ch, iy, ix], iy * w + ix)
              }
            }
            y[b, ch, i, j] = best
            argmax.append(Int32(at))
          }
        }
      }
    }
    return (y, argmax)
  }

  /// The largest |a − b| over two tensors of one shape.
  /// NaN if either side holds a NaN anywhere: `Swift.max` drops a NaN operand, which let
  /// an output left unwritten (a NaN sentinel) pass as a match.
  public static func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.shape == b.shape, "shapes \(a.shape) and \(b.shape)")
    var m: Float = 0
    for i in 0..<a.count {
      let d = abs(a[flat: i] - b[flat: i])
      if d.isNaN { return .nan }
      m = max(m, d)
    }
    return m
  }
}
