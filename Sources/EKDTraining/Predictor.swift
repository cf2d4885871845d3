import EKDData
import EKDHand
import EKDInference
import EKDModels
import EKDTensor
import Foundation

/// A trained student run on a user's own images (`ekd predict`): crop by a box,
/// left hands mirrored in and out, 2D in image pixels, the root-relative pose,
/// the 20 angles against the checkpoint's bounds, and metric 3D from one known bone.
public enum Predictor {
  /// One image to predict.
  public struct Input: Sendable {
    public var image: Image
    /// The hand's box in image pixels (x, y, width, height); nil: the whole image.
    public var box: (x: Double, y: Double, width: Double, height: Double)?
    public var hand: Handedness
    /// Row-major 3×3 K of the image; nil when unknown (then no metric 3D).
    public var intrinsics: [Double]?
    public init(image: Image, box: (x: Double, y: Double, width: Double, height: Double)? = nil, hand: Handedness = .right, intrinsics: [Double]? = nil) {
      (self.image, self.box, self.hand, self.intrinsics) = (image, box, hand, intrinsics)
    }
  }

  /// What the student says about one image, in the image as given (a left hand is
  /// reported as the left hand it is).
  public struct Output: Sendable {
    /// 21 joints in image pixels.
    public var uv: [SIMD2<Double>]
    /// Root-relative 3D in units of s (wrist to middle MCP), camera axes.
    public var relative: [Vector3<Double>]
    /// The wrist's depth and every joint in camera millimetres: only with intrinsics,
    /// from `Reconstruction.rootDepth` and the bone length.
    public var rootDepth: Double?
    public var camera: [Vector3<Double>]?
    /// The 20 f-values, in degrees, and which of them break the bounds.
    public var f: [Double], degrees: [Double], violated: [Bool]
  }

  /// Crops fill the student as training crops did: the hand's box plus 30% on each side.
  public static let boxMargin = 0.3

  /// Predicts `inputs` in batches of `batchSize`. `boneLength` is the wrist to
  /// middle-MCP length in mm that fixes the metric scale.
  public static func predict(_ student: Student, bounds: AngleBounds, inputs: [Input], boneLength: Double, batchSize: Int = 16, threads: Int = 2) -> [Output] {
    var outputs: [Output] = []
    let plan = try? InferencePlan(student)
    for start in stride(from: 0, to: inputs.count, by: max(batchSize, 1)) {
      let batch = Array(inputs[start..<min(start + max(batchSize, 1), inputs.count)])
      outputs += predictBatch(student, bounds: bounds, batch, boneLength: boneLength, threads: threads, plan: plan)
    }
    return outputs
  }

  /// Nominal intrinsics when none are given: a 53° field of view across the longer side.
  /// Only the shape of the pose depends on them, and only a little.
  public static func nominalIntrinsics(width: Int, height: Int) -> [Double] {
    let f = Double(max(width, height))
    return [f, 0, Double(width - 1) / 2, 0, f, Double(height - 1) / 2, 0, 0, 1]
  }

  /// The student's (u, v, z) [B, J, 3] for crops [B, 3, S, S] (RGB, value/255 − 0.5):
  /// (u, v) in crop pixels, z the latent depth. The exported ONNX graph computes the same.
  /// With a `plan` (the student's `InferencePlan`), without a tape and with batch norm folded.
  public static func decode(_ student: Student, crops: Tensor, threads: Int = 2, plan: InferencePlan? = nil) -> Tensor {
    let tape = Tape(mode: .inference, threads: threads)
    let size = student.inputSize, j = student.jointCount
    if let plan {
      let head = tape.constant(plan.run(crops, threads: threads))
      return tape.decode25D(heatmaps: tape.slice(head, 0..<j), depths: tape.slice(head, j..<(2 * j)), cropWidth: size, cropHeight: size).value
    }
    let out = student.predict(tape.constant(crops))
    return tape.decode25D(heatmaps: out.heatmaps, depths: out.depths, cropWidth: size, cropHeight: size).value
  }

