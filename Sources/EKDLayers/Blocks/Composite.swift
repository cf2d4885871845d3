import EKDTensor

/// A layer made of named child layers; its parameters are theirs, prefixed.
public protocol CompositeLayer: Layer {
  /// Children in state-dict order. Layers without parameters (pools,
  /// upsampling) belong here too: a shape pass names its rows after them.
  var children: [(name: String, layer: any Layer)] { get }
}

extension CompositeLayer {
  public func visitParameters(_ visit: (String, Parameter) -> Void) {
    for (name, child) in children { child.visitParameters { visit(name + "." + $0, $1) } }
  }
}
