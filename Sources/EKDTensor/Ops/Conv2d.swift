import Foundation

/// 2-D convolution as im2col + SGEMM, Caffe's lowering.
///
/// Dimension letters: N batch, C input channels, H×W input, O output channels,
/// Ho×Wo output, K = C·kh·kw, P = Ho·Wo.
///   forward:  Y[n] (O×P) = W (O×K) · cols(X[n]) (K×P) + b
///   backward: dW (O×K) += dY[n] (O×P) · cols(X[n])ᵀ
///             dX[n]    += col2im(Wᵀ (K×O) · dY[n])
/// A 1×1 stride-1 unpadded conv skips im2col: X[n] (C×P) is its own column matrix.
///
/// Tiles: each GEMM covers one `Tile` of output columns. A large image is
/// cut into bands of output rows, so the K × band column matrix is still in
/// cache when the GEMM packs it; small images (P below the tile width) are
/// grouped side by side into one wider GEMM, because SGEMM with a narrow N
/// runs far below peak. Grouping costs a gather/scatter of O × N outputs.
///
/// Threads: our own workers, each with its own scratch, so im2col runs in
/// parallel too. Forward shares tiles out over the workers; backward shares
/// whole images. A plan's `gemmThreads` split each GEMM's rows further (see
/// `BLAS` for why those are ours and not OpenBLAS's).
public enum Conv2dKernel {
  /// Backward's (workers over the batch, threads inside each GEMM): workers
  /// own whole images (their col2im writes would overlap otherwise), so a
  /// batch smaller than `threads` hands the rest to the GEMMs.
  public static func backwardPlan(batch: Int, threads: Int) -> (workers: Int, gemmThreads: Int) {
    let workers = max(1, min(threads, batch))
    return (workers, workers > 1 ? 1 : threads)
  }

  public static func outputShape(input: Shape, weight: Shape, geometry g: ConvGeometry) -> Shape {
    let (ho, wo) = g.outputSize(height: input[2], width: input[3])
    return [input[0], weight[0], ho, wo]
  }

  /// Bytes of column matrix per tile, and the bounds on its width in output
  /// columns: narrower GEMMs lose to packing overhead, wider tiles to cache
  /// misses. Tuned with `EKDBench --tile-columns` (docs/performance.md).
  static let defaultTileBytes = 1 << 20
  static let tileColumnRange = 512...2048

  /// A unit of GEMM work: output rows `rows` of the images `images`.
  struct Tile {
    var images: Range<Int>
    var rows: Range<Int>
  }

  /// Tiles covering `images`, each about `columns` output positions wide.
  /// Groups are capped so that every one of `workers` gets a tile.
  ///
  /// A `pointwise` conv of at least 128 positions gets one image per tile: X[n] is its own
  /// column matrix and dX[n] its own col2im, read and written in place, where a group
  /// pays a gather and a scatter of O × width (forward: at ResNet's 14×14 one GEMM per
  /// image ran 15% faster, docs/performance.md; backward copied X and dX, 1,024 × 392
  /// floats a tile at its 1024→256). Below 128 columns, untested: grouped.
  static func tiles(images: Range<Int>, height ho: Int, width wo: Int, k: Int, workers: Int, columns: Int?, pointwise: Bool) -> [Tile] {
    let target = columns ?? min(max(defaultTileBytes / (4 * k), tileColumnRange.lowerBound), tileColumnRange.upperBound)
    let p = ho * wo
    if p >= target {
      // Bands of about `target` columns, all of one height: 28 rows cut as 18 + 10 left
      // one of two workers idle a third of the time (ResNet's 28×28 3×3 at batch 1).
      let widest = max(1, target / max(wo, 1)), bands = (ho + widest - 1) / widest
      let band = (ho + bands - 1) / bands
      return images.flatMap { i in
        stride(from: 0, to: ho, by: band).map { Tile(images: i..<(i + 1), rows: $0..<min(ho, $0 + band)) }
      }
    }
    let perWorker = (images.count + workers - 1) / max(workers, 1)
    let group = pointwise && p >= 128 ? 1 : max(1, min(perWorker, target / max(p, 1)))
    return stride(from: images.lowerBound, to: images.upperBound, by: group).map {
      Tile(images: $0..<min(images.upperBound, $0 + group), rows: 0..<ho)
    }
  }

