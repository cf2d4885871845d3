import Foundation

/// A seeded, splittable pseudo-random generator (SplitMix64).
///
/// Every random draw in EKD — initialisation, augmentation, data order — takes
/// one of these as an argument, so a seed reproduces a run and nothing hides
/// in global state.
public struct SeededRandom: RandomNumberGenerator, Sendable {
  private var state: UInt64

  public init(seed: UInt64) { state = seed }

  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// An independent generator for a sub-task (a worker, a layer, an epoch).
  public mutating func split() -> SeededRandom { SeededRandom(seed: next()) }
}

extension RandomNumberGenerator {
  /// Uniform in [0, 1) with 24 random bits, the precision of a Float.
  public mutating func nextUnitFloat() -> Float { Float(next() >> 40) * 0x1p-24 }

  /// A standard normal draw (Box–Muller; one of the pair is discarded for simplicity).
  public mutating func nextNormal() -> Float {
    let u1 = max(Double(next() >> 11) * 0x1p-53, 0x1p-60)
    let u2 = Double(next() >> 11) * 0x1p-53
    return Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2))
  }
}

extension Tensor {
  /// Independent N(mean, std²) scalars.
  public static func randomNormal(
    _ shape: Shape, mean: Float = 0, std: Float = 1, using rng: inout some RandomNumberGenerator
  ) -> Tensor {
    var t = Tensor(uninitialized: shape)
    let p = t.mutablePointer
    for i in 0..<t.count { p[i] = mean + std * rng.nextNormal() }
    return t
  }

  /// Independent U[low, high) scalars.
  public static func randomUniform(
    _ shape: Shape, in range: ClosedRange<Float> = 0...1, using rng: inout some RandomNumberGenerator
  ) -> Tensor {
    var t = Tensor(uninitialized: shape)
    let p = t.mutablePointer
    let width = range.upperBound - range.lowerBound
    for i in 0..<t.count { p[i] = range.lowerBound + width * rng.nextUnitFloat() }
    return t
  }
}
