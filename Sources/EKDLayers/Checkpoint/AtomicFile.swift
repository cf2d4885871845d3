import Foundation

/// Whole-file writes that never leave a half-written file behind.
///
/// The bytes go to a temporary file in the destination's directory, are
/// fsync'ed, and are renamed over the destination (atomic on POSIX); then the
/// directory is fsync'ed so the rename itself survives a crash. A reader sees
/// the old file or the new one, never a mixture.
public enum AtomicFile {
  public static func write(_ data: Data, to url: URL) throws(CheckpointError) {
    let dir = url.deletingLastPathComponent()
    let temp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
    let fd = open(temp.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw .io(url.path, "cannot create \(temp.path): \(String(cString: strerror(errno)))") }
    var ok = data.withUnsafeBytes { raw -> Bool in
      var offset = 0
      while offset < raw.count {
        let n = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
        if n <= 0 { return false }
        offset += n
      }
      return true
    }
    ok = ok && fsync(fd) == 0
    close(fd)
    guard ok, rename(temp.path, url.path) == 0 else {
      let reason = String(cString: strerror(errno))
      unlink(temp.path)
      throw .io(url.path, "write failed: \(reason)")
    }
    let dfd = open(dir.path, O_RDONLY)
    if dfd >= 0 {
      fsync(dfd)
      close(dfd)
    }
  }
}
