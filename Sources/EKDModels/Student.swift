import EKDHand
import EKDLayers
import EKDTensor

/// A network that ends in 2.5D heads: one [B, 2J, h, w] output per head
/// (the hourglass has one per stack, for intermediate supervision), the
/// first J channels heatmap logits and the last J latent depth maps.
public protocol StudentNetwork: Layer {
  /// Every head's output, the final one last, and the last backbone feature map.
  func heads(_ x: Variable) -> (outputs: [Variable], features: Variable)
  /// Channels of the feature map `heads` returns.
  var featureChannels: Int { get }
}

/// What a student predicts for a batch.
public struct StudentOutput {
  /// [B, J, h, w] heatmap logits and latent depths of the final head.
  public var heatmaps: Variable
  public var depths: Variable
  /// Earlier heads (hourglass stacks before the last), for intermediate supervision.
  public var intermediate: [(heatmaps: Variable, depths: Variable)]
  /// The backbone's last feature map, global-average-pooled: [B, C]. The offset network's image input.
  public var features: Variable
}

/// A student: a named network with its input size, as `ekd` and the trainer use it.
public final class Student: CompositeLayer {
  public let name: String
  /// Square input crop side in pixels.
  public let inputSize: Int
  public let jointCount: Int
  public let network: any StudentNetwork

  public init(name: String, inputSize: Int, jointCount: Int = HandSkeleton.jointCount, network: any StudentNetwork) {
    self.name = name
    self.inputSize = inputSize
    self.jointCount = jointCount
    self.network = network
  }

  /// The final head's raw output [B, 2J, h, w].
  public func callAsFunction(_ x: Variable) -> Variable { network(x) }

  /// The network's children, unprefixed: a student's names are its network's.
  public var children: [(name: String, layer: any Layer)] { (network as? any CompositeLayer)?.children ?? [] }

  public func visitParameters(_ visit: (String, Parameter) -> Void) { network.visitParameters(visit) }

  /// Heatmaps, depths, earlier heads and pooled features for a batch of crops [B, 3, S, S].
  public func predict(_ x: Variable) -> StudentOutput {
    let t = x.tape, j = jointCount
    let (outputs, features) = network.heads(x)
    let split = outputs.map { (t.slice($0, 0..<j), t.slice($0, j..<(2 * j))) }
    return StudentOutput(
      heatmaps: split.last!.0, depths: split.last!.1, intermediate: Array(split.dropLast()),
      features: t.globalAvgPool2d(features).flattened())
  }

  /// Channels of `predict(_:).features`, the offset network's image input.
  public var featureChannels: Int { network.featureChannels }
}
