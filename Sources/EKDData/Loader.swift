import EKDHand
import EKDTensor
import Foundation

/// A dataset split whose samples are addressed by index.
public protocol SampleSource: Sendable {
  var name: String { get }
  var count: Int { get }
  /// The sample as a right hand (left hands already mirrored).
  func sample(_ index: Int) throws(DatasetError) -> Sample
  /// Its 21 joints (mm, right hand) without decoding the image: for bounds.
  func pose(_ index: Int) throws(DatasetError) -> [Vector3<Double>]
}

extension SampleSource {
  public func pose(_ index: Int) throws(DatasetError) -> [Vector3<Double>] { try sample(index).asRightHand().xyz }
}

/// Synthetic hands rendered on demand: no files at all.
public struct SyntheticStream: SampleSource {
  public let count: Int, seed: UInt64, size: Int, views: SyntheticViews
  public init(count: Int, seed: UInt64, size: Int, views: SyntheticViews = .capture) {
    (self.count, self.seed, self.size, self.views) = (count, seed, size, views)
  }
  public var name: String { "synth(seed \(seed), \(views.rawValue) views)" }
  public func sample(_ index: Int) throws(DatasetError) -> Sample { SyntheticHands.sample(index: index, seed: seed, size: size, views: views) }
  public func pose(_ index: Int) throws(DatasetError) -> [Vector3<Double>] { SyntheticHands.pose(index: index, seed: seed, size: size, views: views) }
}

/// A synthetic set written by `ekd synth`.
public struct SyntheticFolder: SampleSource {
  public let directory: String
  let entries: [(image: String, sample: (k: [Double], xyz: [Vector3<Double>], uv: [SIMD2<Double>], visible: [Bool]))]
  public init(directory: String) throws(DatasetError) {
    self.directory = directory
    entries = try SyntheticDataset.read(directory: directory)
  }
  public var name: String { "synth:\(directory)" }
  public var count: Int { entries.count }
  public func sample(_ index: Int) throws(DatasetError) -> Sample {
    let e = entries[index]
    return Sample(
      image: try Image(contentsOf: e.image), intrinsics: e.sample.k, xyz: e.sample.xyz, uv: e.sample.uv,
      visible: e.sample.visible, hand: .right, source: e.image)
  }
  public func pose(_ index: Int) throws(DatasetError) -> [Vector3<Double>] { entries[index].sample.xyz }
}

/// Crops, augments and stacks samples into batches on background threads
/// while the student computes.
///
/// Training order is a function of the seed alone: an endless stream of
/// permutations, one per epoch, each drawn from (seed, epoch); step s takes
/// stream positions [s·B, (s+1)·B), so a batch may span two epochs, a split
/// smaller than the batch still trains, and no sample is dropped. Stream
/// position k is augmented with a generator drawn from (seed, k). So a run
/// restarted at step n (`startStep`) sees exactly the batches an
/// uninterrupted run would, whatever the number of workers.
public final class BatchLoader: @unchecked Sendable {
  /// What to build: shared with the workers, which never hold the loader itself,
  /// so dropping a loader stops its threads (deinit) even without `stop()`.
  final class Plan: @unchecked Sendable {
    let source: any SampleSource
    let batchSize: Int, cropSize: Int, augmentation: Augmentation, shuffle: Bool, seed: UInt64
    /// This process's part of each global batch (data-parallel training): (index, count).
    var shard = (index: 0, count: 1)
    private let lock = NSLock()
    private var permutations: [Int: [Int]] = [:]

    init(source: any SampleSource, batchSize: Int, cropSize: Int, augmentation: Augmentation, shuffle: Bool, seed: UInt64) {
      (self.source, self.batchSize, self.cropSize, self.augmentation, self.shuffle, self.seed) = (source, batchSize, cropSize, augmentation, shuffle, seed)
    }

