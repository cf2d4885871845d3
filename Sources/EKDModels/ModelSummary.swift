import EKDLayers
import EKDTensor

/// Per-layer output shapes, MACs and parameters of a model, from a shape
/// pass of its forward (`Layer.shapePass(for:)`).
///
/// MACs are the multiply-accumulates of conv and linear layers, per image
/// (batch 1): Cout·Hout·Wout·Cin·kh·kw and in·out. Bias adds, batch norm,
/// activations, pooling, upsampling and residual adds are not counted — the
/// torchvision / fvcore convention. (thop and ptflops also count some of
/// those; fvcore does not.)
public struct ModelSummary: Sendable {
  public var rows: [LayerTrace]
  /// Total multiply-accumulates for one input.
  public var macs: Int
  /// Trainable parameters (running statistics excluded).
  public var parameters: Int
  public var output: Shape

  public init(_ model: any Layer, inputSize: Int) throws(ShapeError) {
    let pass = try model.shapePass(for: [1, 3, inputSize, inputSize])
    rows = pass.rows
    output = pass.output
    macs = pass.rows.reduce(0) { $0 + $1.macs }
    parameters = model.trainableParameters.reduce(0) { $0 + $1.value.count }
  }
}