  /// - Parameters:
  ///   - plan: overrides the thread split (the benchmark compares policies).
  ///   - tileColumns: overrides the tile width (tests force many small tiles).
  ///   - relu: max(·, 0) applied to each tile right after its GEMM, while it is in
  ///     cache (inference with folded batch norm: conv, bias and ReLU in one pass).
  public static func forward(
    _ x: Tensor, weight w: Tensor, bias b: Tensor?, geometry g: ConvGeometry, threads: Int,
    plan: (workers: Int, gemmThreads: Int)? = nil, tileColumns: Int? = nil, relu: Bool = false
  ) -> Tensor {
    var y = Tensor(uninitialized: outputShape(input: x.shape, weight: w.shape, geometry: g))
    forward(x, weight: w, bias: b, geometry: g, threads: threads, plan: plan, tileColumns: tileColumns, relu: relu, into: y.mutablePointer)
    return y
  }

  /// `forward` into caller-owned memory whose images lie `imageStride` floats apart
  /// (nil: O·Ho·Wo): a channel slice of a wider tensor, so that the convs feeding a
  /// concat write its output in place (SqueezeNet's fire modules, at inference).
  ///
  /// - Parameters:
  ///   - residual: added to the output before the ReLU, in each tile's epilogue (a
  ///     ResNet block's last conv and its shortcut, at inference); laid out as the
  ///     output, images O·Ho·Wo apart.
  ///   - winograd: `Winograd.transformedWeights(w)`, when a 3×3 conv may take that path
  ///     and the caller keeps it (an inference plan); computed per call otherwise.
  ///   - channelPacked: `ChannelConv.pack(w)`, when the caller (an inference plan) chose
  ///     that path for a conv on a small plane; taken unless Winograd takes the conv.
  public static func forward(
    _ x: Tensor, weight w: Tensor, bias b: Tensor?, geometry g: ConvGeometry, threads: Int,
    plan: (workers: Int, gemmThreads: Int)? = nil, tileColumns: Int? = nil, relu: Bool = false,
    residual: UnsafePointer<Float>? = nil, winograd: Tensor? = nil, channelPacked: Tensor? = nil,
    into py: UnsafeMutablePointer<Float>, imageStride: Int? = nil
  ) {
    precondition(x.shape.rank == 4 && w.shape.rank == 4, "conv2d wants NCHW input and OCkk weight")
    precondition(x.shape[1] == w.shape[1], "conv2d: input \(x.shape) has \(x.shape[1]) channels, weight \(w.shape) wants \(w.shape[1])")
    precondition(w.shape[2] == g.kernelHeight && w.shape[3] == g.kernelWidth, "conv2d: weight \(w.shape) vs \(g)")
    let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let yShape = outputShape(input: x.shape, weight: w.shape, geometry: g)
    precondition(yShape[2] > 0 && yShape[3] > 0, "conv2d: \(g) on \(x.shape) leaves no output")
    let (o, ho, wo) = (w.shape[0], yShape[2], yShape[3])
    let p = ho * wo, k = c * g.kernelHeight * g.kernelWidth
    let span = imageStride ?? o * p
    let px = x.pointer, pw = w.pointer, pb = b?.pointer
    let winograds =
      residual == nil && plan == nil && tileColumns == nil && Winograd.applies(inputChannels: c, outputChannels: o, geometry: g)
      && Winograd.applies(batch: n, height: h, width: wd, threads: threads)
    if residual == nil && !winograds, let channelPacked {
      ChannelConv.forward(
        x, packed: channelPacked, outputChannels: o, geometry: g, bias: b, relu: relu, threads: threads, into: py, imageStride: span)
      return
    }
    let direct =
      winograds
      ? DirectConv.applies(inputChannels: c, outputChannels: o, geometry: g)
      : DirectConv.applies(inputChannels: c, outputChannels: o, geometry: g, outputWidth: wo)
    if residual == nil && direct {
      // No im2col at all (DirectConv), in bands of output rows: up to 32 (its padded input
      // rows overlap by kh − stride, so wider bands copy less), whose input copy stays
      // within ~200 KB of L2, and at least one band per worker.
      let workers = plan.map { $0.workers * $0.gemmThreads } ?? threads
      let tallest = max(1, min(32, 50_000 / max(1, c * g.strideHeight * (wd + g.kernelWidth))))
      // With fewer images than workers on a small plane, the workers share out output
      // channels (in blocks of 8) rather than rows: a band of a few short rows fills few
      // of a vector's lanes (tiny's 8×8 layers at batch 1: 4 rows of 8 in 48 lanes).
      let groups = n < workers && (ho + workers - 1) / workers * wo <= 64 ? max(1, min(workers / n, o / 8)) : 1
      let fewest = (ho + tallest - 1) / tallest
      let bands = groups > 1 ? fewest : min(ho, max(fewest, (workers + n - 1) / n)), band = (ho + bands - 1) / bands
      let scratchCount = DirectConv.scratchCount(channels: c, geometry: g, rows: band, outputWidth: wo)
      Parallel.chunks(n * groups * bands, threads: workers) { range, _ in
        var scratch = Scratch()
        let buffer = scratch.cols(scratchCount)
        for unit in range {
          let (i, group, first) = (unit / (groups * bands), unit / bands % groups, unit % bands * band)
          let o0 = o / 8 * group / groups * 8, o1 = group == groups - 1 ? o : o / 8 * (group + 1) / groups * 8
          DirectConv.run(
            x: px + i * c * h * wd, channels: c, height: h, width: wd, weight: pw + o0 * k, outputChannels: o1 - o0, geometry: g,
            bias: pb.map { $0 + o0 }, y: py + i * span + o0 * p + first * wo, planeStride: p, outputWidth: wo,
            rows: first..<min(ho, first + band), relu: relu, scratch: buffer)
        }
      }
      return
    }
    if winograds {
      Winograd.forward(x, weight: w, transformed: winograd, bias: b, threads: threads, relu: relu, into: py, imageStride: span)
      return
    }
    var plan = plan ?? (workers: threads, gemmThreads: 1)
    var work = tiles(images: 0..<n, height: ho, width: wo, k: k, workers: plan.workers, columns: tileColumns, pointwise: g.isPointwise)
    // Our own kernel, which does not pack the tile (ThinGEMM), or OpenBLAS.
    let thin = ThinGEMM.takes(m: o, k: k)
    if work.count < plan.workers {
      // Fewer tiles than workers (batch 1). Bands of output rows, each worker its own
      // im2col and GEMM, while a band keeps ≥ 64 columns (tiny's 16×16 layers) and has
      // an im2col to share or too few rows to split; else the idle workers split each
      // GEMM's rows (ResNet's 14×14 and 7×7 stages), which leaves im2col to one thread.
      let split = plan.workers / max(work.count, 1), band = (ho + split - 1) / split
      if band * wo >= 64 && (!g.isPointwise || (thin && o <= ThinGEMM.maximumRows)) {
        work = work.flatMap { t in
          stride(from: t.rows.lowerBound, to: t.rows.upperBound, by: band).map {
            Tile(images: t.images, rows: $0..<min(t.rows.upperBound, $0 + band))
          }
        }
      } else {
        plan = (work.count, plan.gemmThreads * plan.workers / max(work.count, 1))
      }
    }
    let widest = work.map { $0.images.count * $0.rows.count * wo }.max() ?? 0
    // Tiles write disjoint outputs, so they are shared out regardless of image.
    Parallel.chunks(work.count, threads: plan.workers) { range, _ in
      var scratch = Scratch()
      for t in work[range] {
        let pc = t.rows.count * wo, width = t.images.count * pc, first = t.images.lowerBound
        if t.images.count == 1 {
          // GEMM straight into this image's output band.
          let yi = py + first * span + t.rows.lowerBound * wo
          // C starts as bias (+ residual) and the GEMM adds to it (β = 1).
          if let ri = residual.map({ $0 + first * o * p + t.rows.lowerBound * wo }) {
            for r in 0..<o {
              let (dst, src, bias) = (yi + r * p, ri + r * p, pb?[r] ?? 0)
              for q in 0..<pc { dst[q] = src[q] + bias }
            }
          } else if let pb {
            for r in 0..<o { (yi + r * p).update(repeating: pb[r], count: pc) }
          }
          let beta: Float = pb == nil && residual == nil ? 0 : 1
          let columns: UnsafePointer<Float>
          let ldb: Int
          if g.isPointwise {
            (columns, ldb) = (px + first * c * h * wd + t.rows.lowerBound * wo, p)
          } else {
            let cols = scratch.cols(k * widest)
            // A tile whose GEMM's rows are shared out (batch 1, few rows: ResNet's 7×7
            // stage) shares its im2col too, by input channel (each channel's rows of cols).
            let taps = g.kernelHeight * g.kernelWidth
            Parallel.chunks(c, threads: plan.gemmThreads, minimumPerWorker: 16) { channels, _ in
              Im2Col.forward(
                px + first * c * h * wd + channels.lowerBound * h * wd, channels: channels.count, height: h, width: wd, g, rows: t.rows,
                into: cols + channels.lowerBound * taps * pc, ld: pc)
            }
            (columns, ldb) = (UnsafePointer(cols), pc)
          }
          if thin {
            ThinGEMM.run(
              m: o, n: pc, k: k, a: pw, lda: k, b: columns, ldb: ldb, beta: beta, c: yi, ldc: p, relu: relu, threads: plan.gemmThreads)
          } else {
            BLAS.gemm(
              m: o, n: pc, k: k, a: pw, lda: k, b: columns, ldb: ldb, beta: beta, c: yi, ldc: p,
              threads: plan.gemmThreads)
            if relu { for r in 0..<o { let row = yi + r * p; for q in 0..<pc { row[q] = Swift.max(row[q], 0) } } }
          }
        } else {
          // Several small images side by side, then scattered to NCHW (whole images only:
          // the scatter below writes from row 0).
          precondition(t.rows == 0..<ho, "conv: a grouped tile covers whole images")
          let cols = scratch.cols(k * widest), out = scratch.out(o * widest)
          for (j, i) in t.images.enumerated() {
            Im2Col.forward(px + i * c * h * wd, channels: c, height: h, width: wd, g, rows: t.rows, into: cols + j * pc, ld: width)
          }
          if thin {
            ThinGEMM.run(m: o, n: width, k: k, a: pw, lda: k, b: cols, ldb: width, beta: 0, c: out, ldc: width, threads: plan.gemmThreads)
          } else {
            BLAS.gemm(m: o, n: width, k: k, a: pw, lda: k, b: cols, ldb: width, c: out, ldc: width, threads: plan.gemmThreads)
          }
          for (j, i) in t.images.enumerated() {
            for r in 0..<o {
              let src = out + r * width + j * pc, dst = py + i * span + r * p
              let bias = pb?[r] ?? 0
              if let res = residual.map({ $0 + (i * o + r) * p }) {
                for q in 0..<pc { dst[q] = src[q] + bias + res[q] }
                if relu { for q in 0..<pc { dst[q] = Swift.max(dst[q], 0) } }
              } else if relu {
                for q in 0..<pc { dst[q] = Swift.max(src[q] + bias, 0) }
              } else if pb != nil {
                for q in 0..<pc { dst[q] = src[q] + bias }
              } else {
                dst.update(from: src, count: pc)
              }
            }
          }
        }
      }
    }
  }

