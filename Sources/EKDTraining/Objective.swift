import EKDData
import EKDHand
import EKDLosses
import EKDModels
import EKDTensor

/// The four training modes of the paper's Table 1.
public enum TrainingMode: String, CaseIterable, Codable, Sendable {
  /// The student's own loss only (Loss_pos_stu and the heatmap term).
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

/// The terms of the objective, as they appear in progress lines and reports.
public enum LossTerm: String, CaseIterable, Codable, Sendable {
  /// Loss_pos_stu: L1 on (u/W, v/H, z), every head.
  case studentPosition = "pos_stu"
  /// KL of each heatmap's softmax to a Gaussian at the true (u, v), every head.
  case heatmap
  /// Loss_θ.
  case angle = "theta"
  /// Loss_off.
  case offset = "off"
  /// Loss_pos_mod.
  case modifiedPosition = "pos_mod"
  /// The weighted sum, what backward starts from.
  case total
}

/// The teacher: angle bounds and the offset network. Training-only; the λs
/// that weigh it live in the trainer's configuration.
public final class Teacher {
  public let bounds: AngleBounds
  public let offsetNetwork: OffsetNetwork

  public init(bounds: AngleBounds, featureChannels: Int, seed: UInt64 = 0) {
    self.bounds = bounds
    var rng = SeededRandom(seed: seed ^ 0x7EAC4E5)
    offsetNetwork = OffsetNetwork(featureChannels: featureChannels, using: &rng)
  }
}

/// One evaluation of the EKD objective (paper eq. 4, plus the heatmap term) on a batch.
public struct Objective {
  /// The total loss, on the tape, ready for `backward`.
  public var loss: Variable
  /// The student's own loss (Loss_pos_stu + λ_hm·heatmap, every head), on the same tape.
  public var studentLoss: Variable
  /// Each term's unweighted value; a term whose weight is zero is absent.
  public var terms: [LossTerm: Float]
  /// Fraction of the batch whose prediction violates a bound (w = 1).
  public var invalidFraction: Float
  /// The student's root-relative, scale-normalised predicted pose [B, 21, 3].
  public var predictedPose: Tensor
  /// Decoded (u, v, z) [B, 21, 3].
  public var predictedUVZ: Tensor

  /// Runs the student and, where its weights are non-zero, the teacher on `batch`.
  ///
  /// `weights` are final: zero means "not in this run" (the mode and the
  /// teacher's ramp were resolved by `TrainingConfiguration`). Every head is
  /// supervised (intermediate supervision for stacked hourglasses); the
  /// teacher looks at the final head's pose. The offset network's inputs and
  /// Loss_off's target are values, so Loss_off sends no gradient into the
  /// student; Loss_pos_mod does, through the predicted pose.
  public init(student: Student, teacher: Teacher?, batch: Batch, weights: LossWeights, heatmapSigma: Float = 1, tape: Tape) {
    let crop = batch.cropSize
    let out = student.predict(tape.constant(batch.images))
    var position: Variable? = nil, heatmap: Variable? = nil
    var finalUVZ: Variable! = nil
    var targets: Tensor? = nil
    for (h, d) in out.intermediate + [(out.heatmaps, out.depths)] {
      let uvz = tape.decode25D(heatmaps: h, depths: d, cropWidth: crop, cropHeight: crop)
      let l = EKDLoss.studentPosition(uvz, target: batch.uvz, cropWidth: crop, cropHeight: crop)
      position = position.map { $0 + l } ?? l
      if weights.heatmap != 0 {
        if targets?.shape != h.shape {
          targets = HeatmapTargets.gaussians(uvz: batch.uvz, height: h.shape[2], width: h.shape[3], cropWidth: crop, cropHeight: crop, sigma: heatmapSigma)
        }
        let k = tape.heatmapLoss(h, target: targets!)
        heatmap = heatmap.map { $0 + k } ?? k
      }
      finalUVZ = uvz
    }
    var terms: [LossTerm: Float] = [.studentPosition: position!.value.scalar]
    var own = position!
    if let heatmap {
      terms[.heatmap] = heatmap.value.scalar
      own = own + heatmap * weights.heatmap
    }
    let xyz = tape.reconstruct(finalUVZ, intrinsics: batch.intrinsics, rootDepth: batch.rootDepth, scale: batch.scale)
    let pose = tape.rootRelative(xyz, scale: batch.scale)
    var angle: Variable? = nil, offset: Variable? = nil, modified: Variable? = nil
    var invalid: Float = 0
    if let teacher {
      let w = teacher.bounds.invalidMask(pose.value)
      invalid = w.scalars.reduce(0, +) / Float(max(batch.count, 1))
      if weights.angle != 0 {
        angle = tape.angleLoss(pose, bounds: teacher.bounds)
        terms[.angle] = angle!.value.scalar
      }
      if weights.usesOffsetNetwork {
        // The teacher observes the student: its inputs are values, so neither
        // Loss_off nor Loss_pos_mod reshapes the student through the offset
        // network. The student learns from Loss_pos_mod through Pᵖ alone
        // (hand-model.md §6), the offset network through M.
        let m = teacher.offsetNetwork.offsets(features: tape.constant(out.features.value), pose: tape.constant(pose.value))
        offset = EKDLoss.offset(m, predicted: pose, groundTruth: batch.pose, invalid: w)
        modified = EKDLoss.modifiedPosition(m, predicted: pose, groundTruth: batch.pose)
        terms[.offset] = offset!.value.scalar
        terms[.modifiedPosition] = modified!.value.scalar
      }
    }
    loss = EKDLoss.total(student: own, angle: angle, offset: offset, modified: modified, weights: weights)
    studentLoss = own
    terms[.total] = loss.value.scalar
    self.terms = terms
    invalidFraction = invalid
    predictedPose = pose.value
    predictedUVZ = finalUVZ.value
  }
}
