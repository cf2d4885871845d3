import EKDHand
import EKDLayers
import EKDTensor

/// The demo student (`make run`): a small U-Net at 64² (~35 M MACs) that sees
/// the whole crop.
///
/// `tiny` stops at stride 8 with a ~45 px receptive field: it finds joints
/// but cannot tell how the hand is turned, and depth needs exactly that. This
/// one goes down to stride 16 (4×4 at 64², every unit seeing the whole crop)
/// with two or three 3×3 convs per level, then comes back up through stride 8 to
/// stride 4, concatenating each level's features on the way (skip
/// connections keep the 2D precise). The offset network gets the stride-16
/// context, pooled.
public final class SmallStudent: CompositeLayer, StudentNetwork {
  public let stem: Sequential, level2: Sequential, level3: Sequential, level4: Sequential, up8: Sequential, up4: Sequential
  public let out: Conv2d
  let upsample = Upsample(scale: 2)
  public let width: Int

  public init(width w: Int = 16, joints: Int = HandSkeleton.jointCount, using rng: inout some RandomNumberGenerator) {
    width = w
    func conv(_ i: Int, _ o: Int, stride: Int = 1) -> [any Layer] {
      [Conv2d(inputChannels: i, outputChannels: o, kernelSize: 3, stride: stride, padding: 1, bias: false, using: &rng), BatchNorm2d(o), ReLU()]
    }
    stem = Sequential(conv(3, w, stride: 2))
    level2 = Sequential(conv(w, 2 * w, stride: 2) + conv(2 * w, 2 * w))
    level3 = Sequential(conv(2 * w, 4 * w, stride: 2) + conv(4 * w, 4 * w) + conv(4 * w, 4 * w))
    level4 = Sequential(conv(4 * w, 8 * w, stride: 2) + conv(8 * w, 8 * w))
    up8 = Sequential(conv(12 * w, 4 * w))
    up4 = Sequential(conv(6 * w, 4 * w))
    out = Conv2d(inputChannels: 4 * w, outputChannels: 2 * joints, kernelSize: 1, using: &rng)
  }

  public var featureChannels: Int { 8 * width }
  public var children: [(name: String, layer: any Layer)] {
    [("stem", stem), ("level2", level2), ("level3", level3), ("level4", level4), ("upsample", upsample), ("up8", up8), ("up4", up4), ("out", out)]
  }

  public func heads(_ x: Variable) -> (outputs: [Variable], features: Variable) {
    guard fits(x, sidesDivisibleBy: 16) else { return ([x], x) }
    let t = x.tape
    let s4 = level2(stem(x)), s8 = level3(s4), s16 = level4(s8)
    let f8 = up8(t.concat([s8, upsample(s16)]))
    let f4 = up4(t.concat([s4, upsample(f8)]))
    return ([out(f4)], s16)
  }

  public func callAsFunction(_ x: Variable) -> Variable { heads(x).outputs[0] }
}
