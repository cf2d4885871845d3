import Foundation

/// 3×3, stride-1, padding-1 convolution by Winograd's minimal filtering F(2×2, 3×3)
/// (Lavin and Gray 2016): 16 multiplies per 2×2 outputs and input channel instead
/// of 36, as 16 GEMMs.
///
/// Why: these convs are most of ResNet's, SqueezeNet's and the hourglasses' FLOPs,
/// and im2col + SGEMM can at best match a GEMM of their im2col shape (ResNet's 14×14
/// 3×3 reached 0.8 of it). Per 4×4 input tile d (tiles overlap by 2) and filter g:
///   V = Bᵀ d B,  U = G g Gᵀ,  M[ξ] = Σ_c U[ξ][o][c]·V[ξ][c][t],  Y = Aᵀ M A (2×2)
/// with the matrices of F(2, 3). The sum over channels is a GEMM per ξ (O × C times
/// C × tiles). Tile rows are cut into chunks of ~256 tiles, shared out over workers,
/// each with its own V and M (about 16·(C + O)·256 floats).
///
/// Rounding: the transforms add and halve only, so results differ from the direct
/// sum by a few ulps of the operands' magnitude (tested to 1e-4 against the
/// reference on unit-normal data). Backward stays im2col + SGEMM.
public enum Winograd {
  /// Off for A/B measurements (`EKD_AB_NO_WINOGRAD=1`), read once.
  static let enabled = ProcessInfo.processInfo.environment["EKD_AB_NO_WINOGRAD"] == nil
  /// Tiles per chunk: V and M of a chunk stay in L2 for the channel counts that matter.
  static let chunkTiles = 512

  /// Whether `Conv2dKernel.forward` takes this path for a 3×3 stride-1 padding-1 conv.
  ///
  /// The 16 GEMMs have depth C and width the tiles: they lose to DirectConv or to one
  /// im2col GEMM of depth 9·C when C is small (SqueezeNet's 16→64 at 55×55 ran slower;
  /// its 32→128 at 27×27 too, unless ThinGEMM runs the GEMMs, as with AVX-512), unless the
  /// im2col GEMM is thin too (O ≤ 32, ts500m's 19-channel convs); and below 16 tiles
  /// per worker, or on planes narrower than 12 (a tile row then fills few of the eight
  /// lanes), they lose too (ResNet's 7×7 planes: slower by 2× and more).
  /// Timed layer by layer on the Zen 4, and per student with `EKDBench` (docs/performance.md).
  public static func applies(inputChannels c: Int, outputChannels o: Int, geometry g: ConvGeometry) -> Bool {
    enabled && g.kernelHeight == 3 && g.kernelWidth == 3 && g.strideHeight == 1 && g.strideWidth == 1
      && g.padHeight == 1 && g.padWidth == 1 && o >= 8 && (c >= 48 || (c >= 32 && ThinGEMM.takes(m: o, k: c)) || (c >= 8 && o <= 32))
  }

  /// …and whether this input gives each of `threads` workers enough tiles (16), in rows
  /// wide enough to fill the lanes: ResNet's 14×14 and squeezenet1_1's 13×13 at batch 1
  /// on two threads (49 tiles) gain there; the latter went to DirectConv when the bar
  /// was 32 for convs of C < 128.
  package static func applies(batch n: Int, height h: Int, width w: Int, threads: Int) -> Bool {
    n * ((h + 1) / 2) * ((w + 1) / 2) >= 16 * max(threads, 1) && w >= 12
  }

  /// U[ξ][o][c] = (G g Gᵀ)[ξ] for weights [O, C, 3, 3].
  package static func transformWeights(_ w: UnsafePointer<Float>, outputs o: Int, inputs c: Int, into u: UnsafeMutablePointer<Float>) {
    // G applied to three values: (a, (a + b + d)/2, (a − b + d)/2, d).
    func gTimes(_ a: Float, _ b: Float, _ d: Float) -> (Float, Float, Float, Float) { (a, (a + b + d) / 2, (a - b + d) / 2, d) }
    let plane = o * c
    for oc in 0..<plane {
      let g = w + oc * 9
      // G g, column by column: rows of the 4×3 product.
      let k0 = gTimes(g[0], g[3], g[6]), k1 = gTimes(g[1], g[4], g[7]), k2 = gTimes(g[2], g[5], g[8])
      // (G g) Gᵀ, row by row.
      func row(_ i: Int, _ r: (Float, Float, Float, Float)) {
        let base = u + 4 * i * plane + oc
        (base[0], base[plane], base[2 * plane], base[3 * plane]) = r
      }
      row(0, gTimes(k0.0, k1.0, k2.0))
      row(1, gTimes(k0.1, k1.1, k2.1))
      row(2, gTimes(k0.2, k1.2, k2.2))
      row(3, gTimes(k0.3, k1.3, k2.3))
    }
  }

