import Foundation

/// A dense Float32 array in row-major (NCHW for images) order.
///
/// A value type with copy-on-write storage: passing a tensor around never
/// copies it, and mutating a shared one copies it once. Kernels read and write
/// through `package` pointers; users see values and shapes.
public struct Tensor: @unchecked Sendable {
  public private(set) var shape: Shape
  package private(set) var storage: TensorStorage

  /// Scalars left uninitialised: for kernels that overwrite every element.
  package init(uninitialized shape: Shape) {
    self.shape = shape
    self.storage = TensorStorage(uninitializedCount: shape.count)
  }

  package init(shape: Shape, storage: TensorStorage) {
    precondition(storage.count == shape.count, "storage of \(storage.count) for shape \(shape)")
    self.shape = shape
    self.storage = storage
  }

  public init(zeros shape: Shape) {
    self.shape = shape
    self.storage = TensorStorage(zeroedCount: shape.count)
  }

  public init(repeating value: Float, shape: Shape) {
    self.init(uninitialized: shape)
    storage.pointer.update(repeating: value, count: shape.count)
  }

  /// A tensor of `shape` holding `scalars` in row-major order.
  public init(shape: Shape, scalars: some Collection<Float>) {
    precondition(scalars.count == shape.count, "\(scalars.count) scalars for shape \(shape)")
    self.init(uninitialized: shape)
    _ = UnsafeMutableBufferPointer(start: storage.pointer, count: shape.count).initialize(from: scalars)
  }

  /// A rank-0 tensor.
  public init(_ scalar: Float) { self.init(shape: [], scalars: [scalar]) }

  public var count: Int { shape.count }
  public var scalars: [Float] { Array(UnsafeBufferPointer(start: storage.pointer, count: count)) }
  /// The single value of a one-element tensor.
  public var scalar: Float {
    precondition(count == 1, "scalar of a tensor of shape \(shape)")
    return storage.pointer[0]
  }

  /// Element at a flat row-major index.
  public subscript(flat i: Int) -> Float {
    get {
      precondition(i >= 0 && i < count, "index \(i) out of range for \(shape)")
      return storage.pointer[i]
    }
    set {
      precondition(i >= 0 && i < count, "index \(i) out of range for \(shape)")
      mutablePointer[i] = newValue
    }
  }

  /// Element at a multi-index.
  public subscript(_ index: Int...) -> Float {
    get { self[flat: flatIndex(index)] }
    set { self[flat: flatIndex(index)] = newValue }
  }

  private func flatIndex(_ index: [Int]) -> Int {
    precondition(index.count == shape.rank, "index \(index) for shape \(shape)")
    var flat = 0
    for (i, d) in zip(index, shape.dimensions) {
      precondition(i >= 0 && i < d, "index \(index) out of range for \(shape)")
      flat = flat * d + i
    }
    return flat
  }

  /// Read-only pointer for kernels; valid while `self` is alive and unmutated.
  package var pointer: UnsafePointer<Float> { UnsafePointer(storage.pointer) }

  /// Unique, writable pointer for kernels (copies shared storage first).
  package var mutablePointer: UnsafeMutablePointer<Float> {
    mutating get {
      if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
      return storage.pointer
    }
  }

  public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
    try body(UnsafeBufferPointer(start: storage.pointer, count: count))
  }

  public mutating func withUnsafeMutableBufferPointer<R>(
    _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
  ) rethrows -> R {
    try body(UnsafeMutableBufferPointer(start: mutablePointer, count: count))
  }

  /// The same scalars viewed with another shape of equal count (no copy).
  public func reshaped(_ newShape: Shape) -> Tensor {
    precondition(newShape.count == count, "cannot reshape \(shape) to \(newShape)")
    return Tensor(shape: newShape, storage: storage)
  }

  /// Entries `range` of the first axis (a batch's samples), copied: a replica's or a
  /// thread's share of a batch.
  public func items(_ range: Range<Int>) -> Tensor {
    precondition(shape.rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0], "items \(range) of \(shape)")
    var part = shape
    let per = shape[0] == 0 ? 0 : count / shape[0]
    part[0] = range.count
    return withUnsafeBufferPointer { Tensor(shape: part, scalars: $0[(range.lowerBound * per)..<(range.upperBound * per)]) }
  }

  /// A fresh copy whose storage nobody else shares.
  public func copy() -> Tensor { Tensor(shape: shape, storage: storage.copy()) }
}

extension Tensor: Equatable {
  public static func == (a: Tensor, b: Tensor) -> Bool {
    a.shape == b.shape && (a.storage === b.storage || memcmp(a.pointer, b.pointer, a.count * 4) == 0)
  }
}

extension Tensor: CustomStringConvertible {
  public var description: String {
    let shown = scalars.prefix(8).map { String(format: "%.5g", Double($0)) }.joined(separator: ", ")
    return "Tensor\(shape)(\(shown)\(count > 8 ? ", …" : ""))"
  }
}
