import Foundation

/// The heap block behind a `Tensor`: 64-byte aligned Float32 scalars.
///
/// A class so that tensors can share it and copy on write. Large blocks come
/// from, and go back to, ``BufferPool``: on this kind of VM a page fault per
/// 4 KiB costs more than the arithmetic of a cheap layer, so a training step
/// must not hand its activations back to the kernel only to fault them in
/// again on the next step.
package final class TensorStorage {
  package let pointer: UnsafeMutablePointer<Float>
  package let count: Int
  private let capacityBytes: Int

  /// Uninitialised storage for `count` scalars.
  package init(uninitializedCount count: Int) {
    self.count = count
    (pointer, capacityBytes) = BufferPool.shared.take(bytes: max(count, 1) * MemoryLayout<Float>.stride)
  }

  package convenience init(zeroedCount count: Int) {
    self.init(uninitializedCount: count)
    pointer.update(repeating: 0, count: count)
  }

  package func copy() -> TensorStorage {
    let s = TensorStorage(uninitializedCount: count)
    s.pointer.update(from: pointer, count: count)
    return s
  }

  deinit { BufferPool.shared.give(pointer, bytes: capacityBytes) }
}

/// A cache of large, freed tensor blocks, keyed by their rounded size.
///
/// Training allocates the same sizes every step, so free lists by size serve
/// nearly every request after the first step without a page fault; a request
/// with no block of its size takes the smallest one at most twice as large.
/// Blocks below `minimumBytes` go straight to malloc (glibc keeps those in its
/// heap anyway). The pool never holds more than `limitBytes`; above that a
/// freed block is returned to the system.
public final class BufferPool: @unchecked Sendable {
  /// The process-wide pool. It holds memory, never numbers: results do not
  /// depend on it.
  public static let shared = BufferPool()

  /// A separate pool (tests use one to check the pool without other tests' traffic).
  public init() {}

  public var limitBytes: Int {
    get { lock.withLock { _limit } }
    set {
      lock.withLock {
        _limit = newValue; trimLocked()
      }
    }
  }
  /// Bytes held in free lists right now.
  public var cachedBytes: Int { lock.withLock { _cached } }
  /// Bytes of pooled-size blocks that had to come from the system so far
  /// (a steady training loop stops adding to this after its first step).
  public var freshBytes: Int { lock.withLock { _fresh } }

  static let minimumBytes = 64 << 10
  private let lock = NSLock()
  private var free: [Int: [UnsafeMutableRawPointer]] = [:]
  private var _cached = 0
  private var _limit = 8 << 30
  private var _fresh = 0

  private static func rounded(_ bytes: Int) -> Int {
    bytes < minimumBytes ? (bytes + 63) & ~63 : (bytes + 4095) & ~4095
  }

  package func take(bytes: Int) -> (UnsafeMutablePointer<Float>, Int) {
    let size = Self.rounded(bytes)
    if size >= Self.minimumBytes {
      let reused: (UnsafeMutableRawPointer, Int)? = lock.withLock {
        // The exact size, else the smallest cached block at most twice as large: a block
        // no request fits again sits in the pool while fresh memory is taken (ts20g's
        // training step peaked above PyTorch's with exact sizes only, and below it with
        // this, at the same speed; docs/performance.md).
        let key = free[size] != nil ? size : free.keys.lazy.filter { $0 > size && $0 <= 2 * size }.min()
        guard let key, var list = free[key], let p = list.popLast() else { return nil }
        free[key] = list.isEmpty ? nil : list
        _cached -= key
        return (p, key)
      }
      if let (p, key) = reused { return (p.assumingMemoryBound(to: Float.self), key) }
    }
    if size >= Self.minimumBytes { lock.withLock { _fresh += size } }
    var raw: UnsafeMutableRawPointer?
    let status = posix_memalign(&raw, 64, size)
    guard status == 0, let raw else { fatalError("out of memory allocating \(size) bytes") }
    return (raw.bindMemory(to: Float.self, capacity: size / 4), size)
  }

  package func give(_ pointer: UnsafeMutablePointer<Float>, bytes size: Int) {
    let raw = UnsafeMutableRawPointer(pointer)
    if size >= Self.minimumBytes {
      let kept: Bool = lock.withLock {
        guard _cached + size <= _limit else { return false }
        free[size, default: []].append(raw)
        _cached += size
        return true
      }
      if kept { return }
    }
    Foundation.free(raw)
  }

  /// Returns every cached block to the system.
  public func drain() {
    lock.withLock {
      let saved = _limit
      _limit = 0
      trimLocked()
      _limit = saved
    }
    // free() keeps what glibc's heap and arenas hold (once blocks have been freed, glibc
    // raises its mmap threshold and serves large blocks from the heap): give that back
    // too, or the process's resident size stays at its old peak.
    Self.mallocTrim?(0)
  }

  /// glibc's malloc_trim, looked up at run time (Swift's Glibc module does not export it;
  /// nil with another C library).
  private static let mallocTrim: (@convention(c) (Int) -> Int32)? = dlsym(nil, "malloc_trim").map {
    unsafeBitCast($0, to: (@convention(c) (Int) -> Int32).self)
  }

  private func trimLocked() {
    while _cached > _limit, let key = free.keys.max(), var list = free[key], let p = list.popLast() {
      Foundation.free(p)
      _cached -= key
      free[key] = list.isEmpty ? nil : list
    }
  }
}
