import CKernels
import Foundation

/// A direct convolution for stems: at most 4 input channels, stride 1 or 2 (ts500m's
/// 7×7 stride-2 3→8, which im2col + GEMM ran at 36 GFLOP/s; ResNet's 7×7 3→64 and
/// SqueezeNet's 3×3 3→64 and 7×7 3→96).
///
/// Why not im2col: the column matrix has c·kh·kw rows (27 to 147) and is read o times,
/// so building it costs as much as a thin GEMM's products, and a GEMM of depth 27 runs
/// at half of OpenBLAS's speed. Here each run of output columns keeps the sums of 8
/// output channels in registers over all c·kh·kw steps. C, with AVX-512F, AVX2+FMA and
/// portable paths chosen at run time, as `ThinGEMM`.
public enum DirectConv {
  /// Off for A/B measurements (`EKD_AB_NO_DIRECT=1`): such convs then take im2col.
  static let enabled = ProcessInfo.processInfo.environment["EKD_AB_NO_DIRECT"] == nil

  /// Whether `Conv2dKernel.forward` takes this path for a stem: at most 4 input channels,
  /// and a GEMM that would be too shallow (k > 144) or too wide for `ThinGEMM` (o > 32).
  public static func applies(inputChannels c: Int, outputChannels o: Int, geometry g: ConvGeometry) -> Bool {
    supports(g) && c <= 4 && (g.kernelHeight * g.kernelWidth * c > ThinGEMM.maximumDepth || o > ThinGEMM.maximumRows)
  }

  /// …or, when Winograd does not take it, for a conv of depth c·kh·kw ≤ 288 (SqueezeNet's
  /// 3×3 expands from 16 and 32 channels), or ≤ 576 on a small plane (at most 16 outputs
  /// wide: tiny's and the hourglasses' inner layers). A band is one run of outputs across
  /// rows, while im2col + GEMM builds a matrix read only o/8 times and pays its fixed costs
  /// per layer. Per node at batch 8 (Zen 4, 2 threads, EKDBench against
  /// `EKD_AB_NO_DIRECT=1`): tiny's 8×8 64→64 0.33 → 0.25 ms (docs/performance.md).
  public static func applies(inputChannels c: Int, outputChannels o: Int, geometry g: ConvGeometry, outputWidth wo: Int) -> Bool {
    let depth = c * g.kernelHeight * g.kernelWidth
    return applies(inputChannels: c, outputChannels: o, geometry: g)
      || (supports(g) && !g.isPointwise && o >= 8 && (depth <= 288 || (wo <= 16 && depth <= 576)))
  }

  private static func supports(_ g: ConvGeometry) -> Bool {
    enabled && ThinGEMM.best != .portable && g.strideHeight == g.strideWidth && (1...2).contains(g.strideHeight)
      && g.padHeight == g.padWidth
  }

  /// Floats of scratch `run` needs for `rows` output rows.
  public static func scratchCount(channels c: Int, geometry g: ConvGeometry, rows: Int, outputWidth wo: Int) -> Int {
    ekd_direct_conv_scratch(Int32(c), Int32(g.kernelHeight), Int32(g.kernelWidth), Int32(g.strideHeight), Int32(rows), Int32(wo))
  }

  /// Output rows `rows` of one image: y (o × ho × wo) = conv(x (c × h × w)) + bias, then ReLU if `relu`.
  public static func run(
    path: ThinGEMM.Path = ThinGEMM.best, x: UnsafePointer<Float>, channels c: Int, height h: Int, width w: Int,
    weight: UnsafePointer<Float>, outputChannels o: Int, geometry g: ConvGeometry, bias: UnsafePointer<Float>?,
    y: UnsafeMutablePointer<Float>, outputHeight ho: Int, outputWidth wo: Int, rows: Range<Int>, relu: Bool,
    scratch: UnsafeMutablePointer<Float>
  ) {
    ekd_direct_conv_isa(
      path.rawValue, x, Int32(c), Int32(h), Int32(w), weight, Int32(o), Int32(g.kernelHeight), Int32(g.kernelWidth),
      Int32(g.strideHeight), Int32(g.padHeight), bias, y, Int32(ho), Int32(wo), Int32(rows.lowerBound), Int32(rows.upperBound),
      relu ? 1 : 0, scratch)
  }
}