  static func predictBatch(_ student: Student, bounds: AngleBounds, _ inputs: [Input], boneLength: Double, threads: Int, plan: InferencePlan?) -> [Output] {
    let size = student.inputSize
    // Every hand as a right hand, in its window.
    let prepared = inputs.map { input -> (image: Image, k: [Double], window: CropWindow) in
      let (w, h) = (input.image.width, input.image.height)
      var image = input.image, k = input.intrinsics ?? nominalIntrinsics(width: w, height: h)
      var box = input.box ?? (0, 0, Double(w), Double(h))
      if input.hand == .left {
        image = image.flippedHorizontally()
        k = Mirroring.mirror(intrinsics: k, width: w)
        box.x = Double(w) - box.x - box.width
      }
      let margin = input.box == nil ? 0 : boxMargin
      let side = max(box.width, box.height) * (1 + 2 * margin)
      return (image, k, CropWindow(centre: SIMD2(box.x + box.width / 2 - 0.5, box.y + box.height / 2 - 0.5), side: side, size: size))
    }
    var pixels = [Float](repeating: 0, count: inputs.count * 3 * size * size)
    for (n, p) in prepared.enumerated() {
      let crop = p.window.resample(p.image).pixels
      for c in 0..<3 {
        for i in 0..<(size * size) { pixels[(n * 3 + c) * size * size + i] = Float(crop[i * 3 + c]) / 255 - 0.5 }
      }
    }
    let uvz = decode(student, crops: Tensor(shape: [inputs.count, 3, size, size], scalars: pixels), threads: threads, plan: plan).scalars
    let j = HandSkeleton.jointCount
    return prepared.enumerated().map { n, p in
      let uv = (0..<j).map { p.window.toImage(SIMD2(Double(uvz[(n * j + $0) * 3]), Double(uvz[(n * j + $0) * 3 + 1]))) }
      // Depths relative to the predicted wrist, so that the wrist sits at the root depth.
      let z = (0..<j).map { Double(uvz[(n * j + $0) * 3 + 2] - uvz[(n * j + HandSkeleton.root) * 3 + 2]) }
      let k = Intrinsics(matrix: p.k), pairs = uv.map { (u: $0.x, v: $0.y) }
      // The shape in units of s: the same closed form with a bone of length 1
      // (a hand about ten bone lengths away when the prediction admits no solution).
      let unitDepth = Reconstruction.rootDepth(uv: pairs, z: z, intrinsics: k, boneLength: 1) ?? 10
      let unit = (0..<j).map { Reconstruction.point(u: uv[$0].x, v: uv[$0].y, z: z[$0], intrinsics: k, rootDepth: unitDepth, scale: 1) }
      var relative = unit.map { $0 - unit[HandSkeleton.root] }
      let f = JointAngles.values(relative)
      var rootDepth: Double? = nil, camera: [Vector3<Double>]? = nil
      if inputs[n].intrinsics != nil, let z0 = Reconstruction.rootDepth(uv: pairs, z: z, intrinsics: k, boneLength: boneLength) {
        rootDepth = z0
        camera = (0..<j).map { Reconstruction.point(u: uv[$0].x, v: uv[$0].y, z: z[$0], intrinsics: k, rootDepth: z0, scale: boneLength) }
      }
      var imageUV = uv
      if inputs[n].hand == .left {
        imageUV = Mirroring.mirror(uv: uv, width: inputs[n].image.width)
        relative = Mirroring.mirror(points: relative)
        camera = camera.map { Mirroring.mirror(points: $0) }
      }
      return Output(uv: imageUV, relative: relative, rootDepth: rootDepth, camera: camera, f: f, degrees: JointAngles.degrees(f), violated: bounds.violations(f))
    }
  }
}