  /// Accumulates dX, dW, db (each optional) for dY.
  ///
  /// - Parameter reluOutput: forward's output when it fused a ReLU. Its sign masks
  ///   dy tile by tile, while the tile is in cache, instead of in a pass of its own.
  public static func backward(
    _ dy: Tensor, input x: Tensor, weight w: Tensor, geometry g: ConvGeometry, threads: Int,
    dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>?, db: UnsafeMutablePointer<Float>?,
    reluOutput: Tensor? = nil, plan: (workers: Int, gemmThreads: Int)? = nil, tileColumns: Int? = nil
  ) {
    let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (o, ho, wo) = (w.shape[0], dy.shape[2], dy.shape[3])
    if let dx, plan == nil, tileColumns == nil, transposedTakes(inputChannels: c, outputChannels: o, geometry: g, dy: dy.shape, threads: threads) {
      // dX of a stride-1 "same" 3×3 conv is itself one: dY through W with its taps turned
      // half a circle and its channel axes swapped, which Winograd computes faster than
      // Wᵀ·dY and col2im.
      let g0 = reluOutput.map { Rows.mask(dy, by: $0, threads: threads) } ?? dy
      Rows.accumulate(forward(g0, weight: turned(w), bias: nil, geometry: g, threads: threads), into: dx, threads: threads)
      if dw != nil || db != nil { backward(g0, input: x, weight: w, geometry: g, threads: threads, dx: nil, dw: dw, db: db) }
      return
    }
    let p = ho * wo, k = c * g.kernelHeight * g.kernelWidth
    let px = x.pointer, pw = w.pointer, pg = dy.pointer, py = reluOutput?.pointer
    let plan = plan ?? backwardPlan(batch: n, threads: threads)
    // Per-worker dW partial sums when the batch is split; worker 0 writes dw directly.
    let partials =
      (dw != nil && plan.workers > 1)
      ? (1..<plan.workers).map { _ in TensorStorage(zeroedCount: o * k) } : []
    // With a ReLU, db sums the masked tiles: one row of O per worker.
    let biasPartials = (db != nil && py != nil) ? TensorStorage(zeroedCount: o * plan.workers) : nil
    // Workers own whole images, so col2im of different workers never overlaps.
    Parallel.chunks(n, threads: plan.workers) { images, worker in
      let dwOut = dw.map { worker == 0 ? $0 : partials[worker - 1].pointer }
      let work = tiles(images: images, height: ho, width: wo, k: k, workers: 1, columns: tileColumns, pointwise: g.isPointwise)
      let widest = work.map { $0.images.count * $0.rows.count * wo }.max() ?? 0
      var scratch = Scratch()
      for t in work {
        let pc = t.rows.count * wo, width = t.images.count * pc, first = t.images.lowerBound
        let direct = t.images.count == 1 && g.isPointwise
        // dY for this tile as an O × width matrix with row stride ldg.
        let gt: UnsafePointer<Float>, ldg: Int
        if let py {
          let masked = scratch.out(o * widest)
          for (j, i) in t.images.enumerated() {
            let offset = i * o * p + t.rows.lowerBound * wo
            for r in 0..<o {
              Rows.mask(pg + offset + r * p, by: py + offset + r * p, pc, into: masked + r * width + j * pc)
            }
          }
          if let sums = biasPartials?.pointer.advanced(by: worker * o) {
            for r in 0..<o { sums[r] += Rows.sum(masked + r * width, width) }
          }
          (gt, ldg) = (UnsafePointer(masked), width)
        } else if t.images.count == 1 {
          (gt, ldg) = (pg + first * o * p + t.rows.lowerBound * wo, p)
        } else {
          let gathered = scratch.out(o * widest)
          for (j, i) in t.images.enumerated() {
            for r in 0..<o { (gathered + r * width + j * pc).update(from: pg + (i * o + r) * p, count: pc) }
          }
          (gt, ldg) = (UnsafePointer(gathered), width)
        }
        if let dwOut {
          let columns: UnsafePointer<Float>, ldb: Int
          if direct {
            (columns, ldb) = (px + first * c * h * wd + t.rows.lowerBound * wo, p)
          } else {
            let cols = scratch.cols(k * widest)
            for (j, i) in t.images.enumerated() {
              Im2Col.forward(px + i * c * h * wd, channels: c, height: h, width: wd, g, rows: t.rows, into: cols + j * pc, ld: width)
            }
            (columns, ldb) = (UnsafePointer(cols), width)
          }
          BLAS.gemm(
            transB: true, m: o, n: k, k: width, a: gt, lda: ldg, b: columns, ldb: ldb, beta: 1, c: dwOut, ldc: k,
            threads: plan.gemmThreads)
        }
        if let dx {
          if direct {
            BLAS.gemm(
              transA: true, m: k, n: pc, k: o, a: pw, lda: k, b: gt, ldb: ldg, beta: 1,
              c: dx + first * c * h * wd + t.rows.lowerBound * wo, ldc: p, threads: plan.gemmThreads)
          } else {
            let dcols = scratch.dcols(k * widest)
            BLAS.gemm(
              transA: true, m: k, n: width, k: o, a: pw, lda: k, b: gt, ldb: ldg, c: dcols, ldc: width,
              threads: plan.gemmThreads)
            for (j, i) in t.images.enumerated() {
              Im2Col.backward(
                dcols + j * pc, ld: width, channels: c, height: h, width: wd, g, rows: t.rows,
                accumulatingInto: dx + i * c * h * wd)
            }
          }
        }
      }
    }
    if let dw {
      for part in partials {
        let q = part.pointer
        for j in 0..<(o * k) { dw[j] += q[j] }
      }
    }
    if let db, let sums = biasPartials?.pointer {
      for wk in 0..<plan.workers { for r in 0..<o { db[r] += sums[wk * o + r] } }
    } else if let db {
      for i in 0..<n { for r in 0..<o { db[r] += Rows.sum(pg + (i * o + r) * p, p) } }
    }
  }

