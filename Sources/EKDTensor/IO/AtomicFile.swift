import Foundation

/// A file that could not be written, naming it and the reason.
public struct FileWriteError: Error, CustomStringConvertible, Equatable {
  public var path: String, reason: String
  public init(_ path: String, _ reason: String) { (self.path, self.reason) = (path, reason) }
  public var description: String { "\(path): \(reason)" }
}

/// The one way EKD writes a file: never a half-written file behind.
///
/// The bytes go to a temporary file in the destination's directory, are
/// fsync'ed, and are renamed over the destination (atomic on POSIX); then the
/// directory is fsync'ed so the rename itself survives a crash. A reader sees
/// the old file or the new one, never a mixture. It lives in the lowest module
/// so checkpoints, images, labels and reports all share it.
public enum AtomicFile {
  public static func write(_ data: Data, to url: URL) throws(FileWriteError) {
    try write(to: url) { (temp: String) throws(FileWriteError) in
      let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
      guard fd >= 0 else { throw FileWriteError(url.path, "cannot create \(temp): \(String(cString: strerror(errno)))") }
      defer { close(fd) }
      let ok = data.withUnsafeBytes { raw -> Bool in
        var offset = 0
        while offset < raw.count {
          let n = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
          if n <= 0 { return false }
          offset += n
        }
        return true
      }
      guard ok else { throw FileWriteError(url.path, "write failed: \(String(cString: strerror(errno)))") }
    }
  }

  /// For writers that need a path (an encoder in C): `fill` writes the temp
  /// file; it is then fsync'ed and renamed over `url`, or removed on failure.
  public static func write(to url: URL, _ fill: (String) throws(FileWriteError) -> Void) throws(FileWriteError) {
    let dir = url.deletingLastPathComponent()
    let temp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())").path
    do { try fill(temp) } catch {
      unlink(temp)
      throw error
    }
    let fd = open(temp, O_RDONLY)
    let synced = fd >= 0 && fsync(fd) == 0
    if fd >= 0 { close(fd) }
    guard synced, rename(temp, url.path) == 0 else {
      let reason = String(cString: strerror(errno))
      unlink(temp)
      throw FileWriteError(url.path, "write failed: \(reason)")
    }
    let dfd = open(dir.path, O_RDONLY)
    if dfd >= 0 {
      fsync(dfd)
      close(dfd)
    }
  }
}
