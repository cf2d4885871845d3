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

  /// …or for a small plane (at most 16 outputs wide, as tiny's and the hourglasses' inner
  /// layers) of depth c·kh·kw ≤ 576, when Winograd does not take it: there a band is one
  /// run of outputs across rows, while im2col + GEMM pays its fixed costs per layer
  /// (tiny's 8×8 64→64 and 3×3 stride-2 convs ran 20–40% faster, docs/performance.md).
  public static func applies(inputChannels c: Int, outputChannels o: Int, geometry g: ConvGeometry, outputWidth wo: Int) -> Bool {
    applies(inputChannels: c, outputChannels: o, geometry: g)
      || (supports(g) && !g.isPointwise && wo <= 16 && c * g.kernelHeight * g.kernelWidth <= 576 && o >= 8)
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
