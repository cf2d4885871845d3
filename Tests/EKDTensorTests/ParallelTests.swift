import EKDTensor
import Foundation
import Synchronization
import Testing

/// `Parallel.chunks` over the spinning worker pool: every index is visited once,
/// by the slice the static split gives it, however the calls come — back to back
/// (the workers still spinning), after the workers fell asleep, nested inside a
/// job, and from several threads at once (all but one fall back to Dispatch).
@Suite struct ParallelChunks {
  /// Marks each index of 0..<count with its worker; fails on a gap or an overlap.
  func cover(_ count: Int, threads: Int, minimumPerWorker: Int = 1) -> [Int] {
    let marks = UnsafeMutableBufferPointer<Int>.allocate(capacity: count)
    defer { marks.deallocate() }
    marks.initialize(repeating: -1)
    Parallel.chunks(count, threads: threads, minimumPerWorker: minimumPerWorker) { range, worker in
      for i in range {
        precondition(marks[i] == -1, "index \(i) visited twice")
        marks[i] = worker
      }
    }
    return Array(marks)
  }

  @Test func everyIndexOnceInStaticSlices() {
    for count in [0, 1, 2, 3, 7, 64, 1001] {
      for threads in [1, 2, 3] {
        let marks = cover(count, threads: threads)
        let workers = max(1, min(threads, count))
        let want = (0..<count).map { i in (0..<workers).first { w in i < count * (w + 1) / workers }! }
        #expect(marks == want, "count \(count), threads \(threads)")
      }
    }
  }

  @Test func manyJobsBackToBackAndAfterSleeping() {
    var total = 0
    for _ in 0..<20_000 { total += cover(10, threads: 2).reduce(0, +) }
    #expect(total == 20_000 * 5, "worker 1 takes indices 5..<10 of every job")
    usleep(20_000)  // long enough for the workers to go to sleep
    #expect(cover(10, threads: 2) == [0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
  }

  @Test func nestedJobsAndConcurrentCallers() {
    let outer = UnsafeMutableBufferPointer<Int>.allocate(capacity: 4)
    defer { outer.deallocate() }
    outer.initialize(repeating: 0)
    Parallel.chunks(4, threads: 2) { range, _ in
      for i in range { outer[i] = cover(100, threads: 2).reduce(0, +) }
    }
    #expect(Array(outer) == [50, 50, 50, 50])

    let results = UnsafeMutableBufferPointer<Int>.allocate(capacity: 4)
    defer { results.deallocate() }
    DispatchQueue.concurrentPerform(iterations: 4) { t in
      var sum = 0
      for _ in 0..<2000 { sum += cover(33, threads: 2).reduce(0, +) }
      results[t] = sum
    }
    #expect(Array(results) == [Int](repeating: 2000 * 17, count: 4))
  }
}

/// `Parallel.each`: every index exactly once, on at most `threads` threads at a time,
/// and a slow thread's share taken over by the other.
@Suite struct ParallelEach {
  @Test func everyIndexOnceOnAtMostThreads() {
    for count in [0, 1, 2, 7, 100] {
      for threads in [1, 2, 3] {
        let visits = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(count, 1))
        defer { visits.deallocate() }
        visits.initialize(repeating: 0)
        let running = Mutex((now: 0, most: 0))
        Parallel.each(count, threads: threads) { i in
          running.withLock {
            $0.now += 1
            $0.most = max($0.most, $0.now)
          }
          visits[i] += 1
          usleep(200)
          running.withLock { $0.now -= 1 }
        }
        #expect(Array(visits.prefix(count)) == [Int](repeating: 1, count: count), "count \(count), threads \(threads)")
        #expect(running.withLock { $0.most } <= threads)
      }
    }
  }

  @Test func aSlowThreadDoesNotHoldTheOthersShare() {
    // Whichever thread takes index 0 sleeps 50 ms on it; the other runs the other 19
    // items (1 ms each) meanwhile, where a static split would have left it 9 of them.
    let taken = Mutex([UInt: Int]())
    Parallel.each(20, threads: 2) { i in
      usleep(i == 0 ? 50_000 : 1_000)
      let me = UInt(pthread_self())
      taken.withLock { $0[me, default: 0] += 1 }
    }
    let counts = taken.withLock { $0.values.sorted() }
    #expect(counts.reduce(0, +) == 20)
    #expect(counts.last! >= 15, "\(counts)")
  }
}
