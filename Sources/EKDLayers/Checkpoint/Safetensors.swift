import EKDTensor
import Foundation

/// The safetensors format: what `safetensors.torch.save_file` writes and `load_file` reads.
///
/// Layout: an 8-byte little-endian header length N; N bytes of JSON mapping each
/// tensor name to `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets
/// relative to the data section) plus an optional `"__metadata__"` string map;
/// then the raw little-endian data. Nothing in the file is executed, and every
/// offset and size is checked before a byte is read.
public enum Safetensors {
  /// One named tensor and how to store it.
  public struct Entry {
    public var name: String
    public var tensor: Tensor
    public var storageType: Parameter.StorageType
    public init(name: String, tensor: Tensor, storageType: Parameter.StorageType = .float32) {
      self.name = name
      self.tensor = tensor
      self.storageType = storageType
    }
  }

  /// A parsed file: tensors converted to Float32, and the metadata map.
  public struct Contents {
    public var tensors: [String: Tensor]
    /// Names in file order (by data offset).
    public var names: [String]
    public var dtypes: [String: String]
    public var metadata: [String: String]
  }

  /// Size in bytes of each dtype we read.
  static let dtypeSizes: [String: Int] = [
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
  ]

  // MARK: Writing

  public static func encode(_ entries: [Entry], metadata: [String: String] = [:]) -> Data {
    var header = "{"
    var parts: [String] = []
    if !metadata.isEmpty {
      let items = metadata.sorted { $0.key < $1.key }.map { "\(jsonString($0.key)):\(jsonString($0.value))" }
      parts.append("\"__metadata__\":{" + items.joined(separator: ",") + "}")
    }
    var offset = 0
    for e in entries {
      let size = e.tensor.count * (e.storageType == .int64 ? 8 : 4)
      let dtype = e.storageType == .int64 ? "I64" : "F32"
      let shape = e.tensor.shape.dimensions.map(String.init).joined(separator: ",")
      parts.append("\(jsonString(e.name)):{\"dtype\":\"\(dtype)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + size)]}")
      offset += size
    }
    header += parts.joined(separator: ",") + "}"
    // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
    while header.utf8.count % 8 != 0 { header += " " }
    var data = Data(capacity: 8 + header.utf8.count + offset)
    withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
    data.append(contentsOf: Array(header.utf8))
    for e in entries {
      e.tensor.withUnsafeBufferPointer { b in
        switch e.storageType {
        case .float32:
          for v in b { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        case .int64:
          for v in b { withUnsafeBytes(of: Int64(v.rounded()).littleEndian) { data.append(contentsOf: $0) } }
        }
      }
    }
    return data
  }

  /// Writes atomically (temp file, fsync, rename).
  public static func write(_ entries: [Entry], metadata: [String: String] = [:], to url: URL) throws(CheckpointError) {
    do { try AtomicFile.write(encode(entries, metadata: metadata), to: url) } catch { throw .io(error.path, error.reason) }
  }

  // MARK: Reading

  public static func read(_ url: URL) throws(CheckpointError) -> Contents {
    let data: Data
    do { data = try Data(contentsOf: url, options: .mappedIfSafe) } catch {
      throw .io(url.path, FileManager.default.fileExists(atPath: url.path) ? "cannot read: \(error.localizedDescription)" : "no such file")
    }
    return try decode(data, path: url.path)
  }

  public static func decode(_ data: Data, path: String) throws(CheckpointError) -> Contents {
    guard data.count >= 8 else { throw .malformed(path, "\(data.count) bytes, shorter than the 8-byte header length") }
    let n = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    guard n <= UInt64(data.count - 8), n <= 100_000_000 else {
      throw .malformed(path, "header length \(n) exceeds the file (\(data.count) bytes)")
    }
    let headerEnd = 8 + Int(n)
    let json: Any
    do { json = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<headerEnd)) } catch {
      throw .malformed(path, "header is not JSON")
    }
    guard let header = json as? [String: Any] else { throw .malformed(path, "header is not a JSON object") }
    let dataCount = data.count - headerEnd
    var metadata: [String: String] = [:]
    var infos: [(name: String, dtype: String, shape: [Int], begin: Int, end: Int)] = []
    for (name, value) in header {
      if name == "__metadata__" {
        guard let m = value as? [String: Any] else { throw .malformed(path, "__metadata__ is not an object") }
        for (k, v) in m {
          guard let s = v as? String else { throw .malformed(path, "__metadata__[\(k)] is not a string") }
          metadata[k] = s
        }
        continue
      }
      guard let d = value as? [String: Any], let dtype = d["dtype"] as? String,
        let shape = intArray(d["shape"]), let offsets = intArray(d["data_offsets"]), offsets.count == 2
      else { throw .malformed(path, "entry '\(name)' lacks dtype, shape or data_offsets") }
      guard let size = dtypeSizes[dtype] else { throw .unsupportedType(path, tensor: name, dtype: dtype) }
      guard shape.allSatisfy({ $0 >= 0 }) else { throw .malformed(path, "entry '\(name)' has a negative dimension") }
      var count = 1
      for s in shape {
        let (p, overflow) = count.multipliedReportingOverflow(by: s)
        guard !overflow, p <= dataCount else { throw .malformed(path, "entry '\(name)' shape \(shape) exceeds the data") }
        count = p
      }
      let (b, e) = (offsets[0], offsets[1])
      guard b >= 0, b <= e, e <= dataCount, e - b == count * size else {
        throw .malformed(path, "entry '\(name)' offsets [\(b), \(e)] do not fit \(dtype) \(shape) in \(dataCount) data bytes")
      }
      infos.append((name, dtype, shape, b, e))
    }
    infos.sort { ($0.begin, $0.name) < ($1.begin, $1.name) }
    var cursor = 0
    for i in infos where i.end > i.begin {
      guard i.begin == cursor else { throw .malformed(path, "entry '\(i.name)' overlaps another or leaves a hole at byte \(cursor)") }
      cursor = i.end
    }
    var tensors: [String: Tensor] = [:]
    var dtypes: [String: String] = [:]
    data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
      let base = raw.baseAddress! + headerEnd
      for i in infos {
        let count = i.shape.reduce(1, *)
        var t = Tensor(zeros: Shape(i.shape))
        let out = t.mutablePointer
        let p = base + i.begin
        for k in 0..<count { out[k] = scalar(p, k, i.dtype) }
        tensors[i.name] = t
        dtypes[i.name] = i.dtype
      }
    }
    return Contents(tensors: tensors, names: infos.map(\.name), dtypes: dtypes, metadata: metadata)
  }

  @inline(__always)
  private static func scalar(_ p: UnsafeRawPointer, _ k: Int, _ dtype: String) -> Float {
    switch dtype {
    case "F32": return Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * k, as: UInt32.self)))
    case "F64": return Float(Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * k, as: UInt64.self))))
    case "F16": return Float(Float16(bitPattern: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * k, as: UInt16.self))))
    case "BF16": return Float(bitPattern: UInt32(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * k, as: UInt16.self))) << 16)
    case "I64": return Float(Int64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * k, as: Int64.self)))
    case "I32": return Float(Int32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * k, as: Int32.self)))
    case "I16": return Float(Int16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * k, as: Int16.self)))
    case "I8": return Float(p.load(fromByteOffset: k, as: Int8.self))
    default: return Float(p.load(fromByteOffset: k, as: UInt8.self))  // U8, BOOL
    }
  }

  private static func intArray(_ v: Any?) -> [Int]? {
    guard let a = v as? [Any] else { return nil }
    var out: [Int] = []
    for x in a {
      guard let n = x as? NSNumber else { return nil }
      let d = n.doubleValue
      guard d.rounded() == d, Swift.abs(d) < 0x1p53 else { return nil }
      out.append(Int(d))
    }
    return out
  }

  private static func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
      switch u {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      default:
        if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
      }
    }
    return out + "\""
  }
}

