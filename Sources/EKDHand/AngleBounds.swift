import Foundation

/// The physical limits of the 20 joint angles, kept in f-space (hand-model.md §3).
///
/// Bounds come from the training labels of a dataset: for each angle, the
/// minimum and maximum of f over all training poses. Keeping them in f-space
/// (sines and cosines, not degrees) makes one hinge formula right for both
/// the increasing sine and the decreasing cosine (see `AngleLoss`).
public struct AngleBounds: Equatable, Sendable {
  public var lower: [Double]
  public var upper: [Double]
  /// The dataset (and split) the bounds were computed from.
  public var dataset: String
  /// How many poses they were computed from.
  public var sampleCount: Int

  public init(lower: [Double], upper: [Double], dataset: String, sampleCount: Int) {
    precondition(lower.count == HandSkeleton.angleCount && upper.count == HandSkeleton.angleCount, "bounds need 20 pairs")
    self.lower = lower
    self.upper = upper
    self.dataset = dataset
    self.sampleCount = sampleCount
  }

  /// Min and max of each f over `poses`, read once in order (a lazy sequence keeps
  /// millions of training labels out of memory).
  ///
  /// Throws instead of inventing bounds: zero poses bound nothing, and a
  /// non-finite f (a degenerate or corrupt label) would make its bound meaningless.
  public init<S: Sequence, T>(poses: S, dataset: String) throws(AngleBoundsError) where S.Element == [Vector3<T>] {
    var lo = [Double](repeating: .infinity, count: HandSkeleton.angleCount)
    var hi = [Double](repeating: -.infinity, count: HandSkeleton.angleCount)
    var count = 0
    for (n, pose) in poses.enumerated() {
      count += 1
      for (i, f) in JointAngles.values(pose).enumerated() {
        let v = Double(f)
        guard v.isFinite else { throw AngleBoundsError(dataset, "pose \(n): \(HandSkeleton.angleNames[i]) is not finite") }
        lo[i] = min(lo[i], v)
        hi[i] = max(hi[i], v)
      }
    }
    guard count > 0 else { throw AngleBoundsError(dataset, "no poses to compute angle bounds from") }
    self.init(lower: lo, upper: hi, dataset: dataset, sampleCount: count)
  }

  /// For each of the 20 values: does it lie outside [lower, upper]?
  ///
  /// A non-finite value always does: NaN compares false with everything, so
  /// without the explicit test a broken prediction would count as valid in
  /// V.F. and in w.
  public func violations<T: BinaryFloatingPoint>(_ f: [T]) -> [Bool] {
    zip(f.indices, f).map { i, v -> Bool in
      let x = Double(v)
      return !x.isFinite || x < lower[i] || x > upper[i]
    }
  }

  /// A pose is invalid (w = 1) when at least one of its 20 values is out of bounds.
  public func isInvalid<T: BinaryFloatingPoint>(_ f: [T]) -> Bool { violations(f).contains(true) }
}

/// Bounds that cannot be had, naming where they came from (a dataset, or a
/// bounds file) and the problem.
public struct AngleBoundsError: Error, CustomStringConvertible, Equatable {
  /// The dataset the poses came from, or the bounds file's path.
  public var source: String
  public var problem: String
  public init(_ source: String, _ problem: String) {
    self.source = source
    self.problem = problem
  }
  public var description: String { "\(source): \(problem)" }
}

// MARK: - The bounds file

/// A bounds file that cannot be read: the same error, under the name callers know.
public typealias BoundsFileError = AngleBoundsError

extension AngleBounds {
  /// The bounds file format, documented in docs/losses.md:
  /// `{"format": "ekd-angle-bounds", "version": 1, "dataset": …, "samples": N,
  ///   "angles": [20 names], "bounds": [[lo, hi] × 20]}`.
  /// Numbers are written in Swift's shortest round-trip form, so a file read
  /// back gives bit-identical bounds (JSONSerialization rounds to 15 digits).
  public func jsonData() -> Data {
    func string(_ s: String) -> String {
      "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
    let names = HandSkeleton.angleNames.map(string).joined(separator: ", ")
    let pairs = zip(lower, upper).map { "    [\($0), \($1)]" }.joined(separator: ",\n")
    let text = """
      {
        "format": "ekd-angle-bounds",
        "version": 1,
        "dataset": \(string(dataset)),
        "samples": \(sampleCount),
        "angles": [\(names)],
        "bounds": [
      \(pairs)
        ]
      }

      """
    return Data(text.utf8)
  }

  public init(jsonData data: Data, path: String) throws(BoundsFileError) {
    // JSONDecoder, not JSONSerialization: on Linux the latter misrounds the
    // last bit of some doubles, and a bounds file must read back exactly.
    struct File: Decodable {
      var format: String?
      var dataset: String?
      var samples: Int?
      var bounds: [[Double]]?
    }
    guard (try? JSONSerialization.jsonObject(with: data)) != nil else { throw BoundsFileError(path, "not valid JSON") }
    guard let file = try? JSONDecoder().decode(File.self, from: data) else {
      throw BoundsFileError(path, "expected an object with \"format\", \"dataset\", \"samples\" and \"bounds\" of the right types")
    }
    guard file.format == "ekd-angle-bounds" else { throw BoundsFileError(path, "\"format\" is not \"ekd-angle-bounds\"") }
    guard let pairs = file.bounds, pairs.count == HandSkeleton.angleCount else {
      throw BoundsFileError(path, "\"bounds\" must be an array of 20 [lower, upper] pairs")
    }
    for (i, p) in pairs.enumerated() where !(p.count == 2 && p[0].isFinite && p[1].isFinite && p[0] <= p[1]) {
      throw BoundsFileError(path, "bounds[\(i)] must be [lower, upper] with finite lower ≤ upper")
    }
    self.init(lower: pairs.map { $0[0] }, upper: pairs.map { $0[1] }, dataset: file.dataset ?? "", sampleCount: file.samples ?? 0)
  }

  public init(contentsOf url: URL) throws(BoundsFileError) {
    guard let data = FileManager.default.contents(atPath: url.path) else { throw BoundsFileError(url.path, "cannot read the file") }
    try self.init(jsonData: data, path: url.path)
  }
}
