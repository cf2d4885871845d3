import ArgumentParser
import EKDData
import EKDHand
import EKDModels
import EKDTraining
import Foundation

/// `ekd predict`: a trained student on a user's own images.
struct PredictCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "predict",
    abstract: "Run a trained student on PNG/JPEG images: 2D joints in image pixels, root-relative 3D, the 20 angles against the bounds, metric 3D with intrinsics.",
    discussion: """
      Writes OUT/<image>.json and OUT/<image>-overlay.png per image. The crop is --box plus 30% on each side \
      (the framing the student was trained on), or the whole image. With --focal or --intrinsics, the wrist's depth comes \
      from the wrist-to-middle-MCP bone (--bone-mm) in closed form (Iqbal et al. 2018), and every joint is given in camera millimetres.
      """)

  @Option(help: "Checkpoint directory or .safetensors file from `ekd train`.") var checkpoint: String
  @Argument(help: "Images (PNG or JPEG), or directories of them.") var images: [String]
  @Option(help: "The hand's box in image pixels: x,y,width,height (default: the whole image).") var box: String?
  @Option(help: "left or right: a left hand is mirrored in, predicted as a right hand, and mirrored back.") var hand = Handedness.right
  @Option(help: "Focal length in pixels (principal point at the image centre).") var focal: Double?
  @Option(help: "Intrinsics fx,fy,cx,cy in pixels.") var intrinsics: String?
  @Option(help: "Wrist to middle-MCP length in mm, for metric 3D (default: an adult's, 90 mm).") var boneMm = 90.0
  @Option(help: "Images per batch.") var batch = 16
  @Option(help: "Output directory.") var out = "predictions"
  @Option(help: "Threads.") var threads = 2

  func numbers(_ text: String, count: Int, option: String) throws -> [Double] {
    let v = text.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
    guard v.count == count, v.allSatisfy(\.isFinite) else { throw CommandFailure("\(option): expected \(count) comma-separated numbers, got '\(text)'") }
    return v
  }

  /// The image files named, directories expanded (PNG and JPEG, sorted).
  func files() throws -> [String] {
    var out: [String] = []
    for path in images {
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw CommandFailure("\(path): no such file") }
      if isDirectory.boolValue {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        out += names.filter { ["png", "jpg", "jpeg"].contains(URL(fileURLWithPath: $0).pathExtension.lowercased()) }.sorted().map { path + "/" + $0 }
      } else {
        out.append(path)
      }
    }
    guard !out.isEmpty else { throw CommandFailure("\(images.joined(separator: ", ")): no PNG or JPEG images") }
    return out
  }

  func run() throws {
    guard batch > 0, threads > 0 else { throw CommandFailure("--batch and --threads must be positive") }
    guard boneMm.isFinite, boneMm > 0 else { throw CommandFailure("--bone-mm: must be a positive length, got \(boneMm)") }
    guard focal == nil || intrinsics == nil else { throw CommandFailure("--focal and --intrinsics: give one of them") }
    if let focal, !(focal.isFinite && focal > 0) { throw CommandFailure("--focal: must be positive, got \(focal)") }
    let boxValues = try box.map { try numbers($0, count: 4, option: "--box") }
    if let b = boxValues, !(b[2] > 0 && b[3] > 0) { throw CommandFailure("--box: width and height must be positive") }
    let k = try intrinsics.map { try numbers($0, count: 4, option: "--intrinsics") }
    if let k, !(k[0] > 0 && k[1] > 0) { throw CommandFailure("--intrinsics: fx and fy must be positive") }
    let student: Student, bounds: AngleBounds
    do { (student, _, bounds) = try Trainer.student(fromCheckpoint: checkpoint) } catch { throw CommandFailure(error.description) }
    let paths = try files()
    try? FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    for start in stride(from: 0, to: paths.count, by: batch) {
      let chunk = Array(paths[start..<min(start + batch, paths.count)])
      let inputs = try chunk.map { path -> Predictor.Input in
        let image: Image
        do { image = try Image(contentsOf: path) } catch { throw CommandFailure("\(error)") }
        let matrix =
          k.map { [$0[0], 0, $0[2], 0, $0[1], $0[3], 0, 0, 1] }
          ?? focal.map { [$0, 0, Double(image.width - 1) / 2, 0, $0, Double(image.height - 1) / 2, 0, 0, 1] }
        return Predictor.Input(image: image, box: boxValues.map { ($0[0], $0[1], $0[2], $0[3]) }, hand: hand, intrinsics: matrix)
      }
      let outputs = Predictor.predict(student, bounds: bounds, inputs: inputs, boneLength: boneMm, batchSize: batch, threads: threads)
      for (path, (input, result)) in zip(chunk, zip(inputs, outputs)) {
        let stem = out + "/" + URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        try writeReport(report(path, input, result), to: stem + ".json")
        do { try Report.overlay(input.image, result.uv).writePNG(to: stem + "-overlay.png") } catch { throw CommandFailure("\(error)") }
        let invalid = result.violated.filter { $0 }.count
        print("\(path): \(invalid) of 20 angles out of bounds" + (result.rootDepth.map { String(format: ", wrist at %.0f mm", $0) } ?? "") + "; wrote \(stem).json")
      }
    }
  }

  func report(_ path: String, _ input: Predictor.Input, _ r: Predictor.Output) -> [String: Any] {
    var joints: [[String: Any]] = []
    for (i, name) in HandSkeleton.jointNames.enumerated() {
      var j: [String: Any] = ["name": name, "u": r.uv[i].x, "v": r.uv[i].y, "relative": [r.relative[i].x, r.relative[i].y, r.relative[i].z]]
      if let c = r.camera { j["camera_mm"] = [c[i].x, c[i].y, c[i].z] }
      joints.append(j)
    }
    let angles = HandSkeleton.angleNames.indices.map { i -> [String: Any] in
      ["name": HandSkeleton.angleNames[i], "f": r.f[i], "degrees": r.degrees[i], "valid": !r.violated[i]]
    }
    var o: [String: Any] = [
      "image": path, "hand": input.hand.rawValue, "width": input.image.width, "height": input.image.height,
      "joints": joints, "angles": angles, "relative_unit": "s (wrist to middle MCP)", "bone_mm": boneMm,
    ]
    if let b = input.box { o["box"] = [b.x, b.y, b.width, b.height] }
    if let z = r.rootDepth { o["root_depth_mm"] = z }
    return o
  }
}

extension Handedness: ExpressibleByArgument {}
