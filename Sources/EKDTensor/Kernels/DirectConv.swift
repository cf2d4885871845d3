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
  /// Never a 1×1 window: a strided one's im2col is a cheap subsample, and its GEMM
  /// (ResNet-50's 256→512 and 512→1024 downsamples at batch 1: 1.51–1.58 → 1.16–1.19 ms)
  /// reuses each loaded input across many more outputs than 8 channels' sums.
  public static func applies(inputChannels c: Int, outputChannels o: Int, geometry g: ConvGeometry, outputWidth wo: Int) -> Bool {
    let taps = g.kernelHeight * g.kernelWidth, depth = c * taps
    return applies(inputChannels: c, outputChannels: o, geometry: g)
      || (supports(g) && taps > 1 && o >= 8 && (depth <= 288 || (wo <= 16 && depth <= 576)))
  }

  private static func supports(_ g: ConvGeometry) -> Bool {
    enabled && ThinGEMM.best != .portable && g.strideHeight == g.strideWidth && (1...2).contains(g.strideHeight)
      && g.padHeight == g.padWidth
  }

  /// Floats of scratch `run` needs for `rows` output rows.
  public static func scratchCount(channels c: Int, geometry g: ConvGeometry, rows: Int, outputWidth wo: Int) -> Int {
    ekd_direct_conv_scratch(Int32(c), Int32(g.kernelHeight), Int32(g.kernelWidth), Int32(g.strideHeight), Int32(rows), Int32(wo))
  }

  /// Output rows `rows` of one image: y (o × ho × wo) = conv(x (c × h × w)) + bias, then
  /// ReLU if `relu`. `y` is where output row `rows.lowerBound` of channel 0 goes, channel
  /// planes `planeStride` floats apart (ho·wo, or a band's rows·wo when the caller pools
  /// a band while it is in cache).
  public static func run(
    path: ThinGEMM.Path = ThinGEMM.best, x: UnsafePointer<Float>, channels c: Int, height h: Int, width w: Int,
    weight: UnsafePointer<Float>, outputChannels o: Int, geometry g: ConvGeometry, bias: UnsafePointer<Float>?,
    y: UnsafeMutablePointer<Float>, planeStride: Int, outputWidth wo: Int, rows: Range<Int>, relu: Bool,
    scratch: UnsafeMutablePointer<Float>
  ) {
    ekd_direct_conv_isa(
      path.rawValue, x, Int32(c), Int32(h), Int32(w), weight, Int32(o), Int32(g.kernelHeight), Int32(g.kernelWidth),
      Int32(g.strideHeight), Int32(g.padHeight), bias, y, planeStride, Int32(wo), Int32(rows.lowerBound), Int32(rows.upperBound),
      relu ? 1 : 0, scratch)
  }

  /// A conv on this path (then ReLU if `relu`) and the stride-2 max pool that reads it,
  /// band by band: each band of conv rows is pooled while it is in cache, and the conv's
  /// whole output is never written. Why: a stem's output is the largest of a student
  /// (squeezenet1_1's 64×111×111, 3 MB an image, beyond L2), so the conv's stores and the
  /// pool's loads ran at memory speed. A band starts with the last conv row of the band
  /// before it, kept rather than recomputed, where a 3×3 window overlaps the next.
  public static func forwardPooled(
    _ x: Tensor, weight w: Tensor, bias b: Tensor?, geometry g: ConvGeometry, relu: Bool, pool: ConvGeometry, ceilMode: Bool,
    threads: Int
  ) -> Tensor {
    precondition(PoolingKernel.Max.hasVectorKernel(pool), "forwardPooled: max pool \(pool) is not one it takes")
    let (n, c, h, wd, o) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], w.shape[0])
    let (ho, wo) = g.outputSize(height: h, width: wd)
    let k = pool.kernelHeight, pad = pool.padHeight
    let hp = PoolingKernel.outputSize(ho, kernel: k, stride: 2, padding: pad, ceilMode: ceilMode)
    let wp = PoolingKernel.outputSize(wo, kernel: k, stride: 2, padding: pad, ceilMode: ceilMode)
    // Pooled rows per band: the band's conv rows (2·rows + k − 2) within ~384 KB of L2.
    let perBand = max(1, min(hp, (98_304 / max(1, o * wo) - (k - 2)) / 2))
    let bands = (hp + perBand - 1) / perBand
    let tallest = 2 * perBand + k - 2
    var y = Tensor(uninitialized: [n, o, hp, wp])
    let px = x.pointer, pw = w.pointer, pb = b?.pointer, py = y.mutablePointer
    // A band's pooled rows, and the conv rows their windows read.
    func pooledRows(_ band: Int) -> Range<Int> { (band * perBand)..<min(hp, (band + 1) * perBand) }
    func convRows(_ pooled: Range<Int>) -> Range<Int> { max(0, 2 * pooled.lowerBound - pad)..<min(ho, 2 * (pooled.upperBound - 1) - pad + k) }
    Parallel.chunks(n * bands, threads: threads) { units, _ in
      let plane = tallest * wo
      let buffer = TensorStorage(uninitializedCount: o * plane)
      let scratch = TensorStorage(uninitializedCount: scratchCount(channels: c, geometry: g, rows: tallest, outputWidth: wo))
      let out = buffer.pointer
      var held: (image: Int, rows: Range<Int>)? = nil
      for unit in units {
        let (image, pooled) = (unit / bands, pooledRows(unit % bands))
        let rows = convRows(pooled)
        var from = rows.lowerBound
        if let held, held.image == image, held.rows.contains(rows.lowerBound), held.rows.upperBound <= rows.upperBound {
          // The rows both bands read move to the buffer's top.
          let kept = held.rows.upperBound - rows.lowerBound, offset = (rows.lowerBound - held.rows.lowerBound) * wo
          for oc in 0..<o { (out + oc * plane).update(from: out + oc * plane + offset, count: kept * wo) }
          from = held.rows.upperBound
        }
        if from < rows.upperBound {
          run(
            x: px + image * c * h * wd, channels: c, height: h, width: wd, weight: pw, outputChannels: o, geometry: g, bias: pb,
            y: out + (from - rows.lowerBound) * wo, planeStride: plane, outputWidth: wo, rows: from..<rows.upperBound, relu: relu,
            scratch: scratch.pointer)
        }
        ekd_max_pool_s2_isa(
          ThinGEMM.best.rawValue, out, plane, Int32(rows.lowerBound), Int32(o), Int32(ho), Int32(wo), Int32(k), Int32(pad),
          py + image * o * hp * wp + pooled.lowerBound * wp, hp * wp, nil, Int32(pooled.lowerBound), Int32(pooled.upperBound), Int32(wp))
        held = (image, rows)
      }
      withExtendedLifetime((buffer, scratch)) {}
    }
    withExtendedLifetime((x, w, b)) {}
    return y
  }
}
