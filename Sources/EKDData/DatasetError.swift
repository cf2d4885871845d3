/// A dataset file that cannot be used, naming the file and the problem.
public enum DatasetError: Error, CustomStringConvertible, Equatable {
  case missingFile(String)
  case malformed(String, String)
  case unsupported(String, String)

  public var description: String {
    switch self {
    case .missingFile(let path): return "\(path): no such file"
    case .malformed(let path, let why): return "\(path): \(why)"
    case .unsupported(let path, let why): return "\(path): unsupported: \(why)"
    }
  }
}
