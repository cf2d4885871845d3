import EKDLayers
import EKDLosses
import EKDModels
import EKDData
import EKDTensor

/// The four training modes of the paper's Table 1.
public enum TrainingMode: String, CaseIterable, Sendable {
  /// Loss_pos_stu only.
  case baseline
  /// + λ1·Loss_θ (the angle regularizer).
  case theta
  /// + λ2·Loss_off + λ3·Loss_pos_mod (the offset network).
  case op
  /// All of them: EKD.
  case full

  public var usesAngleLoss: Bool { self == .theta || self == .full }
  public var usesOffsetNetwork: Bool { self == .op || self == .full }
}

/// The teacher: angle bounds, the offset network, and the λs. Training-only.
public final class Teacher {
  public let bounds: AngleBounds
  public let offsetNetwork: OffsetNetwork
  public var weights: LossWeights

  public init(bounds: AngleBounds, featureChannels: Int, weights: LossWeights = LossWeights(), seed: UInt64 = 0) {
    self.bounds = bounds
    var rng = SeededRandom(seed: seed ^ 0x7EAC4E5)
    offsetNetwork = OffsetNetwork(featureChannels: featureChannels, using: &rng)
    self.weights = weights
  }
}

/// One evaluation of the EKD objective (paper eq. 4) on a batch.
public struct Objective {
  /// The total loss, on the tape, ready for `backward`.
  public var loss: Variable
  /// Loss_pos_stu alone (summed over heads), on the same tape.
  public var studentLoss: Variable
  /// Each term's value (the unweighted terms): "pos_stu", "theta", "off", "pos_mod", "total".
  public var terms: [String: Float]
  /// Fraction of the batch whose prediction violates a bound (w = 1).
  public var invalidFraction: Float
  /// The student's root-relative, scale-normalised predicted pose [B, 21, 3].
  public var predictedPose: Tensor
  /// Decoded (u, v, z) [B, 21, 3].
  public var predictedUVZ: Tensor

  /// Runs the student (and, by mode, the teacher) on `batch` on `tape`.
  ///
  /// Every head is supervised (intermediate supervision for stacked
  /// hourglasses); the teacher looks at the final head's pose. The offset
  /// network's inputs and Loss_off's target are values, so Loss_off sends no
  /// gradient into the student; Loss_pos_mod does, through the predicted pose.
  public init(student: Student, teacher: Teacher?, batch: Batch, mode: TrainingMode, tape: Tape) {
    let crop = batch.cropSize
    let out = student.predict(tape.constant(batch.images))
    var stu: Variable? = nil
    var finalUVZ: Variable! = nil
    for (h, d) in out.intermediate + [(out.heatmaps, out.depths)] {
      let uvz = tape.decode25D(heatmaps: h, depths: d, cropWidth: crop, cropHeight: crop)
      let l = EKDLoss.studentPosition(uvz, target: batch.uvz, cropWidth: crop, cropHeight: crop)
      stu = stu.map { $0 + l } ?? l
      finalUVZ = uvz
    }
    let xyz = tape.reconstruct(finalUVZ, intrinsics: batch.intrinsics, rootDepth: batch.rootDepth, scale: batch.scale)
    let pose = tape.rootRelative(xyz, scale: batch.scale)
    var terms: [String: Float] = ["pos_stu": stu!.value.scalar]
    var angle: Variable? = nil, offset: Variable? = nil, modified: Variable? = nil
    var invalid: Float = 0
    var weights = LossWeights.baseline
    if let teacher {
      let w = teacher.bounds.invalidMask(pose.value)
      invalid = w.scalars.reduce(0, +) / Float(max(batch.count, 1))
      if mode.usesAngleLoss {
        angle = tape.angleLoss(pose, bounds: teacher.bounds)
        weights.angle = teacher.weights.angle
        terms["theta"] = angle!.value.scalar
      }
      if mode.usesOffsetNetwork {
        // The teacher observes the student: its inputs are values, so neither
        // Loss_off nor Loss_pos_mod reshapes the student through the offset
        // network. The student learns from Loss_pos_mod through Pᵖ alone
        // (hand-model.md §6), the offset network through M.
        let m = teacher.offsetNetwork.offsets(features: tape.constant(out.features.value), pose: tape.constant(pose.value))
        offset = EKDLoss.offset(m, predicted: pose, groundTruth: batch.pose, invalid: w)
        modified = EKDLoss.modifiedPosition(m, predicted: pose, groundTruth: batch.pose)
        (weights.offset, weights.modifiedPosition) = (teacher.weights.offset, teacher.weights.modifiedPosition)
        terms["off"] = offset!.value.scalar
        terms["pos_mod"] = modified!.value.scalar
      }
    }
    loss = EKDLoss.total(student: stu!, angle: angle, offset: offset, modified: modified, weights: weights)
    studentLoss = stu!
    terms["total"] = loss.value.scalar
    self.terms = terms
    invalidFraction = invalid
    predictedPose = pose.value
    predictedUVZ = finalUVZ.value
  }
}
