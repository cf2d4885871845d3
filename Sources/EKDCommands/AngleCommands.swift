import ArgumentParser
import EKDData
import EKDHand
import EKDLayers
import EKDLosses
import EKDTensor
import Foundation

/// Reads a poses file: a JSON array of poses, each 21 `[x, y, z]` (mm, canonical order, right hand).
enum PoseFile {
  static func read(_ path: String) throws(CommandFailure) -> [[Vector3<Double>]] {
    guard FileManager.default.fileExists(atPath: path) else { throw CommandFailure("\(path): no such file") }
    guard let data = FileManager.default.contents(atPath: path) else { throw CommandFailure("\(path): cannot read the file") }
    guard let json = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else {
      throw CommandFailure("\(path): not valid JSON")
    }
    guard let poses = json as? [Any] else { throw CommandFailure("\(path): expected a JSON array of poses") }
    var out: [[Vector3<Double>]] = []
    for (i, pose) in poses.enumerated() {
      guard let joints = pose as? [Any], joints.count == HandSkeleton.jointCount else {
        let n = (pose as? [Any])?.count
        throw CommandFailure("\(path): pose \(i) " + (n.map { "has \($0) joints, expected \(HandSkeleton.jointCount)" } ?? "is not an array of \(HandSkeleton.jointCount) joints"))
      }
      var pts: [Vector3<Double>] = []
      for (j, joint) in joints.enumerated() {
        guard let xyz = joint as? [Any], xyz.count == 3,
          let v = xyz.map({ number($0) }) as [Double?]?,
          let x = v[0], let y = v[1], let z = v[2], x.isFinite, y.isFinite, z.isFinite
        else { throw CommandFailure("\(path): pose \(i) joint \(j) is not [x, y, z] (three finite numbers)") }
        pts.append(Vector3(x, y, z))
      }
      out.append(pts)
    }
    return out
  }
}

/// A JSON number as Double; JSON true/false (also NSNumber on Linux, objCType "c") is not one.
func number(_ value: Any) -> Double? {
  guard let n = value as? NSNumber, String(cString: n.objCType) != "c" else { return nil }
  return n.doubleValue
}

func readBounds(_ path: String) throws(CommandFailure) -> AngleBounds {
  guard FileManager.default.fileExists(atPath: path) else { throw CommandFailure("\(path): no such file") }
  do { return try AngleBounds(contentsOf: URL(fileURLWithPath: path)) } catch { throw CommandFailure(error.description) }
}

func printJSON(_ object: Any) throws {
  let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
  FileHandle.standardOutput.write(data + Data("\n".utf8))
}

/// `ekd angles`: the 20 angle values of each pose, and with bounds Loss_θ and validity.
struct AnglesCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "angles",
    abstract: "Print the 20 joint-angle values (f, degrees) of each pose, with Loss_θ and validity against bounds.",
    discussion: "POSES.json is a JSON array of poses, each an array of 21 [x, y, z] (mm, canonical order, right hand).")

  @Option(help: "JSON array of poses.") var poses: String
  @Option(help: "Bounds file (from `ekd bounds`): adds loss_theta and invalid.") var bounds: String?

  func run() throws {
    let list = try PoseFile.read(poses)
    let b = try bounds.map { path throws(CommandFailure) in try readBounds(path) }
    let rows = list.map { pose -> [String: Any] in
      let f = JointAngles.values(pose)
      var row: [String: Any] = ["f": f, "degrees": JointAngles.degrees(f)]
      if let b {
        row["loss_theta"] = AngleLoss.hinge(f, bounds: b).loss
        row["invalid"] = b.isInvalid(f)
      }
      return row
    }
    try printJSON(rows)
  }
}

/// `ekd bounds`: angle bounds (f-space min and max) from poses or a dataset's training split.
struct BoundsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bounds",
    abstract: "Compute joint-angle bounds (min and max of each f) from poses, or from a dataset's training labels, and write them as JSON.")

  @Option(help: "JSON array of poses (21 [x, y, z] each).") var poses: String?
  @Option(help: "Dataset whose training split gives the bounds (instead of --poses): synth, rhd, stb, lm, freihand.") var dataset: String?
  @Option(help: "Dataset root directory.") var root: String?
  @Option(help: "Where to write the bounds file.") var out: String

  func validate() throws {
    guard (poses == nil) != (dataset == nil) else { throw ValidationError("give exactly one of --poses and --dataset") }
  }

  func run() throws {
    let bounds: AngleBounds
    if let poses {
      let list = try PoseFile.read(poses)
      guard !list.isEmpty else { throw CommandFailure("\(poses): no poses to compute bounds from") }
      do { bounds = try AngleBounds(poses: list, dataset: "poses:" + URL(fileURLWithPath: poses).lastPathComponent) } catch { throw CommandFailure(error.description) }
    } else {
      do { bounds = try BoundsFromLabels.compute(try DatasetCatalog.open(dataset!, root: root, split: .train, synthetic: .init(count: 8000))) } catch {
        throw CommandFailure(error.description)
      }
    }
    do { try AtomicFile.write(bounds.jsonData(), to: URL(fileURLWithPath: out)) } catch { throw CommandFailure(error.description) }
    print("wrote \(out): bounds of 20 angles from \(bounds.sampleCount) poses (\(bounds.dataset))")
  }
}
