/// The window geometry of a 2-D convolution or pooling.
public struct ConvGeometry: Hashable, Sendable, CustomStringConvertible {
  public var kernelHeight: Int, kernelWidth: Int
  public var strideHeight: Int, strideWidth: Int
  public var padHeight: Int, padWidth: Int

  public init(kernel: Int, stride: Int = 1, padding: Int = 0) {
    self.init(kernelHeight: kernel, kernelWidth: kernel, stride: stride, padding: padding)
  }

  public init(kernelHeight: Int, kernelWidth: Int, stride: Int = 1, padding: Int = 0) {
    precondition(kernelHeight > 0 && kernelWidth > 0 && stride > 0 && padding >= 0)
    self.kernelHeight = kernelHeight
    self.kernelWidth = kernelWidth
    strideHeight = stride
    strideWidth = stride
    padHeight = padding
    padWidth = padding
  }

  /// Output extent for an input extent (floor mode).
  public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
    (
      (height + 2 * padHeight - kernelHeight) / strideHeight + 1,
      (width + 2 * padWidth - kernelWidth) / strideWidth + 1
    )
  }

  /// A 1×1, stride-1, unpadded window: the input is already the column matrix.
  public var isPointwise: Bool {
    kernelHeight == 1 && kernelWidth == 1 && strideHeight == 1 && strideWidth == 1
      && padHeight == 0 && padWidth == 0
  }

  public var description: String {
    "k\(kernelHeight)x\(kernelWidth) s\(strideHeight) p\(padHeight)"
  }
}

/// im2col / col2im for one image, Caffe's lowering.
///
/// Shapes: the image is C×H×W; the column matrix is (C·kh·kw) × (Ho·Wo), row
/// r = (c·kh + i)·kw + j holding input pixel (oy·sh − ph + i, ox·sw − pw + j)
/// for each output position (oy, ox), zero where that falls in the padding.
/// Then conv = W[O × C·kh·kw] · cols, a single SGEMM.
///
/// Both take a range of output rows (a tile) and the matrix's row stride
/// `ld`, so that a tile of one image, or several images side by side, form
/// one GEMM operand.
enum Im2Col {
  /// Writes the columns of output rows `rows` to `cols` (row r at cols + r·ld).
  static func forward(
    _ x: UnsafePointer<Float>, channels: Int, height: Int, width: Int,
    _ g: ConvGeometry, rows: Range<Int>, into cols: UnsafeMutablePointer<Float>, ld: Int
  ) {
    let wo = g.outputSize(height: height, width: width).width
    var r = 0
    for c in 0..<channels {
      let plane = x + c * height * width
      for i in 0..<g.kernelHeight {
        for j in 0..<g.kernelWidth {
          // Output columns ox whose input column ix = ox·sw − pw + j is inside [0, W).
          let (lo, hi) = validRange(offset: j - g.padWidth, stride: g.strideWidth, limit: width, count: wo)
          var dst = cols + r * ld
          r += 1
          for oy in rows {
            let iy = oy * g.strideHeight - g.padHeight + i
            // Plain loops, not memcpy/memset calls: rows are often only
            // 7–56 floats long, where a call costs more than the copy.
            if iy < 0 || iy >= height || lo >= hi {
              for ox in 0..<wo { dst[ox] = 0 }
            } else {
              for ox in 0..<lo { dst[ox] = 0 }
              let src = plane + iy * width + (j - g.padWidth)
              if g.strideWidth == 1 {
                copy(src + lo, into: dst + lo, hi - lo)
              } else if g.strideWidth == 2 {
                // Even lanes of 16-wide loads, while a load stays inside this input row.
                var ox = lo
                let end = min(hi, (width - (j - g.padWidth) - 16) / 2 + 1)
                while ox + 8 <= end {
                  let v = UnsafeRawPointer(src + 2 * ox).loadUnaligned(as: SIMD16<Float>.self).evenHalf
                  UnsafeMutableRawPointer(dst + ox).storeBytes(of: v, as: SIMD8<Float>.self)
                  ox += 8
                }
                while ox < hi {
                  dst[ox] = src[2 * ox]
                  ox += 1
                }
              } else {
                let s = g.strideWidth
                for ox in lo..<hi { dst[ox] = src[ox * s] }
              }
              for ox in hi..<wo { dst[ox] = 0 }
            }
            dst += wo
          }
        }
      }
    }
  }

  /// dx += col2im(cols) for output rows `rows`: the adjoint of `forward`.
  static func backward(
    _ cols: UnsafePointer<Float>, ld: Int, channels: Int, height: Int, width: Int,
    _ g: ConvGeometry, rows: Range<Int>, accumulatingInto dx: UnsafeMutablePointer<Float>
  ) {
    let wo = g.outputSize(height: height, width: width).width
    var r = 0
    for c in 0..<channels {
      let plane = dx + c * height * width
      for i in 0..<g.kernelHeight {
        for j in 0..<g.kernelWidth {
          let (lo, hi) = validRange(offset: j - g.padWidth, stride: g.strideWidth, limit: width, count: wo)
          var src = cols + r * ld
          r += 1
          for oy in rows {
            let iy = oy * g.strideHeight - g.padHeight + i
            if iy >= 0 && iy < height && lo < hi {
              let dst = plane + iy * width + (j - g.padWidth)
              let s = g.strideWidth
              for ox in lo..<hi { dst[ox * s] += src[ox] }
            }
            src += wo
          }
        }
      }
    }
  }

  /// A short row copy in 16- and 8-wide moves: the compiler kept a plain loop scalar
  /// (it could not rule out overlap), and a memcpy call costs more than 7–56 floats.
  @inline(__always)
  static func copy(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, _ n: Int) {
    var j = 0
    while j + 16 <= n {
      UnsafeMutableRawPointer(dst + j).storeBytes(of: UnsafeRawPointer(src + j).loadUnaligned(as: SIMD16<Float>.self), as: SIMD16<Float>.self)
      j += 16
    }
    if j + 8 <= n {
      UnsafeMutableRawPointer(dst + j).storeBytes(of: UnsafeRawPointer(src + j).loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
      j += 8
    }
    while j < n {
      dst[j] = src[j]
      j += 1
    }
  }

  /// The ox in [0, count) with 0 ≤ ox·stride + offset < limit, as lo..<hi.
  @inline(__always)
  static func validRange(offset: Int, stride: Int, limit: Int, count: Int) -> (Int, Int) {
    // ox ≥ ceil(−offset / stride), ox ≤ floor((limit − 1 − offset) / stride)
    let lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride
    let last = limit - 1 - offset
    let hi = last < 0 ? 0 : min(count, last / stride + 1)
    return (min(lo, hi), hi)
  }
}