    /// The permutation of epoch `epoch` (cached: workers share it). Its generator's
    /// seed mixes the epoch through SplitMix's finaliser, which keeps 0 at 0: epoch 0
    /// keeps the run's seed, and later epochs are not shifted copies of it (a plain
    /// seed ^ epoch·γ is exactly SplitMix's own increment).
    func permutation(_ epoch: Int) -> [Int] {
      lock.lock()
      defer { lock.unlock() }
      if let p = permutations[epoch] { return p }
      var z = UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      var rng = SeededRandom(seed: seed ^ (z ^ (z >> 31)))
      var order = Array(0..<source.count)
      order.shuffle(using: &rng)
      permutations = permutations.filter { $0.key >= epoch - 1 }
      permutations[epoch] = order
      return order
    }

    /// (stream position, sample index) of every item of global step `step`.
    func items(step: Int) -> [(position: Int, index: Int)] {
      let n = source.count
      guard n > 0 else { return [] }
      guard shuffle else { return ((step * batchSize)..<max(step * batchSize, min(n, (step + 1) * batchSize))).map { ($0, $0) } }
      return ((step * batchSize)..<((step + 1) * batchSize)).map { k in (k, permutation(k / n)[k % n]) }
    }

    /// The items of global step `step` that belong to this shard: the global batch
    /// split into `shard.count` equal, consecutive parts.
    func shardItems(step: Int) -> [(position: Int, index: Int)] {
      let all = items(step: step)
      guard shard.count > 1 else { return all }
      let per = all.count / shard.count
      return Array(all[(shard.index * per)..<((shard.index + 1) * per)])
    }

    func makeBatch(step: Int) throws(DatasetError) -> Batch {
      let samples = try shardItems(step: step).map { item throws(DatasetError) -> Sample in
        var rng = SeededRandom(seed: seed ^ (UInt64(item.position) &* 0xD1B5_4A32_D192_ED03) ^ 0x5EED_A06)
        return Cropper.crop(try source.sample(item.index).asRightHand(), size: cropSize, augmentation: augmentation, using: &rng)
      }
      return Batch(samples: samples)
    }
  }

  /// Batches built and not yet taken, and where producing and consuming stand.
  final class Queue: @unchecked Sendable {
    let condition = NSCondition()
    var ready: [Int: Result<Batch, DatasetError>] = [:]
    var nextToProduce: Int, nextToConsume: Int
    let prefetch: Int, limit: Int?
    var stopped = false

    init(start: Int, prefetch: Int, limit: Int?) { (nextToProduce, nextToConsume, self.prefetch, self.limit) = (start, start, prefetch, limit) }

    func stop() {
      condition.lock()
      stopped = true
      condition.broadcast()
      condition.unlock()
    }

    /// A worker: claims the next step, builds it outside the lock, files it.
    func produce(_ plan: Plan) {
      while true {
        condition.lock()
        while !stopped && nextToProduce - nextToConsume >= prefetch { condition.wait() }
        if stopped || (limit.map { nextToProduce >= $0 } ?? false) {
          condition.unlock()
          return
        }
        let step = nextToProduce
        nextToProduce += 1
        condition.unlock()
        let result: Result<Batch, DatasetError>
        do { result = .success(try plan.makeBatch(step: step)) } catch { result = .failure(error) }
        condition.lock()
        ready[step] = result
        condition.broadcast()
        condition.unlock()
      }
    }
  }

  let plan: Plan
  let queue: Queue
  public var source: any SampleSource { plan.source }
  public var batchSize: Int { plan.batchSize }
  public var cropSize: Int { plan.cropSize }
  public var augmentation: Augmentation { plan.augmentation }
  public var shuffle: Bool { plan.shuffle }
  public var seed: UInt64 { plan.seed }
  /// Batches in one pass over the source.
  public var batchesPerEpoch: Int { max((source.count + batchSize - 1) / batchSize, 1) }

