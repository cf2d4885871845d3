/// The extents of a tensor, outermost first (NCHW for images).
///
/// A value type so that shape inference — the single source of truth for a
/// network's layout and cost — can pass shapes around without touching data.
public struct Shape: Hashable, Sendable, ExpressibleByArrayLiteral, CustomStringConvertible {
  public var dimensions: [Int]

  public init(_ dimensions: [Int]) {
    precondition(dimensions.allSatisfy { $0 >= 0 }, "negative dimension in \(dimensions)")
    self.dimensions = dimensions
  }

  public init(arrayLiteral elements: Int...) { self.init(elements) }

  public var rank: Int { dimensions.count }
  /// Number of scalars; 1 for a rank-0 shape.
  public var count: Int { dimensions.reduce(1, *) }
  public subscript(i: Int) -> Int {
    get { dimensions[i < 0 ? dimensions.count + i : i] }
    set { dimensions[i < 0 ? dimensions.count + i : i] = newValue }
  }

  /// Row-major strides, in elements.
  public var strides: [Int] {
    var s = [Int](repeating: 1, count: rank)
    var acc = 1
    for i in stride(from: rank - 1, through: 0, by: -1) {
      s[i] = acc
      acc *= dimensions[i]
    }
    return s
  }

  public var description: String { "[" + dimensions.map(String.init).joined(separator: ", ") + "]" }

  /// NumPy broadcasting of two shapes, or nil when they do not broadcast.
  public static func broadcast(_ a: Shape, _ b: Shape) -> Shape? {
    let r = max(a.rank, b.rank)
    var out = [Int](repeating: 1, count: r)
    for i in 0..<r {
      let da = i < r - a.rank ? 1 : a.dimensions[i - (r - a.rank)]
      let db = i < r - b.rank ? 1 : b.dimensions[i - (r - b.rank)]
      if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else { return nil }
    }
    return Shape(out)
  }
}

/// A shape that does not fit where it was used, reported at a module boundary.
public struct ShapeError: Error, CustomStringConvertible, Equatable {
  public var context: String
  public var expected: String
  public var got: Shape

  public init(_ context: String, expected: String, got: Shape) {
    self.context = context
    self.expected = expected
    self.got = got
  }

  public var description: String { "\(context): expected \(expected), got \(got)" }
}
