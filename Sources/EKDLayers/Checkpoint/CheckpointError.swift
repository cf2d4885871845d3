import EKDTensor

/// What went wrong reading or writing a checkpoint, naming the file.
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
  case io(String, String)
  case malformed(String, String)
  case unsupportedType(String, tensor: String, dtype: String)
  case missingTensor(String, tensor: String)
  case unexpectedTensor(String, tensor: String)
  case shapeMismatch(String, tensor: String, expected: Shape, got: Shape)

  public var description: String {
    switch self {
    case .io(let path, let why): return "\(path): \(why)"
    case .malformed(let path, let why): return "\(path): not a valid safetensors file: \(why)"
    case .unsupportedType(let path, let t, let d): return "\(path): tensor '\(t)' has unsupported dtype \(d)"
    case .missingTensor(let path, let t): return "\(path): no tensor named '\(t)' (the model has one)"
    case .unexpectedTensor(let path, let t): return "\(path): tensor '\(t)' is not a parameter of this model"
    case .shapeMismatch(let path, let t, let e, let g): return "\(path): tensor '\(t)' has shape \(g), the model wants \(e)"
    }
  }
}
