import EKDTensor
import Testing
import _EKDTestSupport

/// im2col + SGEMM against a direct convolution on odd shapes.
@Suite struct ConvolutionForward {
  struct Case: CustomTestStringConvertible, Sendable {
    var input: [Int], outChannels: Int, kernel: (Int, Int), stride: Int, padding: Int, threads: Int
    var testDescription: String { "x\(input) o\(outChannels) k\(kernel) s\(stride) p\(padding) t\(threads)" }
  }

  static let cases: [Case] = [
    Case(input: [2, 3, 7, 5], outChannels: 4, kernel: (3, 3), stride: 1, padding: 1, threads: 1),
    Case(input: [3, 2, 9, 6], outChannels: 5, kernel: (3, 3), stride: 2, padding: 1, threads: 2),
    Case(input: [1, 4, 6, 8], outChannels: 3, kernel: (1, 1), stride: 1, padding: 0, threads: 2),
    Case(input: [2, 4, 6, 8], outChannels: 3, kernel: (1, 1), stride: 2, padding: 0, threads: 1),
    Case(input: [2, 3, 11, 10], outChannels: 2, kernel: (7, 7), stride: 2, padding: 3, threads: 2),
    Case(input: [1, 2, 5, 7], outChannels: 3, kernel: (2, 3), stride: 1, padding: 0, threads: 1),
    Case(input: [2, 1, 4, 4], outChannels: 2, kernel: (3, 3), stride: 3, padding: 2, threads: 2),
    // One image, one tile, 40 output channels: the second thread splits OpenBLAS's rows.
    Case(input: [1, 5, 7, 7], outChannels: 40, kernel: (3, 3), stride: 1, padding: 1, threads: 2),
    // Pointwise with at least 128 positions per image: one GEMM per image, never grouped.
    Case(input: [3, 6, 12, 11], outChannels: 40, kernel: (1, 1), stride: 1, padding: 0, threads: 2),
    Case(input: [3, 6, 12, 11], outChannels: 5, kernel: (1, 1), stride: 1, padding: 0, threads: 1),
    // Stride-1 "same" convs (Wo = W): 5×5 and 7×7 windows wider than the image, and one
    // narrower than its padding.
    Case(input: [2, 3, 6, 4], outChannels: 5, kernel: (5, 5), stride: 1, padding: 2, threads: 1),
    Case(input: [1, 2, 3, 3], outChannels: 4, kernel: (7, 7), stride: 1, padding: 3, threads: 1),
    Case(input: [2, 4, 9, 14], outChannels: 6, kernel: (3, 3), stride: 1, padding: 1, threads: 2),
    // 3×3 stride 1 with C ≥ 48 and enough tiles per worker: Winograd's path.
    Case(input: [2, 48, 24, 23], outChannels: 8, kernel: (3, 3), stride: 1, padding: 1, threads: 2),
    // One image, two workers: bands of output rows, each with its own im2col (thin and not).
    Case(input: [1, 5, 19, 13], outChannels: 6, kernel: (3, 3), stride: 1, padding: 1, threads: 2),
    Case(input: [1, 7, 17, 16], outChannels: 40, kernel: (3, 3), stride: 1, padding: 1, threads: 2),
    // Stride 2 on rows wide enough for im2col's eight-wide gather, with a tail.
    Case(input: [2, 3, 7, 53], outChannels: 40, kernel: (3, 3), stride: 2, padding: 1, threads: 2),
    Case(input: [1, 2, 5, 41], outChannels: 3, kernel: (4, 4), stride: 2, padding: 0, threads: 1),
    // A strided 1×1 at batch 1 (ResNet's downsample): a subsample, then bands of a GEMM.
    Case(input: [1, 20, 13, 45], outChannels: 40, kernel: (1, 1), stride: 2, padding: 0, threads: 2),
  ]

