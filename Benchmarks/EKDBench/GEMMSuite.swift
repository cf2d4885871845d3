import COpenBLAS
import EKDTensor
import Foundation
import _EKDTestSupport

/// Our convolution (im2col + SGEMM) against raw `cblas_sgemm` on the same
/// (M, N, K), in the same run, forward and backward.
///
/// Raw forward is one GEMM with M = O, N = batch·Ho·Wo, K = C·k·k: the most
/// favourable layout BLAS could get. Raw backward is the two GEMMs of the
/// same sizes (dW and dX). Ratios > 1 would mean we beat BLAS on its own
/// shape; the gap below 1 is im2col/col2im and per-image GEMM overhead.
enum GEMMSuite {
  struct ConvShape {
    var name: String, batch: Int, channels: Int, outputs: Int, size: Int, kernel: Int
    var geometry: ConvGeometry { ConvGeometry(kernel: kernel, stride: 1, padding: kernel / 2) }
    var m: Int { outputs }
    var n: Int { batch * size * size }
    var k: Int { channels * kernel * kernel }
    var forwardFLOPs: Double { 2 * Double(m) * Double(n) * Double(k) }
  }

  static func shapes(batch: Int) -> [ConvShape] {
    [
      ConvShape(name: "resnet50 res2 3x3 64→64 @56", batch: batch, channels: 64, outputs: 64, size: 56, kernel: 3),
      ConvShape(name: "resnet50 res2 1x1 64→256 @56", batch: batch, channels: 64, outputs: 256, size: 56, kernel: 1),
      ConvShape(name: "resnet50 res2 1x1 256→64 @56", batch: batch, channels: 256, outputs: 64, size: 56, kernel: 1),
      ConvShape(name: "resnet50 res4 3x3 256→256 @14", batch: batch, channels: 256, outputs: 256, size: 14, kernel: 3),
      ConvShape(name: "resnet50 res4 1x1 256→1024 @14", batch: batch, channels: 256, outputs: 1024, size: 14, kernel: 1),
      ConvShape(name: "resnet50 res4 1x1 1024→256 @14", batch: batch, channels: 1024, outputs: 256, size: 14, kernel: 1),
      ConvShape(name: "3x3 128→128 @64", batch: batch, channels: 128, outputs: 128, size: 64, kernel: 3),
    ]
  }

  /// Raw SGEMM GFLOP/s on an n×n×n product: the machine's practical peak.
  static func sgemmPeak(threads: Int, size n: Int = 2048, repetitions: Int) -> Double {
    var rng = SeededRandom(seed: 1)
    let a = Tensor.randomNormal([n, n], using: &rng), b = Tensor.randomNormal([n, n], using: &rng)
    var c = Tensor(zeros: [n, n])
    let t = Harness.median(repetitions: repetitions) { gemm(a, b, &c, m: n, n: n, k: n, threads: threads) }
    return 2 * Double(n * n * n) / t.median / 1e9
  }

  struct Row {
    var shape: ConvShape
    var rawForward: Double, oursForward: Double, oursForwardRowSplit: Double
    var rawBackward: Double, oursBackward: Double
    var json: [String: Any] {
      [
        "name": shape.name, "batch": shape.batch, "M": shape.m, "N": shape.n, "K": shape.k,
        "raw_forward_gflops": rawForward, "conv_forward_gflops": oursForward,
        "conv_forward_row_split_gflops": oursForwardRowSplit,
        "raw_backward_gflops": rawBackward, "conv_backward_gflops": oursBackward,
        "forward_ratio": oursForward / rawForward, "backward_ratio": oursBackward / rawBackward,
      ]
    }
  }