  /// - Parameters:
  ///   - shuffle: training order (permuted, endless); else one pass in order.
  ///   - startStep: the first batch to produce (for resuming).
  ///   - workers: threads that build batches (rendering synthetic hands is
  ///     the costliest part of a batch; one worker keeps up with most students).
  ///   - shard: in data-parallel training, which of `count` equal parts of every
  ///     global batch of `batchSize` this process takes (`batchSize` divisible by
  ///     `count`). Order and augmentation stay those of the global batch.
  public init(
    source: any SampleSource, batchSize: Int, cropSize: Int, augmentation: Augmentation = .none,
    shuffle: Bool, seed: UInt64 = 0, startStep: Int = 0, prefetch: Int = 3, workers: Int = 1,
    shard: (index: Int, count: Int) = (0, 1)
  ) {
    precondition(batchSize > 0, "a loader needs a positive batch size")
    precondition(shard.count >= 1 && (0..<shard.count).contains(shard.index) && batchSize % shard.count == 0, "shard \(shard) of a batch of \(batchSize)")
    plan = Plan(source: source, batchSize: batchSize, cropSize: cropSize, augmentation: augmentation, shuffle: shuffle, seed: seed)
    plan.shard = shard
    queue = Queue(start: startStep, prefetch: max(prefetch, workers, 1), limit: shuffle ? nil : (source.count + batchSize - 1) / batchSize)
    guard source.count > 0 else { return }
    for _ in 0..<max(workers, 1) {
      let (plan, queue) = (plan, queue)
      let thread = Thread { queue.produce(plan) }
      thread.stackSize = 8 << 20
      thread.start()
    }
  }

  deinit { queue.stop() }

  /// Stops the background threads (also done on deinit).
  public func stop() { queue.stop() }

  /// The next batch, or nil after a single in-order pass (or once stopped).
  public func next() throws(DatasetError) -> Batch? {
    guard source.count > 0 else { throw .malformed(source.name, "the split has no samples") }
    let q = queue
    q.condition.lock()
    defer { q.condition.unlock() }
    if let limit = q.limit, q.nextToConsume >= limit { return nil }
    while q.ready[q.nextToConsume] == nil && !q.stopped { q.condition.wait() }
    guard let result = q.ready.removeValue(forKey: q.nextToConsume) else { return nil }
    q.nextToConsume += 1
    q.condition.broadcast()
    return try result.get()
  }

  /// The sample indices of global step `step`.
  public func indices(step: Int) -> [Int] { plan.items(step: step).map(\.index) }

  /// Builds the batch of global step `step` (on the calling thread).
  public func makeBatch(step: Int) throws(DatasetError) -> Batch { try plan.makeBatch(step: step) }
}

extension Batch {
  /// Stacks cropped samples: pixels scaled to [−0.5, 0.5], labels as tensors.
  public init(samples: [Sample]) {
    let b = samples.count, s = samples.first?.image.width ?? 0
    var images = [Float](repeating: 0, count: b * 3 * s * s)
    for (n, sample) in samples.enumerated() {
      precondition(sample.image.width == s && sample.image.height == s && sample.image.channels == 3, "batch images must be \(s)×\(s) RGB")
      let px = sample.image.pixels
      for c in 0..<3 {
        for i in 0..<(s * s) { images[(n * 3 + c) * s * s + i] = Float(px[i * 3 + c]) / 255 - 0.5 }
      }
    }
    self.init(
      images: Tensor(shape: [b, 3, s, s], scalars: images),
      uv: Tensor(shape: [b, HandSkeleton.jointCount, 2], scalars: samples.flatMap { $0.uv.flatMap { [Float($0.x), Float($0.y)] } }),
      xyz: Tensor(shape: [b, HandSkeleton.jointCount, 3], scalars: samples.flatMap { $0.xyz.flatMap { [Float($0.x), Float($0.y), Float($0.z)] } }),
      intrinsics: Tensor(shape: [b, 3, 3], scalars: samples.flatMap { $0.intrinsics.map(Float.init) }))
  }
}