  @Test(arguments: cases)
  func matchesDirectConvolution(_ c: Case) {
    var rng = SeededRandom(seed: 11)
    let g = ConvGeometry(kernelHeight: c.kernel.0, kernelWidth: c.kernel.1, stride: c.stride, padding: c.padding)
    let x = Tensor.randomNormal(Shape(c.input), using: &rng)
    let w = Tensor.randomNormal([c.outChannels, c.input[1], c.kernel.0, c.kernel.1], using: &rng)
    let b = Tensor.randomNormal([c.outChannels], using: &rng)
    let tape = Tape(mode: .inference, threads: c.threads)
    let y = tape.conv2d(tape.constant(x), weight: tape.constant(w), bias: tape.constant(b), geometry: g).value
    let expected = Reference.conv2d(x, weight: w, bias: b, geometry: g)
    #expect(y.shape == expected.shape)
    #expect(Reference.maxAbsDifference(y, expected) < 1e-4)
  }
}

/// The tiled paths (bands of rows, groups of images) against the direct
/// convolution (forward) and against one-tile-per-image (backward, which the
/// finite-difference tests check).
@Suite struct ConvolutionTiles {
  @Test(arguments: [1, 5, 13, 40, 100])
  func tiledMatchesUntiled(tileColumns: Int) {
    var rng = SeededRandom(seed: 8)
    for (shape, kernel, stride, padding) in [([4, 3, 7, 6], 3, 1, 1), ([5, 4, 5, 5], 1, 1, 0), ([3, 2, 9, 8], 3, 2, 1)] {
      let g = ConvGeometry(kernel: kernel, stride: stride, padding: padding)
      let x = Tensor.randomNormal(Shape(shape), using: &rng)
      let w = Tensor.randomNormal([3, shape[1], kernel, kernel], using: &rng)
      let b = Tensor.randomNormal([3], using: &rng)
      for threads in [1, 2] {
        let y = Conv2dKernel.forward(x, weight: w, bias: b, geometry: g, threads: threads, tileColumns: tileColumns)
        #expect(Reference.maxAbsDifference(y, Reference.conv2d(x, weight: w, bias: b, geometry: g)) < 1e-4)
        let dy = Tensor.randomNormal(y.shape, using: &rng)
        var grads: [[Tensor]] = []
        for tiles in [tileColumns, 1 << 30] {
          var dx = Tensor(zeros: x.shape), dw = Tensor(zeros: w.shape), db = Tensor(zeros: b.shape)
          Conv2dKernel.backward(
            dy, input: x, weight: w, geometry: g, threads: threads,
            dx: dx.withUnsafeMutableBufferPointer { $0.baseAddress! },
            dw: dw.withUnsafeMutableBufferPointer { $0.baseAddress! },
            db: db.withUnsafeMutableBufferPointer { $0.baseAddress! }, tileColumns: tiles)
          grads.append([dx, dw, db])
        }
        for (a, e) in zip(grads[0], grads[1]) { #expect(Reference.maxAbsDifference(a, e) < 1e-4) }
      }
    }
  }
}

/// Backward against the reference gradients, with and without a fused ReLU's mask, one and
/// two threads, dX accumulated onto what it held, channels not a multiple of 8 and odd
/// widths: dX as a forward conv through the turned weights (3×3 stride 1, where Winograd
/// takes that conv), and a pointwise conv of ≥ 128 positions, one image per tile, several
/// images per worker.
@Suite struct ConvolutionBackward {
  @Test(arguments: [1, 2])
  func matchesTheReference(threads: Int) {
    var rng = SeededRandom(seed: 41)
    for (shape, o, kernel) in [([2, 37, 14, 13], 50, 3), ([3, 19, 16, 12], 19, 3), ([5, 12, 12, 11], 20, 1)] {
      let g = ConvGeometry(kernel: kernel, padding: kernel / 2)
      let x = Tensor.randomNormal(Shape(shape), using: &rng)
      let w = Tensor.randomNormal([o, shape[1], kernel, kernel], using: &rng)
      let dy = Tensor.randomNormal([shape[0], o, shape[2], shape[3]], using: &rng)
      let transposed = Conv2dKernel.transposedTakes(inputChannels: shape[1], outputChannels: o, geometry: g, dy: dy.shape, threads: threads)
      #expect(transposed == (kernel == 3))
      for relu in [false, true] {
        let y = Conv2dKernel.forward(x, weight: w, bias: nil, geometry: g, threads: threads, relu: true)
        let seen = relu ? Tensor(shape: dy.shape, scalars: zip(dy.scalars, y.scalars).map { $1 > 0 ? $0 : 0 }) : dy
        let want = Reference.conv2dBackward(seen, input: x, weight: w, geometry: g)
        let before = Tensor.randomNormal(x.shape, using: &rng)
        var dx = before, dw = Tensor(zeros: w.shape), db = Tensor(zeros: [o])
        Conv2dKernel.backward(
          dy, input: x, weight: w, geometry: g, threads: threads, dx: dx.mutablePointer, dw: dw.mutablePointer, db: db.mutablePointer,
          reluOutput: relu ? y : nil)
        let dxAdded = Tensor(shape: x.shape, scalars: zip(dx.scalars, before.scalars).map { $0 - $1 })
        let label = "\(shape) → \(o), k\(kernel), relu \(relu)"
        #expect(Reference.maxAbsDifference(dxAdded, want.dx) < 1e-3, "dx \(label)")
        #expect(Reference.maxAbsDifference(dw, want.dw) < 1e-3, "dw \(label)")
        #expect(Reference.maxAbsDifference(db, want.db) < 1e-3, "db \(label)")
        // dX alone (a frozen conv's weights): the same dX, nothing else computed.
        var dxOnly = Tensor(zeros: x.shape)
        Conv2dKernel.backward(
          dy, input: x, weight: w, geometry: g, threads: threads, dx: dxOnly.mutablePointer, dw: nil, db: nil, reluOutput: relu ? y : nil)
        #expect(Reference.maxAbsDifference(dxOnly, want.dx) < 1e-3, "dx alone \(label)")
      }
    }
  }
}

/// conv2d(relu: true) against conv2d followed by relu(), in value and in every gradient,
/// on each tiling path: bands of one image, groups of small images, pointwise in place,
/// one and two workers (two workers sum the bias gradient in per-worker rows).
@Suite struct FusedConvReLU {
  @Test(arguments: [1, 2])
  func matchesTheUnfusedPair(threads: Int) {
    var rng = SeededRandom(seed: 21)
    let cases: [(shape: [Int], out: Int, kernel: Int, stride: Int, padding: Int, bias: Bool)] = [
      ([3, 3, 40, 37], 5, 3, 1, 1, true),  // banded: more positions than a tile
      ([5, 4, 6, 7], 9, 3, 2, 1, true),  // grouped small images
      ([3, 6, 12, 11], 40, 1, 1, 0, true),  // pointwise, read in place
      ([2, 2, 9, 9], 3, 1, 2, 0, false),  // strided pointwise, no bias
      ([2, 48, 24, 24], 8, 3, 1, 1, true),  // forward by Winograd
    ]
    for c in cases {
      let g = ConvGeometry(kernel: c.kernel, stride: c.stride, padding: c.padding)
      let x = Tensor.randomNormal(Shape(c.shape), using: &rng)
      let w = Tensor.randomNormal([c.out, c.shape[1], c.kernel, c.kernel], using: &rng)
      let b = Tensor.randomNormal([c.out], using: &rng)
      var results: [[Tensor]] = []
      var seed: Tensor?
      for fused in [true, false] {
        let tape = Tape(threads: threads)
        let (vx, vw) = (tape.input(x), tape.input(w))
        let vb = c.bias ? tape.input(b) : nil
        let y = fused ? tape.conv2d(vx, weight: vw, bias: vb, geometry: g, relu: true) : tape.conv2d(vx, weight: vw, bias: vb, geometry: g).relu()
        if seed == nil { seed = Tensor.randomNormal(y.shape, using: &rng) }
        tape.backward(from: y, seed: seed)
        results.append([y.value, tape.gradient(of: vx)!, tape.gradient(of: vw)!] + (vb.map { [tape.gradient(of: $0)!] } ?? []))
      }
      #expect(results[0][0].scalars.contains(0) && results[0][0].scalars.contains { $0 > 0 })  // the ReLU clipped some, not all
      for (a, e) in zip(results[0], results[1]) {
        let scale = e.scalars.map(abs).max() ?? 1
        #expect(Reference.maxAbsDifference(a, e) <= 1e-5 * max(scale, 1), "\(c.shape) k\(c.kernel) s\(c.stride)")
      }
    }
  }
}

/// forward(residual:) equals ReLU(conv + bias + residual) from the reference conv, on
/// every tile path: ThinGEMM and OpenBLAS, one image per tile and grouped images, and one
/// image too small to cut into bands (ResNet's 7×7 stage at batch 1), whose im2col and
/// GEMM rows are shared out on two threads.
@Suite struct ConvolutionResidual {
  @Test(arguments: [1, 2])
  func addsTheResidualBeforeTheReLU(threads: Int) {
    var rng = SeededRandom(seed: 31)
    for (shape, o, kernel) in [([2, 6, 16, 12], 8, 1), ([2, 6, 16, 12], 40, 1), ([5, 4, 5, 6], 8, 3), ([5, 4, 5, 6], 40, 3), ([1, 40, 7, 7], 40, 3)] {
      let g = ConvGeometry(kernel: kernel, padding: kernel / 2)
      let x = Tensor.randomNormal(Shape(shape), using: &rng)
      let w = Tensor.randomNormal([o, shape[1], kernel, kernel], using: &rng), b = Tensor.randomNormal([o], using: &rng)
      let conv = Reference.conv2d(x, weight: w, bias: b, geometry: g)
      let residual = Tensor.randomNormal(conv.shape, using: &rng)
      for relu in [false, true] {
        let want = Tensor(shape: conv.shape, scalars: zip(conv.scalars, residual.scalars).map { relu ? max($0 + $1, 0) : $0 + $1 })
        var y = Tensor(uninitialized: conv.shape)
        Conv2dKernel.forward(x, weight: w, bias: b, geometry: g, threads: threads, relu: relu, residual: residual.pointer, into: y.mutablePointer)
        #expect(Reference.maxAbsDifference(y, want) < 1e-4, "\(shape) o\(o) k\(kernel) relu \(relu)")
      }
    }
  }
}

/// A fused ReLU keeps a NaN, as `relu()` does (a NaN must reach the loss and stop the run,
/// not turn into a zero), on every forward path: ThinGEMM, OpenBLAS, Winograd, DirectConv.
@Suite struct FusedReLUKeepsNaN {
  @Test func onEveryPath() {
    var rng = SeededRandom(seed: 5)
    for (shape, o, kernel, stride) in [([2, 3, 12, 12], 8, 3, 1), ([2, 3, 12, 12], 40, 3, 1), ([2, 48, 24, 24], 8, 3, 1), ([1, 3, 20, 20], 8, 7, 2)] {
      var x = Tensor.randomNormal(Shape(shape), using: &rng)
      x[0, 0, 5, 5] = .nan
      let w = Tensor.randomNormal([o, shape[1], kernel, kernel], using: &rng)
      let y = Conv2dKernel.forward(x, weight: w, bias: nil, geometry: ConvGeometry(kernel: kernel, stride: stride, padding: kernel / 2), threads: 2, relu: true)
      #expect(y.scalars.contains { $0.isNaN }, "\(shape) → \(o), k\(kernel) s\(stride)")
    }
  }
}
