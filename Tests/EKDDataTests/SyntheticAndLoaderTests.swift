import EKDData
import EKDHand
import EKDTensor
import Foundation
import Testing

@Suite struct SyntheticData {
  @Test func samplesAreDeterministicLabelledAndVaried() {
    let a = SyntheticHands.sample(index: 7, seed: 3, size: 64), b = SyntheticHands.sample(index: 7, seed: 3, size: 64)
    #expect(a.image == b.image && a.xyz == b.xyz)
    #expect(SyntheticHands.pose(index: 7, seed: 3, size: 64) == a.xyz)
    var occluded = 0, angles: [[Double]] = []
    for i in 0..<60 {
      let s = SyntheticHands.sample(index: i, seed: 1, size: 64)
      let k = Intrinsics(matrix: s.intrinsics)
      for (p, uv) in zip(s.xyz, s.uv) {
        let (u, v) = k.project(p)
        #expect(abs(u - uv.x) < 1e-9 && abs(v - uv.y) < 1e-9)
      }
      #expect(s.xyz.allSatisfy { $0.z > 200 })  // hands sit 20–60 cm from the camera, fingers may point at it
      occluded += s.visible.filter { !$0 }.count
      angles.append(JointAngles.values(s.xyz))
      // Bone lengths are a hand's: wrist to middle MCP 75–105 mm.
      let scale = HandSkeleton.scale(s.xyz)
      #expect(scale > 70 && scale < 110)
    }
    #expect(occluded > 60)  // self-occlusion happens
    // Poses vary: every angle value spans a range across the set.
    for i in 0..<20 { #expect((angles.map { $0[i] }.max()! - angles.map { $0[i] }.min()!) > 0.1, "angle \(i)") }
  }

  @Test func folderRoundTrip() throws {
    let dir = scratchDirectory("synth")
    try SyntheticDataset.write(to: dir, count: 5, size: 48, seed: 4, threads: 2)
    let folder = try SyntheticFolder(directory: dir)
    #expect(folder.count == 5)
    let s = try folder.sample(3), t = SyntheticHands.sample(index: 3, seed: 4, size: 48)
    #expect(s.image == t.image)  // PNG is lossless
    for (a, b) in zip(s.xyz, t.xyz) { #expect((a - b).length < 1e-9) }
    try "{\"format\": \"other\", \"samples\": []}".write(toFile: dir + "/labels.json", atomically: true, encoding: .utf8)
    #expect(throws: DatasetError.malformed(dir + "/labels.json", "format is \"other\", expected \"ekd-synth\"")) { try SyntheticFolder(directory: dir) }
  }
}

@Suite struct Loading {
  @Test func orderIsAFunctionOfTheSeedAndResumable() throws {
    let source = SyntheticStream(count: 40, seed: 5, size: 64)
    let a = BatchLoader(source: source, batchSize: 8, cropSize: 32, augmentation: Augmentation(), shuffle: true, seed: 11)
    let first = try (0..<7).map { _ in try a.next()! }
    let b = BatchLoader(source: source, batchSize: 8, cropSize: 32, augmentation: Augmentation(), shuffle: true, seed: 11, startStep: 4)
    for k in 4..<7 {
      let x = try b.next()!
      #expect(x.images == first[k].images && x.xyz == first[k].xyz)
    }
    // Each epoch is a permutation of all 40 samples (5 batches of 8).
    #expect(Set((0..<5).flatMap { a.indices(step: $0) }) == Set(0..<40))
    #expect(a.indices(step: 0) != a.indices(step: 5))  // a new order next epoch
    let other = BatchLoader(source: source, batchSize: 8, cropSize: 32, shuffle: true, seed: 12)
    #expect(other.indices(step: 0) != a.indices(step: 0))
  }

  @Test func singlePassCoversEverySampleOnce() throws {
    let loader = BatchLoader(source: SyntheticStream(count: 10, seed: 1, size: 64), batchSize: 4, cropSize: 32, shuffle: false)
    var counts: [Int] = []
    while let b = try loader.next() { counts.append(b.count) }
    #expect(counts == [4, 4, 2])
  }
}
