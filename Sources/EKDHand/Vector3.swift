/// A 3-vector generic over the scalar, so the geometry below runs in Float
/// for training and in Double for tests that need tight tolerances.
public struct Vector3<T: BinaryFloatingPoint & Sendable>: Equatable, Sendable {
  public var x: T, y: T, z: T
  @inlinable
  public init(_ x: T, _ y: T, _ z: T) {
    self.x = x
    self.y = y
    self.z = z
  }
  @inlinable
  public static var zero: Vector3 { Vector3(0, 0, 0) }
  @inlinable
  public static func + (a: Vector3, b: Vector3) -> Vector3 { Vector3(a.x + b.x, a.y + b.y, a.z + b.z) }
  @inlinable
  public static func - (a: Vector3, b: Vector3) -> Vector3 { Vector3(a.x - b.x, a.y - b.y, a.z - b.z) }
  @inlinable
  public static func * (s: T, a: Vector3) -> Vector3 { Vector3(s * a.x, s * a.y, s * a.z) }
  @inlinable
  public static func += (a: inout Vector3, b: Vector3) { a = a + b }
  @inlinable
  public static func -= (a: inout Vector3, b: Vector3) { a = a - b }
  @inlinable
  public func dot(_ b: Vector3) -> T { x * b.x + y * b.y + z * b.z }
  @inlinable
  public func cross(_ b: Vector3) -> Vector3 { Vector3(y * b.z - z * b.y, z * b.x - x * b.z, x * b.y - y * b.x) }
  @inlinable
  public var length: T { dot(self).squareRoot() }
}

/// unit(v) = v / (‖v‖ + ε), ε = 1e-8: never divides by zero, so a degenerate
/// pose (coincident joints) still has finite values and gradients.
@usableFromInline let unitEpsilon = 1e-8

@inlinable
func unit<T>(_ v: Vector3<T>) -> Vector3<T> { (1 / (v.length + T(unitEpsilon))) * v }

/// Pullback of `unit`: with r = ‖v‖, d(unit)/dv = I/(r+ε) − v·vᵀ/((r+ε)²·r), so
/// dL/dv = g/(r+ε) − v·(v·g)/((r+ε)²·r). At r = 0 the second term's limit is 0.
@inlinable
func unitPullback<T>(_ v: Vector3<T>, _ g: Vector3<T>) -> Vector3<T> {
  let r = v.length, re = r + T(unitEpsilon)
  let first = (1 / re) * g
  guard r > 0 else { return first }
  return first - (v.dot(g) / (re * re * r)) * v
}
