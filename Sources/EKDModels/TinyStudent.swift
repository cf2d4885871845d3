import EKDHand
import EKDLayers
import EKDTensor

/// A small U-shaped student for tests and the one-command demo (~20 M MACs at 64²).
///
/// Three stride-2 conv/BN/ReLU stages (16, 32, 64 channels) reach stride 8 for
/// context, a 3×3 conv there, then nearest upsampling back to stride 4, where
/// it is concatenated with the stride-4 features (a skip connection) and
/// fused by a 3×3 conv before the 1×1 2.5D head. H and W must be multiples of
/// 8 for the skip to line up.
public final class TinyStudent: CompositeLayer, StudentNetwork {
  public let stage1: Sequential, stage2: Sequential, stage3: Sequential, context: Sequential, fuse: Sequential
  public let out: Conv2d
  let upsample = Upsample(scale: 2)
  public let width: Int

  public init(width w: Int = 16, joints: Int = HandSkeleton.jointCount, using rng: inout some RandomNumberGenerator) {
    width = w
    func block(_ i: Int, _ o: Int, stride: Int) -> Sequential {
      Sequential(Conv2d(inputChannels: i, outputChannels: o, kernelSize: 3, stride: stride, padding: 1, bias: false, using: &rng), BatchNorm2d(o), ReLU())
    }
    stage1 = block(3, w, stride: 2)
    stage2 = block(w, 2 * w, stride: 2)
    stage3 = block(2 * w, 4 * w, stride: 2)
    context = block(4 * w, 4 * w, stride: 1)
    fuse = block(6 * w, 4 * w, stride: 1)
    out = Conv2d(inputChannels: 4 * w, outputChannels: 2 * joints, kernelSize: 1, using: &rng)
  }

  public var featureChannels: Int { 4 * width }
  public var children: [(name: String, layer: any Layer)] {
    [("stage1", stage1), ("stage2", stage2), ("stage3", stage3), ("context", context), ("upsample", upsample), ("fuse", fuse), ("out", out)]
  }

  public func heads(_ x: Variable) -> (outputs: [Variable], features: Variable) {
    guard fits(x, sidesDivisibleBy: 8) else { return ([x], x) }
    let s2 = stage2(stage1(x))
    let c = upsample(context(stage3(s2)))
    let f = fuse(x.tape.concat([s2, c]))
    return ([out(f)], f)
  }

  public func callAsFunction(_ x: Variable) -> Variable { heads(x).outputs[0] }
}
