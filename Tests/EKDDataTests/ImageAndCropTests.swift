import EKDData
import EKDHand
import EKDTensor
import Foundation
import Testing

func scratchDirectory(_ name: String) -> String {
  let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ekd-data-\(getpid())/\(name)").path
  try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
  return dir
}

@Suite struct ImageCodecs {
  @Test func pngRoundTripsExactlyAndJPEGClosely() throws {
    var rng = SeededRandom(seed: 1)
    var img = Image(width: 37, height: 23, channels: 3)
    for i in img.pixels.indices { img.pixels[i] = UInt8(truncatingIfNeeded: i * 7 + Int(rng.next() % 3)) }
    let dir = scratchDirectory("codec")
    try img.writePNG(to: dir + "/a.png")
    #expect(try Image(contentsOf: dir + "/a.png") == img)
    // A smooth image survives JPEG at quality 95 to within a few levels.
    var smooth = Image(width: 32, height: 32, channels: 3)
    for y in 0..<32 { for x in 0..<32 { for c in 0..<3 { smooth.pixels[(y * 32 + x) * 3 + c] = UInt8(4 * x + 2 * y + 20 * c) } } }
    try smooth.writeJPEG(to: dir + "/b.jpg", quality: 95)
    let back = try Image(contentsOf: dir + "/b.jpg")
    #expect(back.width == 32 && back.height == 32)
    #expect(zip(back.pixels, smooth.pixels).map { abs(Int($0) - Int($1)) }.max()! <= 8)
    let gray = try Image(contentsOf: dir + "/a.png", channels: 1)
    #expect(gray.channels == 1 && gray.pixels.count == 37 * 23)
  }

  @Test func corruptImagesAreTypedErrors() throws {
    let dir = scratchDirectory("corrupt")
    var img = Image(width: 16, height: 16, channels: 3)
    for i in img.pixels.indices { img.pixels[i] = UInt8(i % 251) }
    try img.writePNG(to: dir + "/ok.png")
    try img.writeJPEG(to: dir + "/ok.jpg")
    for name in ["ok.png", "ok.jpg"] {
      let bytes = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name))
      var rng = SeededRandom(seed: 5)
      var refused = 0
      for trial in 0..<600 {
        var b = [UInt8](bytes)
        if trial % 2 == 0 {
          b = Array(b.prefix(Int(rng.next() % UInt64(b.count))))
        } else {
          for _ in 0..<3 { b[Int(rng.next() % UInt64(b.count))] = UInt8(truncatingIfNeeded: rng.next()) }
        }
        do { _ = try Image(decoding: Data(b), path: name) } catch { refused += 1 }
      }
      #expect(refused > 100, "\(name): \(refused) of 600 corruptions refused")
    }
    #expect(throws: DatasetError.malformed("x.png", "cannot decode image: neither a PNG nor a JPEG (unknown signature)")) {
      try Image(decoding: Data("hello".utf8), path: "x.png")
    }
    #expect(throws: DatasetError.missingFile("/nonexistent.png")) { try Image(contentsOf: "/nonexistent.png") }
  }
}

@Suite struct CropAndAugment {
  /// After crop, resize and augmentation, K projects xyz onto the new uv (0.01 px).
  @Test(arguments: [false, true])
  func projectionStaysExact(augment: Bool) {
    var rng = SeededRandom(seed: 3)
    for i in 0..<20 {
      let s = SyntheticHands.sample(index: i, seed: 9, size: 96)
      let c = Cropper.crop(s, size: 64, augmentation: augment ? Augmentation() : .none, using: &rng)
      let k = Intrinsics(matrix: c.intrinsics)
      for (p, uv) in zip(c.xyz, c.uv) {
        let (u, v) = k.project(p)
        #expect(abs(u - uv.x) < 0.01 && abs(v - uv.y) < 0.01)
      }
      #expect(c.image.width == 64 && c.image.height == 64)
      // The crop holds the hand: every joint inside the frame (margin 30%, shift ≤ 8%, zoom ≤ 1.15).
      #expect(c.uv.allSatisfy { $0.x > -1 && $0.x < 65 && $0.y > -1 && $0.y < 65 })
    }
  }

  /// A left hand becomes a right hand: x, u and cx mirrored together, so it still projects.
  @Test func mirroredLeftHandStillProjects() {
    let right = SyntheticHands.sample(index: 4, seed: 2, size: 80)
    var left = right
    left.hand = .left
    let m = left.asRightHand()
    let k = Intrinsics(matrix: m.intrinsics)
    for (p, uv) in zip(m.xyz, m.uv) {
      let (u, v) = k.project(p)
      #expect(abs(u - uv.x) < 1e-9 && abs(v - uv.y) < 1e-9)
    }
    #expect(m.image.pixels[0..<3] == right.image.pixels[(79 * 3)..<(80 * 3)])
    #expect(m.asRightHand().xyz == m.xyz)  // mirroring happens once
  }
}