  static func run(threads: Int, batch: Int, repetitions: Int, validate: Bool, tileColumns: Int? = nil) -> [Row] {
    var rows: [Row] = []
    for s in shapes(batch: batch) {
      var rng = SeededRandom(seed: 7)
      let x = Tensor.randomNormal([s.batch, s.channels, s.size, s.size], using: &rng)
      let w = Tensor.randomNormal([s.outputs, s.channels, s.kernel, s.kernel], std: 0.05, using: &rng)
      let dy = Tensor.randomNormal([s.batch, s.outputs, s.size, s.size], using: &rng)
      if validate { check(s, x, w, threads: threads) }

      // Raw BLAS on contiguous matrices of the same sizes.
      let a = Tensor.randomNormal([s.m, s.k], using: &rng)
      let b = Tensor.randomNormal([s.k, s.n], using: &rng)
      var c = Tensor(zeros: [s.m, s.n])
      var dcols = Tensor(zeros: [s.k, s.n])
      var dwRaw = Tensor(zeros: [s.m, s.k])
      var dx = Tensor(zeros: x.shape), dw = Tensor(zeros: w.shape)
      let pdx = dx.withUnsafeMutableBufferPointer { $0.baseAddress! }
      let pdw = dw.withUnsafeMutableBufferPointer { $0.baseAddress! }
      // Blocks of repetitions, alternated: raw BLAS with its own threads, then
      // ours. Interleaving single calls would let OpenBLAS's spin-waiting
      // threads steal cores from our workers right after each raw call.
      let forward = Harness.alternatingBlocks(
        repetitions: repetitions,
        [
          { gemm(a, b, &c, m: s.m, n: s.n, k: s.k, threads: threads) },
          { _ = Conv2dKernel.forward(x, weight: w, bias: nil, geometry: s.geometry, threads: threads, tileColumns: tileColumns) },
          { _ = Conv2dKernel.forward(x, weight: w, bias: nil, geometry: s.geometry, threads: threads, plan: (1, threads)) },
        ])
      let backward = Harness.alternatingBlocks(
        repetitions: repetitions,
        [
          {
            gemm(c, b, &dwRaw, m: s.m, n: s.k, k: s.n, transB: true, threads: threads)  // dW = dY · colsᵀ
            gemm(a, c, &dcols, m: s.k, n: s.n, k: s.m, transA: true, threads: threads)  // dcols = Wᵀ · dY
          },
          { Conv2dKernel.backward(dy, input: x, weight: w, geometry: s.geometry, threads: threads, dx: pdx, dw: pdw, db: nil, tileColumns: tileColumns) },
        ])
      let (rawF, oursF, oursFB, rawB, oursB) = (forward[0], forward[1], forward[2], backward[0], backward[1])
      withExtendedLifetime((dx, dw)) {}
      let f = s.forwardFLOPs / 1e9
      rows.append(
        Row(
          shape: s, rawForward: f / rawF, oursForward: f / oursF, oursForwardRowSplit: f / oursFB,
          rawBackward: 2 * f / rawB, oursBackward: 2 * f / oursB))
    }
    return rows
  }

  /// Raw OpenBLAS as its users call it: one `cblas_sgemm` with OpenBLAS's own
  /// `threads` threads. The benchmark's baseline is the only place besides
  /// `BLAS` that sets OpenBLAS's thread count, and it puts it back to 1 at once.
  private static func gemm(_ a: Tensor, _ b: Tensor, _ c: inout Tensor, m: Int, n: Int, k: Int, transA: Bool = false, transB: Bool = false, threads: Int) {
    openblas_set_num_threads(Int32(threads))
    defer { openblas_set_num_threads(1) }
    let cp = c.withUnsafeMutableBufferPointer { $0.baseAddress! }
    a.withUnsafeBufferPointer { ap in
      b.withUnsafeBufferPointer { bp in
        cblas_sgemm(
          CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), Int32(k), 1,
          ap.baseAddress!, Int32(transA ? m : k), bp.baseAddress!, Int32(transB ? k : n), 0, cp, Int32(n))
      }
    }
  }

  /// Refuses to time a wrong kernel: image 0 against a direct convolution.
  private static func check(_ s: ConvShape, _ x: Tensor, _ w: Tensor, threads: Int) {
    let y = Conv2dKernel.forward(x, weight: w, bias: nil, geometry: s.geometry, threads: threads)
    let x0 = Tensor(shape: [1, s.channels, s.size, s.size], scalars: x.scalars.prefix(s.channels * s.size * s.size))
    let ref = Reference.conv2d(x0, weight: w, bias: nil, geometry: s.geometry)
    let y0 = Tensor(shape: ref.shape, scalars: y.scalars.prefix(ref.count))
    let err = Reference.maxAbsDifference(y0, ref)
    guard err < 1e-3 else { fatalError("\(s.name): conv forward differs from the direct convolution by \(err)") }
  }

  static func printTable(_ rows: [Row], peak: Double, peakOneThread: Double, threads: Int) {
    print("sgemm 2048³ peak: \(Harness.format(peakOneThread)) GFLOP/s on 1 thread, \(Harness.format(peak)) on \(threads)")
    print("conv vs raw cblas_sgemm on the same (M, N, K), \(threads) threads, GFLOP/s (median):")
    let header = [
      Harness.pad("layer", 32, right: true), Harness.pad("M", 5), Harness.pad("N", 6), Harness.pad("K", 5),
      Harness.pad("raw fwd", 8), Harness.pad("conv fwd", 9), Harness.pad("ratio", 6), Harness.pad("row-split", 9),
      Harness.pad("raw bwd", 8), Harness.pad("conv bwd", 9), Harness.pad("ratio", 6),
    ]
    print(header.joined(separator: " "))
    for r in rows {
      let cells = [
        Harness.pad(r.shape.name, 32, right: true), Harness.pad("\(r.shape.m)", 5), Harness.pad("\(r.shape.n)", 6),
        Harness.pad("\(r.shape.k)", 5), Harness.pad(Harness.format(r.rawForward), 8),
        Harness.pad(Harness.format(r.oursForward), 9), Harness.pad(Harness.format(r.oursForward / r.rawForward, 2), 6),
        Harness.pad(Harness.format(r.oursForwardRowSplit), 9),
        Harness.pad(Harness.format(r.rawBackward), 8), Harness.pad(Harness.format(r.oursBackward), 9),
        Harness.pad(Harness.format(r.oursBackward / r.rawBackward, 2), 6),
      ]
      print(cells.joined(separator: " "))
    }
  }
}
