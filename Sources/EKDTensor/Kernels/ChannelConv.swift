import CKernels
import Foundation

/// A direct convolution vectorized over output channels, for convs on small planes
/// (tiny's 8×8 and 16×16 layers and its stride-2 stages) at inference.
///
/// Why not `DirectConv`: its vectors run over a band's outputs, and a small plane fills
/// few of their lanes (tiny's 8×8 at batch 1: four rows of 8 outputs in 48 lanes), so
/// it computed up to half again the products it kept. Here a vector holds 16 output
/// channels, every lane useful whatever the plane. It needs its weights packed tap-major
/// (`pack`), which costs about as much as a small conv, so it is for an inference plan,
/// which packs once. C, with AVX-512F, AVX2+FMA and portable paths, as `ThinGEMM`.
public enum ChannelConv {
  /// Off for A/B measurements (`EKD_AB_NO_CHANNEL=1`): such convs then take `DirectConv`.
  static let enabled = ProcessInfo.processInfo.environment["EKD_AB_NO_CHANNEL"] == nil

  /// Whether an inference plan packs a conv for this path: tiny's shape of layer. Stride
  /// 1 or 2, not 1×1; more than four input channels (stems stay on `DirectConv`, whose few
  /// taps would not cover this kernel's stores) and a depth c·kh·kw of at most 576 (deeper,
  /// GEMMs run at speed: ResNet's 14×14 and 7×7 stages were no faster here); at least 32
  /// outputs (ts500m's 19 fill 19 of 32 lanes; no faster); rows of at most 16 outputs.
  public static func applies(inputChannels c: Int, outputChannels o: Int, geometry g: ConvGeometry, outputWidth wo: Int) -> Bool {
    let taps = g.kernelHeight * g.kernelWidth
    return enabled && g.strideHeight == g.strideWidth && (1...2).contains(g.strideHeight) && g.padHeight == g.padWidth
      && taps > 1 && c > 4 && c * taps <= 576 && o >= 32 && wo <= 16
  }

  /// `w` (o × c × kh × kw) tap-major, in blocks of 16 output channels.
  public static func pack(_ w: Tensor) -> Tensor {
    let (o, taps) = (w.shape[0], w.shape[1] * w.shape[2] * w.shape[3])
    var packed = Tensor(uninitialized: [taps, (o + 15) / 16 * 16])
    ekd_channel_conv_pack(w.pointer, Int32(o), Int32(taps), packed.mutablePointer)
    return packed
  }

  /// y = conv(x) + bias (then ReLU if `relu`) for a batch, `packed` from `pack`. Images
  /// go to workers whole; a batch smaller than the workers is cut into bands of rows.
  public static func forward(
    path: ThinGEMM.Path = ThinGEMM.best, _ x: Tensor, packed: Tensor, outputChannels o: Int, geometry g: ConvGeometry,
    bias: Tensor?, relu: Bool, threads: Int, into py: UnsafeMutablePointer<Float>, imageStride: Int? = nil
  ) {
    let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (ho, wo) = g.outputSize(height: h, width: wd)
    let p = ho * wo, span = imageStride ?? o * p
    precondition(packed.shape == [c * g.kernelHeight * g.kernelWidth, (o + 15) / 16 * 16], "ChannelConv: packed \(packed.shape) for \(o)×\(c)")
    // Bands of at most `tallest` rows, whose padded input stays within ~256 KB of L2, and
    // at least one band per worker. Each output row adds its stride's input rows.
    let rowFloats = scratchCount(channels: c, geometry: g, rows: 2, outputWidth: wo) - scratchCount(channels: c, geometry: g, rows: 1, outputWidth: wo)
    let tallest = max(1, min(ho, 65_536 / max(1, rowFloats)))
    let bands = min(ho, max((ho + tallest - 1) / tallest, (threads + n - 1) / n)), band = (ho + bands - 1) / bands
    let scratchCount = scratchCount(channels: c, geometry: g, rows: band, outputWidth: wo)
    let px = x.pointer, pw = packed.pointer, pb = bias?.pointer
    Parallel.chunks(n * bands, threads: threads) { units, _ in
      var scratch = Conv2dKernel.Scratch()
      let buffer = scratch.cols(scratchCount)
      for unit in units {
        let (i, first) = (unit / bands, unit % bands * band)
        run(
          path: path, x: px + i * c * h * wd, channels: c, height: h, width: wd, packed: pw, outputChannels: o, geometry: g, bias: pb,
          y: py + i * span + first * wo, planeStride: p, outputWidth: wo, rows: first..<min(ho, first + band), channelRange: 0..<o,
          relu: relu, scratch: buffer)
      }
    }
    withExtendedLifetime((x, packed, bias)) {}
  }

  /// Floats of scratch `run` needs for `rows` output rows.
  public static func scratchCount(channels c: Int, geometry g: ConvGeometry, rows: Int, outputWidth wo: Int) -> Int {
    ekd_channel_conv_scratch(Int32(c), Int32(g.kernelHeight), Int32(g.kernelWidth), Int32(g.strideHeight), Int32(rows), Int32(wo))
  }

  /// Output rows `rows` and channels `channelRange` (starting at a multiple of 16) of one
  /// image, as `DirectConv.run`, from weights `packed` by `pack`.
  public static func run(
    path: ThinGEMM.Path = ThinGEMM.best, x: UnsafePointer<Float>, channels c: Int, height h: Int, width w: Int,
    packed: UnsafePointer<Float>, outputChannels o: Int, geometry g: ConvGeometry, bias: UnsafePointer<Float>?,
    y: UnsafeMutablePointer<Float>, planeStride: Int, outputWidth wo: Int, rows: Range<Int>, channelRange: Range<Int>, relu: Bool,
    scratch: UnsafeMutablePointer<Float>
  ) {
    precondition(channelRange.lowerBound % 16 == 0 && channelRange.upperBound <= o, "ChannelConv: channels \(channelRange) of \(o)")
    ekd_channel_conv_isa(
      path.rawValue, x, Int32(c), Int32(h), Int32(w), packed, Int32(o), Int32(g.kernelHeight), Int32(g.kernelWidth),
      Int32(g.strideHeight), Int32(g.padHeight), bias, y, planeStride, Int32(wo), Int32(rows.lowerBound), Int32(rows.upperBound),
      Int32(channelRange.lowerBound), Int32(channelRange.upperBound), relu ? 1 : 0, scratch)
  }
}