/// Saving and loading a layer's state dict.
public enum Checkpoint {
  /// Writes every parameter of `model` under its dotted name, atomically.
  public static func save(_ model: any Layer, metadata: [String: String] = [:], to url: URL) throws(CheckpointError) {
    let entries = model.namedParameters.map { Safetensors.Entry(name: $0.name, tensor: $0.parameter.value, storageType: $0.parameter.storageType) }
    try Safetensors.write(entries, metadata: metadata, to: url)
  }

  /// Loads `url` into `model`; every parameter must be present with its shape
  /// and the file may hold nothing else (PyTorch's `strict=True`). Nothing is
  /// changed unless all checks pass. Returns the file's metadata.
  @discardableResult
  public static func load(_ url: URL, into model: any Layer) throws(CheckpointError) -> [String: String] {
    let contents = try Safetensors.read(url)
    let params = model.namedParameters
    let known = Set(params.map(\.name))
    if let extra = contents.names.first(where: { !known.contains($0) }) { throw .unexpectedTensor(url.path, tensor: extra) }
    for (name, p) in params {
      guard let t = contents.tensors[name] else { throw .missingTensor(url.path, tensor: name) }
      guard t.shape == p.shape else { throw .shapeMismatch(url.path, tensor: name, expected: p.shape, got: t.shape) }
    }
    for (name, p) in params { p.value = contents.tensors[name]! }
    return contents.metadata
  }
}
