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

@Suite struct SmallAndMissingSplits {
  /// A split smaller than the batch used to index past the permutation (SIGILL);
  /// it now trains, each batch taking the stream of permutations across epochs.
  @Test func aSplitSmallerThanTheBatchStillTrains() throws {
    let loader = BatchLoader(source: SyntheticStream(count: 3, seed: 1, size: 48), batchSize: 8, cropSize: 32, shuffle: true, seed: 2)
    let batch = try loader.next()!
    #expect(batch.count == 8)
    #expect(Set(loader.indices(step: 0)) == Set(0..<3))
    // Every sample comes round equally often: 8 items over 3 samples = 3, 3, 2.
    let counts = Dictionary(grouping: loader.indices(step: 0) + loader.indices(step: 1) + loader.indices(step: 2), by: { $0 }).mapValues(\.count)
    #expect(counts.values.allSatisfy { $0 == 8 })
  }

  @Test func anEmptySplitIsAnErrorNotAPrecondition() {
    let loader = BatchLoader(source: SyntheticStream(count: 0, seed: 1, size: 48), batchSize: 4, cropSize: 32, shuffle: true)
    #expect(throws: DatasetError.self) { _ = try loader.next() }
  }

  /// A flat folder used to serve every split (train = val = test); it is now an error naming what is missing.
  @Test func aSynthRootWithoutTheSplitFolderIsAnError() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ekd-flat-\(getpid())").path
    try SyntheticDataset.write(to: dir, count: 2, size: 48, seed: 1)
    for split in [Split.train, .val, .test] {
      #expect {
        _ = try DatasetCatalog.open("synth", root: dir, split: split)
      } throws: { error in
        guard case DatasetError.missingFile(let what) = error else { return false }
        return what.hasPrefix(dir + "/" + split.rawValue + "/labels.json")
      }
    }
  }

  /// In memory, the training count never sizes the validation or test split.
  @Test func inMemoryValidationAndTestKeepTheirOwnSize() throws {
    let options = DatasetCatalog.SyntheticOptions(count: 200_000)
    #expect(try DatasetCatalog.open("synth", root: nil, split: .train, synthetic: options).count == 200_000)
    #expect(try DatasetCatalog.open("synth", root: nil, split: .val, synthetic: .init()).count == 500)
    #expect(try DatasetCatalog.open("synth", root: nil, split: .test, synthetic: .init()).count == 1000)
  }
}

@Suite struct Viewpoints {
  /// Both view models keep exact labels (u = fx·X/Z + cx) with the forearm in the picture,
  /// and the capture views show the palm and the back of the hand, fingers mostly up.
  @Test(arguments: SyntheticViews.allCases)
  func labelsProjectAndViewsFollowTheirModel(views: SyntheticViews) {
    var palmTowardCamera = 0, fingersUp = 0
    let n = 200
    for i in 0..<n {
      let s = SyntheticHands.sample(index: i, seed: 4, size: 64, views: views)
      let k = Intrinsics(matrix: s.intrinsics)
      for (p, uv) in zip(s.xyz, s.uv) {
        let (u, v) = k.project(p)
        #expect(abs(u - uv.x) < 1e-9 && abs(v - uv.y) < 1e-9)
      }
      // Palm normal of a right hand: (J5 − J0) × (J17 − J0) points out of the palm.
      let normal = (s.xyz[5] - s.xyz[0]).cross(s.xyz[17] - s.xyz[0])
      if normal.dot(s.xyz[0]) < 0 { palmTowardCamera += 1 }
      if s.uv[9].y < s.uv[0].y { fingersUp += 1 }
    }
    switch views {
    case .capture:
      #expect(palmTowardCamera > n / 5 && palmTowardCamera < 4 * n / 5, "\(palmTowardCamera)")
      #expect(fingersUp > 2 * n / 3, "\(fingersUp)")
    case .uniform:
      #expect(abs(fingersUp - n / 2) < n / 5, "\(fingersUp)")
    }
  }
}

@Suite struct LoaderWorkers {
  /// Batch n is a function of (seed, n): three workers give the very batches one does.
  @Test func moreWorkersGiveTheSameBatches() throws {
    let source = SyntheticStream(count: 30, seed: 6, size: 48)
    let one = BatchLoader(source: source, batchSize: 8, cropSize: 32, augmentation: Augmentation(), shuffle: true, seed: 4, workers: 1)
    let three = BatchLoader(source: source, batchSize: 8, cropSize: 32, augmentation: Augmentation(), shuffle: true, seed: 4, workers: 3)
    defer { one.stop(); three.stop() }
    for _ in 0..<6 {
      let (a, b) = (try one.next()!, try three.next()!)
      #expect(a.images == b.images && a.xyz == b.xyz)
    }
  }

  /// Workers hold the plan and the queue, never the loader: a loader dropped
  /// without `stop()` is freed (and its deinit stops the workers).
  @Test func aDroppedLoaderIsFreed() throws {
    weak var weakLoader: BatchLoader?
    do {
      let loader = BatchLoader(source: SyntheticStream(count: 8, seed: 1, size: 48), batchSize: 4, cropSize: 32, shuffle: true)
      _ = try loader.next()
      weakLoader = loader
    }
    #expect(weakLoader == nil)
  }

  /// Epochs are new orders, not shifted copies of each other (seed 0 used to give
  /// epoch e the stream of epoch 0 shifted by e draws).
  @Test func consecutiveEpochsAreUnrelated() {
    let loader = BatchLoader(source: SyntheticStream(count: 50, seed: 1, size: 48), batchSize: 50, cropSize: 32, shuffle: true, seed: 0)
    loader.stop()
    let (e0, e1) = (loader.indices(step: 0), loader.indices(step: 1))
    let samePlace = zip(e0, e1).filter { $0 == $1 }.count
    let shifted = zip(e0.dropFirst(), e1).filter { $0 == $1 }.count
    #expect(samePlace < 6 && shifted < 6, "\(samePlace) \(shifted)")
  }
}