  /// U for weights [O, C, 3, 3], as [16, O, C]: what an inference plan computes once
  /// per conv instead of once per call.
  public static func transformedWeights(_ w: Tensor) -> Tensor {
    var u = Tensor(uninitialized: [16, w.shape[0], w.shape[1]])
    transformWeights(w.pointer, outputs: w.shape[0], inputs: w.shape[1], into: u.mutablePointer)
    return u
  }

  /// y (images `imageStride` apart) = conv3×3(x) + bias, then ReLU if asked; `u` is
  /// `transformedWeights(w)` when the caller has it.
  package static func forward(
    _ x: Tensor, weight w: Tensor, transformed: Tensor?, bias b: Tensor?, threads: Int, relu: Bool,
    into py: UnsafeMutablePointer<Float>, imageStride span: Int
  ) {
    let (n, c, h, wd, o) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], w.shape[0])
    let u = transformed ?? transformedWeights(w)
    precondition(u.shape == [16, o, c], "Winograd weights \(u.shape) for \(w.shape)")
    let t = Tiling(
      x: x.pointer, channels: c, height: h, width: wd, outputs: o, u: u.pointer, bias: b?.pointer, relu: relu, y: py, imageStride: span)
    let tileRows = n * t.tilesY
    defer { withExtendedLifetime((x, w, b, u)) {} }
    if threads > 1 && tileRows < 4 * threads && tileRows * t.tilesX <= chunkTiles {
      // Few tile rows per worker (squeezenet1_1's 13×13 at batch 1: 7 rows, which chunks
      // of rows share out 4 : 3): three phases over all the tiles at once, each shared out
      // evenly: the input transform by channel, the 16 GEMMs by ξ, the output transform
      // by output channel.
      let tiles = tileRows * t.tilesX, ld = tiles + 8
      let v = TensorStorage(uninitializedCount: 16 * c * ld), m = TensorStorage(uninitializedCount: 16 * o * ld)
      Parallel.chunks(c, threads: threads) { channels, _ in
        let rows = TensorStorage(zeroedCount: 4 * t.paddedWidth)
        t.transformInput(tileRows: 0..<tileRows, channels: channels, rows: rows.pointer, into: v.pointer, ld: ld)
      }
      let thin = t.thin(tiles: tiles)
      Parallel.chunks(16, threads: threads) { xis, _ in
        for xi in xis { t.multiply(xi, tiles: tiles, thin: thin, v: v.pointer, m: m.pointer, ld: ld) }
      }
      Parallel.chunks(o, threads: threads) { outputs, _ in
        t.transformOutput(tileRows: 0..<tileRows, outputs: outputs, from: m.pointer, ld: ld)
      }
      withExtendedLifetime((v, m)) {}
      return
    }
    // Chunks of whole tile rows (image, ty), at least one per worker.
    let perChunk = max(1, min(chunkTiles / t.tilesX, (tileRows + threads - 1) / max(threads, 1)))
    let chunks = (tileRows + perChunk - 1) / perChunk
    let thin = t.thin(tiles: perChunk * t.tilesX)
    Parallel.chunks(chunks, threads: threads) { range, _ in
      let ld = perChunk * t.tilesX + 8  // a block's 8 lanes may run past the last tile
      let v = TensorStorage(uninitializedCount: 16 * c * ld), m = TensorStorage(uninitializedCount: 16 * o * ld)
      let rows = TensorStorage(zeroedCount: 4 * t.paddedWidth)
      for chunk in range {
        let first = chunk * perChunk, count = min(perChunk, tileRows - first)
        t.transformInput(tileRows: first..<(first + count), channels: 0..<c, rows: rows.pointer, into: v.pointer, ld: ld)
        for xi in 0..<16 { t.multiply(xi, tiles: count * t.tilesX, thin: thin, v: v.pointer, m: m.pointer, ld: ld) }
        t.transformOutput(tileRows: first..<(first + count), outputs: 0..<o, from: m.pointer, ld: ld)
      }
    }
  }

  /// One conv's geometry and operands, for the three steps of `forward` over a range of
  /// tile rows (image, ty) — a chunk's, or all of them in phases.
  private struct Tiling {
    let x: UnsafePointer<Float>, channels: Int, height: Int, width: Int, outputs: Int
    let u: UnsafePointer<Float>, bias: UnsafePointer<Float>?, relu: Bool
    let y: UnsafeMutablePointer<Float>, imageStride: Int
    var tilesY: Int { (height + 1) / 2 }
    var tilesX: Int { (width + 1) / 2 }
    var paddedWidth: Int { 2 * ((tilesX + 7) / 8 * 8) + 20 }

    /// V for tile rows `tileRows` of `channels`, tile row r at column (r − first)·tilesX.
    func transformInput(tileRows: Range<Int>, channels: Range<Int>, rows: UnsafeMutablePointer<Float>, into v: UnsafeMutablePointer<Float>, ld: Int) {
      let (c, h, wd) = (self.channels, height, width)
      for ch in channels {
        for r in tileRows {
          let (image, ty) = (r / tilesY, r % tilesY)
          inputTiles(
            x + (image * c + ch) * h * wd, height: h, width: wd, tileRow: ty, tilesX: tilesX, rows: rows, paddedWidth: paddedWidth,
            into: v + ch * ld + (r - tileRows.lowerBound) * tilesX, xiStride: c * ld)
        }
      }
    }

    /// Whether GEMMs `tiles` wide run in ThinGEMM: where it takes them, except those both
    /// short (k < 128) and narrow (under 64 tiles), where OpenBLAS was faster or as fast
    /// (squeezenet1_1's 13×13 at batch 1: 49 tiles, k = 48 and 64).
    func thin(tiles: Int) -> Bool { ThinGEMM.takes(m: outputs, k: channels) && (channels >= 128 || tiles >= 64) }

    /// M[ξ] = U[ξ]·V[ξ] over `tiles` tiles, in ThinGEMM if `thin`, else OpenBLAS.
    func multiply(_ xi: Int, tiles: Int, thin: Bool, v: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>, ld: Int) {
      let (o, c) = (outputs, channels)
      if thin {
        ThinGEMM.run(m: o, n: tiles, k: c, a: u + xi * o * c, lda: c, b: v + xi * c * ld, ldb: ld, beta: 0, c: m + xi * o * ld, ldc: ld)
      } else {
        BLAS.gemm(m: o, n: tiles, k: c, a: u + xi * o * c, lda: c, b: v + xi * c * ld, ldb: ld, c: m + xi * o * ld, ldc: ld, threads: 1)
      }
    }

    /// Y (+ bias, ReLU) of `outputs` for tile rows `tileRows`, read as `transformInput` wrote them.
    func transformOutput(tileRows: Range<Int>, outputs: Range<Int>, from m: UnsafePointer<Float>, ld: Int) {
      for oc in outputs {
        for r in tileRows {
          let (image, ty) = (r / tilesY, r % tilesY)
          outputTiles(
            m + oc * ld + (r - tileRows.lowerBound) * tilesX, xiStride: self.outputs * ld, tilesX: tilesX, bias: bias?[oc] ?? 0,
            relu: relu, into: y + image * imageStride + oc * height * width, height: height, width: width, tileRow: ty)
        }
      }
    }
  }

  /// V for the tiles of one tile row of one channel plane: 16 values per tile, value ξ
  /// at `v + ξ·xiStride + tile`. Eight tiles at a time: tile t's column j is input
  /// column 2t − 1 + j, the even or odd lanes of a 16-wide load from a zero-padded row.
  @inline(__always)
  static func inputTiles(
    _ plane: UnsafePointer<Float>, height h: Int, width w: Int, tileRow ty: Int, tilesX: Int,
    rows: UnsafeMutablePointer<Float>, paddedWidth: Int, into v: UnsafeMutablePointer<Float>, xiStride: Int
  ) {
    for r in 0..<4 {
      let iy = 2 * ty - 1 + r, row = rows + r * paddedWidth
      if iy >= 0 && iy < h {
        (row + 1).update(from: plane + iy * w, count: w)
      } else {
        (row + 1).update(repeating: 0, count: w)
      }
    }
    var tx = 0
    while tx < tilesX {
      // Column j of input row r for eight tiles, then Bᵀ down each column.
      func column(_ r: Int) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
        let row = rows + r * paddedWidth + 2 * tx
        let a = Rows.load(row), b = Rows.load(row + 2)
        return (a.evenHalf, a.oddHalf, b.evenHalf, b.oddHalf)
      }
      let (r0, r1, r2, r3) = (column(0), column(1), column(2), column(3))
      let t0 = sub(r0, r2), t1 = add(r1, r2), t2 = sub(r2, r1), t3 = sub(r1, r3)
      // B on each transformed row: element ξ = 4i + j.
      func put(_ i: Int, _ t: Quad) {
        let out = transform(t), base = v + 4 * i * xiStride + tx
        store(out.0, base)
        store(out.1, base + xiStride)
        store(out.2, base + 2 * xiStride)
        store(out.3, base + 3 * xiStride)
      }
      put(0, t0)
      put(1, t1)
      put(2, t2)
      put(3, t3)
      tx += 8
    }
  }

  typealias Quad = (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)
  @inline(__always) static func add(_ a: Quad, _ b: Quad) -> Quad { (a.0 + b.0, a.1 + b.1, a.2 + b.2, a.3 + b.3) }
  @inline(__always) static func sub(_ a: Quad, _ b: Quad) -> Quad { (a.0 - b.0, a.1 - b.1, a.2 - b.2, a.3 - b.3) }
  /// Bᵀ applied to four values: (d0 − d2, d1 + d2, d2 − d1, d1 − d3).
  @inline(__always) static func transform(_ d: Quad) -> Quad { (d.0 - d.2, d.1 + d.2, d.2 - d.1, d.1 - d.3) }
  @inline(__always) static func store(_ x: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: x, as: SIMD8<Float>.self)
  }

  /// Y = Aᵀ M A (+ bias, ReLU) for the tiles of one tile row of one output channel,
  /// written to output rows 2ty and 2ty + 1 (those inside the image).
  @inline(__always)
  static func outputTiles(
    _ m: UnsafePointer<Float>, xiStride: Int, tilesX: Int, bias: Float, relu: Bool,
    into plane: UnsafeMutablePointer<Float>, height h: Int, width w: Int, tileRow ty: Int
  ) {
    var tx = 0
    while tx < tilesX {
      // Aᵀ on rows: (m0 + m1 + m2, m1 − m2 − m3), for each of the 4 columns j.
      func rows(_ j: Int) -> (SIMD8<Float>, SIMD8<Float>) {
        let m0 = load8(m + j * xiStride + tx), m1 = load8(m + (4 + j) * xiStride + tx)
        let m2 = load8(m + (8 + j) * xiStride + tx), m3 = load8(m + (12 + j) * xiStride + tx)
        return (m0 + m1 + m2, m1 - m2 - m3)
      }
      let (c0, c1, c2, c3) = (rows(0), rows(1), rows(2), rows(3))
      let lanes = min(8, tilesX - tx)
      for i in 0..<2 where 2 * ty + i < h {
        let (a0, a1, a2, a3) = i == 0 ? (c0.0, c1.0, c2.0, c3.0) : (c0.1, c1.1, c2.1, c3.1)
        var y0 = a0 + a1 + a2 + bias, y1 = a1 - a2 - a3 + bias
        if relu {
          y0.replace(with: 0, where: y0 .< 0)  // a NaN stays NaN, as Swift.max(·, 0) keeps it
          y1.replace(with: 0, where: y1 .< 0)
        }
        let row = plane + (2 * ty + i) * w + 2 * tx
        for lane in 0..<lanes {
          row[2 * lane] = y0[lane]
          if 2 * (tx + lane) + 1 < w { row[2 * lane + 1] = y1[lane] }
        }
      }
      tx += 8
    }
  }

  @inline(__always)
  static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
}
