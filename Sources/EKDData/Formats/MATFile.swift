import CImageCodecs
import Foundation

/// A numeric array from a MATLAB Level-5 MAT file: dimensions and values in
/// MATLAB's column-major order, converted to Double.
public struct MATArray: Sendable {
  public var name: String
  public var dimensions: [Int]
  public var values: [Double]

  /// Element at a (0-based) multi-index, column-major.
  public subscript(_ index: Int...) -> Double {
    var flat = 0, stride = 1
    for (i, d) in zip(index, dimensions) {
      flat += i * stride
      stride *= d
    }
    return values[flat]
  }
}

/// A reader for MATLAB Level-5 MAT files (what `scipy.io.savemat` and MATLAB's
/// `save` up to -v7 write), numeric arrays only.
///
/// Layout: a 128-byte header (text, subsystem offset, version 0x0100, endian
/// tag "IM"), then data elements, each a tag (type, byte count; or the
/// "small element" form with both in 4 bytes) padded to 8 bytes. A variable
/// is a miMATRIX (14) — array flags, dimensions, name, real part — possibly
/// wrapped in miCOMPRESSED (15), a zlib stream. Big-endian files ("MI") are
/// read too. Cells, structs, sparse and complex arrays are refused by name.
public enum MATFile {
  public static func read(contentsOf path: String) throws(DatasetError) -> [String: MATArray] {
    guard let data = FileManager.default.contents(atPath: path) else { throw .missingFile(path) }
    return try read([UInt8](data), path: path)
  }

  public static func read(_ bytes: [UInt8], path: String) throws(DatasetError) -> [String: MATArray] {
    guard bytes.count >= 128 else { throw .malformed(path, "MAT: shorter than the 128-byte header") }
    guard String(decoding: bytes[0..<10], as: UTF8.self) == "MATLAB 5.0" else {
      let v73 = String(decoding: bytes[0..<min(19, bytes.count)], as: UTF8.self).hasPrefix("MATLAB 7.3")
      throw .unsupported(path, v73 ? "MAT v7.3 (HDF5); save with -v7 or scipy.io.savemat" : "not a MATLAB Level-5 MAT file")
    }
    let little: Bool
    switch (bytes[126], bytes[127]) {
    case (0x49, 0x4D): little = true  // "IM"
    case (0x4D, 0x49): little = false
    default: throw .malformed(path, "MAT: bad endian indicator")
    }
    var parser = Parser(bytes: bytes, little: little, path: path)
    parser.pos = 128
    var out: [String: MATArray] = [:]
    while parser.pos + 8 <= bytes.count {
      if let a = try parser.element(depth: 0) { out[a.name] = a }
    }
    return out
  }

  struct Parser {
    let bytes: [UInt8], little: Bool, path: String
    var pos = 0

    func fail(_ why: String) -> DatasetError { .malformed(path, "MAT: \(why) at byte \(pos)") }

    mutating func u32() throws(DatasetError) -> Int {
      guard pos + 4 <= bytes.count else { throw fail("truncated") }
      let b = bytes[pos..<(pos + 4)].map { UInt32($0) }
      pos += 4
      return Int(little ? b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24 : b[3] | b[2] << 8 | b[1] << 16 | b[0] << 24)
    }

    /// Reads a tag: (type, byte count, is small element).
    mutating func tag() throws(DatasetError) -> (Int, Int, Bool) {
      let first = try u32()
      if first >> 16 != 0 { return (first & 0xFFFF, first >> 16, true) }
      return (first, try u32(), false)
    }

    mutating func body(_ n: Int, small: Bool) throws(DatasetError) -> ArraySlice<UInt8> {
      let room = small ? 4 : n
      guard n >= 0, n <= room, pos + room <= bytes.count else { throw fail("element of \(n) bytes runs past the end") }
      let s = bytes[pos..<(pos + n)]
      pos += small ? 4 : (n + 7) & ~7
      return s
    }

