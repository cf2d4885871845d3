import EKDTensor

/// The λ weights of the total loss (paper eq. 4). Defaults are the project's
/// choice (docs/losses.md); the trainer tunes them on a validation split.
public struct LossWeights: Equatable, Codable, Sendable {
  /// The heatmap term's weight, part of the student's own loss (HeatmapLoss.swift);
  /// the λs below are relative to that loss.
  public var heatmap: Float
  /// λ1: Loss_θ, the angle regularizer.
  public var angle: Float
  /// λ2: Loss_off, the offset network's target.
  public var offset: Float
  /// λ3: Loss_pos_mod, the corrected pose against the ground truth.
  public var modifiedPosition: Float

  public init(heatmap: Float = 0, angle: Float = 1, offset: Float = 1, modifiedPosition: Float = 1) {
    (self.heatmap, self.angle, self.offset, self.modifiedPosition) = (heatmap, angle, offset, modifiedPosition)
  }

  /// No teacher: the paper's baseline.
  public static let baseline = LossWeights(angle: 0, offset: 0, modifiedPosition: 0)

  /// Whether these weights need the offset network at all.
  public var usesOffsetNetwork: Bool { offset != 0 || modifiedPosition != 0 }
}

/// The terms of the EKD objective (hand-model.md §6–7), each a tape op so the
/// student (and the offset network) get their gradients from `backward`.
public enum EKDLoss {
  /// Loss_pos_stu: Σ over joints of |u/W − u*/W| + |v/H − v*/H| + |z − z*|, mean over the batch.
  /// `predicted`, `target`: [B, J, 3] as (u px, v px, z latent).
  public static func studentPosition(_ predicted: Variable, target: Tensor, cropWidth: Int, cropHeight: Int) -> Variable {
    let t = predicted.tape
    precondition(predicted.shape == target.shape, "studentPosition: \(predicted.shape) vs target \(target.shape)")
    let norm = t.constant(Tensor(shape: [3], scalars: [1 / Float(cropWidth), 1 / Float(cropHeight), 1]))
    let batch = Float(max(predicted.shape[0], 1))
    return ((predicted - t.constant(target)) * norm).abs().sum() * (1 / batch)
  }

  /// Loss_off = mean over the batch of Σᵢ |Mᵢ − w·stopgrad(Pᵍᵢ − Pᵖᵢ)|.
  ///
  /// The target is built from *values*: no gradient reaches the student
  /// through it. For a valid sample (w = 0) the target is zero, so the offset
  /// network learns to leave valid poses alone.
  public static func offset(_ offsets: Variable, predicted: Variable, groundTruth: Tensor, invalid w: Tensor) -> Variable {
    let t = offsets.tape
    precondition(offsets.shape == predicted.shape && predicted.shape == groundTruth.shape && w.shape == [offsets.shape[0]])
    return (offsets - t.constant(offsetTarget(predicted: predicted.value, groundTruth: groundTruth, invalid: w))).abs().sum()
      * (1 / Float(max(offsets.shape[0], 1)))
  }

  /// w·(Pᵍ − Pᵖ) per sample: what the offset network should output.
  public static func offsetTarget(predicted: Tensor, groundTruth: Tensor, invalid w: Tensor) -> Tensor {
    let per = predicted.count / max(predicted.shape[0], 1)
    let p = predicted.scalars, g = groundTruth.scalars, m = w.scalars
    return Tensor(shape: predicted.shape, scalars: (0..<p.count).map { m[$0 / per] * (g[$0] - p[$0]) })
  }

  /// Loss_pos_mod = mean over the batch of Σᵢ |(Pᵖᵢ + Mᵢ) − Pᵍᵢ|. Its gradient
  /// reaches the student through Pᵖ: this is how the teacher's correction is passed on.
  public static func modifiedPosition(_ offsets: Variable, predicted: Variable, groundTruth: Tensor) -> Variable {
    let t = offsets.tape
    return (predicted + offsets - t.constant(groundTruth)).abs().sum() * (1 / Float(max(offsets.shape[0], 1)))
  }

  /// Loss = Loss_pos_stu + λ1·Loss_θ + λ2·Loss_off + λ3·Loss_pos_mod; terms may be nil when their λ is 0.
  public static func total(student: Variable, angle: Variable?, offset: Variable?, modified: Variable?, weights: LossWeights) -> Variable {
    var loss = student
    if let angle, weights.angle != 0 { loss = loss + angle * weights.angle }
    if let offset, weights.offset != 0 { loss = loss + offset * weights.offset }
    if let modified, weights.modifiedPosition != 0 { loss = loss + modified * weights.modifiedPosition }
    return loss
  }
}
