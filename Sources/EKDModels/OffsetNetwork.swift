import EKDHand
import EKDLayers
import EKDTensor

/// The teacher's offset network (paper §3.2.3, hand-model.md §6).
///
/// Input: the student's pooled backbone features [B, C] concatenated with
/// its flattened root-relative, scale-normalised pose Pᵖ [B, 63]; body
/// FC(256) → ReLU → FC(256) → ReLU → FC(63); output: offsets M [B, 21, 3].
/// It exists only in training: a student's checkpoint, benchmark and MAC
/// count never include it.
public final class OffsetNetwork: CompositeLayer {
  public let fc1: Linear, fc2: Linear, fc3: Linear
  public let joints: Int

  public init(featureChannels: Int, hidden: Int = 256, joints: Int = HandSkeleton.jointCount, using rng: inout some RandomNumberGenerator) {
    self.joints = joints
    fc1 = Linear(inputFeatures: featureChannels + 3 * joints, outputFeatures: hidden, using: &rng)
    fc2 = Linear(inputFeatures: hidden, outputFeatures: hidden, using: &rng)
    fc3 = Linear(inputFeatures: hidden, outputFeatures: 3 * joints, using: &rng)
  }

  public var children: [(name: String, layer: any Layer)] { [("fc1", fc1), ("fc2", fc2), ("fc3", fc3)] }

  /// Offsets [B, J, 3] for features [B, C] and poses [B, J, 3].
  public func offsets(features: Variable, pose: Variable) -> Variable {
    let b = pose.shape[0]
    let x = features.tape.concat([features, pose.reshaped([b, 3 * joints])], axis: 1)
    return fc3(fc2(fc1(x).relu()).relu()).reshaped([b, joints, 3])
  }

  /// [B, C + 3J] → [B, 3J].
  public func callAsFunction(_ x: Variable) -> Variable { fc3(fc2(fc1(x).relu()).relu()) }
}