    /// One top-level or nested element; returns the array of a miMATRIX.
    mutating func element(depth: Int) throws(DatasetError) -> MATArray? {
      guard depth < 4 else { throw fail("nesting too deep") }
      let (type, n, small) = try tag()
      switch type {
      case 15:  // miCOMPRESSED
        let z = Array(try body(n, small: small))
        var out: UnsafeMutablePointer<UInt8>?
        var outSize = 0
        var message = [CChar](repeating: 0, count: 128)
        // A bound for the inflated size: generous (1 GiB) but finite.
        guard ekd_inflate(z, z.count, 1 << 30, &out, &outSize, &message, 128) == 0, let out else {
          throw fail("miCOMPRESSED: " + String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        defer { ekd_free(out) }
        var inner = Parser(bytes: Array(UnsafeBufferPointer(start: out, count: outSize)), little: little, path: path)
        return try inner.element(depth: depth + 1)
      case 14: return try matrix(Array(try body(n, small: small)))
      default:
        _ = try body(n, small: small)  // something else at top level: skip it
        return nil
      }
    }

    /// miMATRIX contents: flags, dimensions, name, real part.
    func matrix(_ content: [UInt8]) throws(DatasetError) -> MATArray {
      var p = Parser(bytes: content, little: little, path: path)
      let (ft, fn, fs) = try p.tag()
      guard ft == 6, fn == 8 else { throw p.fail("array flags missing") }
      let flags = Array(try p.body(fn, small: fs))
      let word = little ? Int(flags[0]) | Int(flags[1]) << 8 : Int(flags[3]) | Int(flags[2]) << 8
      let klass = word & 0xFF
      let names = [1: "cell", 2: "struct", 3: "object", 4: "char", 5: "sparse"]
      guard (6...15).contains(klass) else { throw p.fail("array class \(names[klass] ?? String(klass)) is not numeric") }
      guard word & 0x0800 == 0 else { throw p.fail("complex arrays are not supported") }
      let (dt, dn, ds) = try p.tag()
      guard dt == 5, dn % 4 == 0 else { throw p.fail("dimensions missing") }
      var dp = Parser(bytes: Array(try p.body(dn, small: ds)), little: little, path: path)
      var dims: [Int] = []
      var count = 1
      for _ in 0..<(dn / 4) {
        let d = try dp.u32()
        let (c, o) = count.multipliedReportingOverflow(by: d)
        guard !o, c <= content.count else { throw p.fail("dimensions exceed the data") }
        dims.append(d)
        count = c
      }
      let (nt, nn, ns) = try p.tag()
      guard nt == 1 else { throw p.fail("array name missing") }
      let name = String(decoding: try p.body(nn, small: ns), as: UTF8.self)
      let (vt, vn, vs) = try p.tag()
      let raw = Array(try p.body(vn, small: vs))
      let sizes = [1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8]
      guard let size = sizes[vt] else { throw p.fail("data type \(vt) is not numeric") }
      guard raw.count == count * size else { throw p.fail("'\(name)' has \(raw.count) data bytes, \(dims) of type \(vt) needs \(count * size)") }
      var values = [Double](repeating: 0, count: count)
      for i in 0..<count {
        var v: UInt64 = 0
        for k in 0..<size { v |= UInt64(raw[i * size + (little ? k : size - 1 - k)]) << (8 * UInt64(k)) }
        switch vt {
        case 9: values[i] = Double(bitPattern: v)
        case 7: values[i] = Double(Float(bitPattern: UInt32(v)))
        case 1: values[i] = Double(Int8(truncatingIfNeeded: v))
        case 3: values[i] = Double(Int16(truncatingIfNeeded: v))
        case 5: values[i] = Double(Int32(truncatingIfNeeded: v))
        case 12: values[i] = Double(Int64(bitPattern: v))
        default: values[i] = Double(v)
        }
      }
      return MATArray(name: name, dimensions: dims, values: values)
    }
  }
}