  /// Off for A/B measurements (`EKD_AB_NO_TRANSPOSED=1`): dX then takes Wᵀ·dY and col2im.
  static let transposedEnabled = ProcessInfo.processInfo.environment["EKD_AB_NO_TRANSPOSED"] == nil

  /// Whether backward computes dX as a forward conv on Winograd's path: when the conv is
  /// its own transpose's shape (3×3, stride 1, padding 1) and Winograd takes that conv.
  package static func transposedTakes(inputChannels c: Int, outputChannels o: Int, geometry g: ConvGeometry, dy: Shape, threads: Int) -> Bool {
    transposedEnabled && Winograd.applies(inputChannels: o, outputChannels: c, geometry: g)
      && Winograd.applies(batch: dy[0], height: dy[2], width: dy[3], threads: threads)
  }

  /// W [O, C, kh, kw] as the weights of dX's conv: [C, O, kh, kw], each window turned
  /// by 180°.
  static func turned(_ w: Tensor) -> Tensor {
    let (o, c, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3]), taps = kh * kw
    var t = Tensor(uninitialized: [c, o, kh, kw])
    let (src, dst) = (w.pointer, t.mutablePointer)
    for oc in 0..<o {
      for ic in 0..<c {
        let from = src + (oc * c + ic) * taps, to = dst + (ic * o + oc) * taps
        for j in 0..<taps { to[j] = from[taps - 1 - j] }
      }
    }
    withExtendedLifetime(w) {}
    return t
  }

  /// One worker's scratch buffers, allocated on first use (from the pool).
  struct Scratch {
    private var storages: [Int: TensorStorage] = [:]
    private mutating func buffer(_ slot: Int, _ count: Int) -> UnsafeMutablePointer<Float> {
      if let s = storages[slot], s.count >= count { return s.pointer }
      let s = TensorStorage(uninitializedCount: count)
      storages[slot] = s
      return s.pointer
    }
    mutating func cols(_ count: Int) -> UnsafeMutablePointer<Float> { buffer(0, count) }
    mutating func dcols(_ count: Int) -> UnsafeMutablePointer<Float> { buffer(1, count) }
    mutating func out(_ count: Int) -> UnsafeMutablePointer<Float> { buffer(2, count) }
  }
}

