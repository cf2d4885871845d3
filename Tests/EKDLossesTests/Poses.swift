import EKDHand
import EKDLosses
import Foundation

/// Hand poses built from geometry, so expected angles are known without the code.
///
/// Frame of the flat hand: wrist at the origin, MCPs on the line y = −80 mm
/// (index at x = +30, little at x = −30, so d = +x), fingers pointing −y in
/// the plane z = 0. Then n = unit((J5 − J0) × (J17 − J0)) = (0, 0, −1).
enum Poses {
  static let mcpX: [Double] = [45, 30, 10, -10, -30]  // thumb CMC, index, middle, ring, little
  static let boneLengths: [Double] = [30, 25, 20]

  /// Each finger's three bone directions (unit vectors), thumb first.
  static func hand(directions: [[Vector3<Double>]]) -> [Vector3<Double>] {
    var j = [Vector3<Double>](repeating: .zero, count: 21)
    for (f, chain) in HandSkeleton.fingers.enumerated() {
      j[chain[0]] = Vector3(mcpX[f], f == 0 ? -20 : -80, 0)
      for k in 0..<3 { j[chain[k + 1]] = j[chain[k]] + boneLengths[k] * directions[f][k] }
    }
    return j
  }

  static let straight: [Vector3<Double>] = Array(repeating: Vector3(0, -1, 0), count: 3)
  static var flat: [Vector3<Double>] { hand(directions: Array(repeating: straight, count: 5)) }

  static func radians(_ d: Double) -> Double { d * .pi / 180 }

  /// A random rotation (axis-angle, Rodrigues) applied about the origin.
  static func rotate(_ p: [Vector3<Double>], axis a: Vector3<Double>, angle t: Double) -> [Vector3<Double>] {
    let k = (1 / a.length) * a
    return p.map { v in cos(t) * v + sin(t) * k.cross(v) + (k.dot(v) * (1 - cos(t))) * k }
  }

  /// A plausible random right hand: the flat hand with each bone bent by random angles.
  static func random(_ rng: inout some RandomNumberGenerator) -> [Vector3<Double>] {
    hand(
      directions: (0..<5).map { _ in
        (0..<3).map { _ in
          let flex = Double.random(in: 0...1.2, using: &rng), spread = Double.random(in: -0.3...0.3, using: &rng)
          return Vector3(sin(spread), -cos(spread) * cos(flex), -cos(spread) * sin(flex))
        }
      })
  }
}