extension Tape {
  /// y = conv2d(x, weight) + bias, x NCHW, weight [O, C, kh, kw], bias [O].
  ///
  /// `relu` fuses a following ReLU: forward clamps each tile in cache and keeps one
  /// activation instead of two, backward masks dy inside the conv's tiles. An
  /// exporter's tape sees the two ops, as its graph names them.
  public func conv2d(_ x: Variable, weight: Variable, bias: Variable?, geometry: ConvGeometry, relu: Bool = false) -> Variable {
    if relu && tracer != nil { return conv2d(x, weight: weight, bias: bias, geometry: geometry).relu() }
    let y = Conv2dKernel.forward(x.value, weight: weight.value, bias: bias?.value, geometry: geometry, threads: threads, relu: relu)
    tracer?.traced(.conv2d(weight: weight.value, bias: bias?.value, geometry: geometry), inputs: [x.value], output: y)
    let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
    let (workers, xv, wv, out) = (threads, x.value, weight.value, relu ? y : nil)
    return record(y, inputs: inputs) { dy, d in
      Conv2dKernel.backward(
        dy, input: xv, weight: wv, geometry: geometry, threads: workers,
        dx: d[0], dw: d[1], db: d.count > 2 ? d[2] : nil, reluOutput: out)
    }
  }
}
