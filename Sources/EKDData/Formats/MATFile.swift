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
    var parser = Parser(bytes: bytes[...], little: little, path: path)
    parser.pos = 128
    var out: [String: MATArray] = [:]
    var inflated = 0
    while parser.pos + 8 <= bytes.count {
      if let a = try parser.element(depth: 0, inflated: &inflated) { out[a.name] = a }
    }
    return out
  }

  struct Parser {
    /// The bytes parsed; `pos` (and every offset in a message) counts from their start.
    let bytes: ArraySlice<UInt8>, little: Bool, path: String
    var pos = 0

    func fail(_ why: String) -> DatasetError { .malformed(path, "MAT: \(why) at byte \(pos)") }

    mutating func u32() throws(DatasetError) -> Int {
      guard pos + 4 <= bytes.count else { throw fail("truncated") }
      let i = bytes.startIndex + pos
      let b0 = UInt32(bytes[i]), b1 = UInt32(bytes[i + 1]), b2 = UInt32(bytes[i + 2]), b3 = UInt32(bytes[i + 3])
      pos += 4
      let word: UInt32 = little ? b0 | b1 << 8 | b2 << 16 | b3 << 24 : b3 | b2 << 8 | b1 << 16 | b0 << 24
      return Int(word)
    }

    /// Reads a tag: (type, byte count, is small element).
    mutating func tag() throws(DatasetError) -> (Int, Int, Bool) {
      let first = try u32()
      if first >> 16 != 0 { return (first & 0xFFFF, first >> 16, true) }
      return (first, try u32(), false)
    }

    /// The next `n` bytes, without copying them, then skips the element's padding.
    mutating func body(_ n: Int, small: Bool) throws(DatasetError) -> ArraySlice<UInt8> {
      let room = small ? 4 : n
      guard n >= 0, n <= room, pos + room <= bytes.count else { throw fail("element of \(n) bytes runs past the end") }
      let start = bytes.startIndex + pos
      let s = bytes[start..<(start + n)]
      pos += small ? 4 : (n + 7) & ~7
      return s
    }

    /// One top-level or nested element; returns the array of a miMATRIX.
    /// `inflated` counts the bytes decompressed so far from the file.
    mutating func element(depth: Int, inflated: inout Int) throws(DatasetError) -> MATArray? {
      guard depth < DatasetLimits.matNesting else { throw fail("nesting too deep") }
      let (type, n, small) = try tag()
      switch type {
      case 15:  // miCOMPRESSED
        let z = try body(n, small: small)
        let data = try inflate(z, inflated: &inflated)
        var inner = Parser(bytes: data[...], little: little, path: path)
        return try inner.element(depth: depth + 1, inflated: &inflated)
      case 14: return try matrix(try body(n, small: small))
      default:
        _ = try body(n, small: small)  // something else at top level: skip it
        return nil
      }
    }

    /// A miCOMPRESSED element's zlib stream `z`, inflated into one array of the size its inner tag declares.
    ///
    /// The first 8 inflated bytes are that tag. Its size is checked before
    /// anything is allocated — against what deflate can expand `z` to, and
    /// against the file's budget (`DatasetLimits.matInflatedBytes`) — and a
    /// stream that inflates past it is refused rather than silently cut.
    func inflate(_ z: ArraySlice<UInt8>, inflated: inout Int) throws(DatasetError) -> [UInt8] {
      var head = [UInt8](repeating: 0, count: 8)
      let first = Self.inflateInto(z, out: &head, capacity: 8)
      guard first.status != 1 else { throw fail("miCOMPRESSED: " + first.message) }
      guard first.count >= 4 else { throw fail("miCOMPRESSED: inflates to only \(first.count) bytes") }
      var tagParser = Parser(bytes: head[..<first.count], little: little, path: path)
      let (_, n, small) = try tagParser.tag()
      let declared = small ? 8 : 8 + n
      let capacity = small ? 8 : 8 + ((n + 7) & ~7)
      let (most, overflow) = z.count.multipliedReportingOverflow(by: DatasetLimits.deflateRatio)
      guard overflow || capacity <= most + 8 else {
        throw fail("miCOMPRESSED: \(z.count) compressed bytes cannot inflate to the \(declared) its tag declares")
      }
      guard capacity <= DatasetLimits.matInflatedBytes - inflated else {
        throw fail("miCOMPRESSED: inflating \(declared) more bytes passes the \(DatasetLimits.matInflatedBytes >> 20) MiB a label file may hold")
      }
      inflated += capacity
      var status: Int32 = 1
      var message = ""
      let data = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, initialized in
        let r = Self.inflateInto(z, out: buffer.baseAddress, capacity: capacity)
        (status, message, initialized) = (r.status, r.message, r.count)
      }
      guard status != 1 else { throw fail("miCOMPRESSED: " + message) }
      guard status == 0 else { throw fail("miCOMPRESSED: inflates past the \(declared) bytes its tag declares") }
      return data
    }

    /// `ekd_inflate_into` on `z`: its status (0 ended, 2 more remains, 1 error), the bytes written, the message.
    static func inflateInto(_ z: ArraySlice<UInt8>, out: UnsafeMutablePointer<UInt8>?, capacity: Int) -> (status: Int32, count: Int, message: String) {
      var produced = 0
      var message = [CChar](repeating: 0, count: 128)
      let status = z.withUnsafeBufferPointer { zp in ekd_inflate_into(zp.baseAddress, zp.count, out, capacity, &produced, &message, 128) }
      return (status, produced, String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    /// miMATRIX contents: flags, dimensions, name, real part.
    func matrix(_ content: ArraySlice<UInt8>) throws(DatasetError) -> MATArray {
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
      var dp = Parser(bytes: try p.body(dn, small: ds), little: little, path: path)
      var dims: [Int] = []
      var count = 1
      for _ in 0..<(dn / 4) {
        let d = try dp.u32()
        let (c, o) = count.multipliedReportingOverflow(by: d)
        guard !o, c <= content.count else { throw p.fail("dimensions exceed the data") }
        guard c <= DatasetLimits.matElements else { throw p.fail("more than \(DatasetLimits.matElements) values in one array") }
        dims.append(d)
        count = c
      }
      let (nt, nn, ns) = try p.tag()
      guard nt == 1 else { throw p.fail("array name missing") }
      let name = String(decoding: try p.body(nn, small: ns), as: UTF8.self)
      let (vt, vn, vs) = try p.tag()
      let raw = try p.body(vn, small: vs)
      let sizes = [1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8]
      guard let size = sizes[vt] else { throw p.fail("data type \(vt) is not numeric") }
      guard raw.count == count * size else { throw p.fail("'\(name)' has \(raw.count) data bytes, \(dims) of type \(vt) needs \(count * size)") }
      let base = raw.startIndex
      var values = [Double](repeating: 0, count: count)
      for i in 0..<count {
        var v: UInt64 = 0
        for k in 0..<size { v |= UInt64(raw[base + i * size + (little ? k : size - 1 - k)]) << (8 * UInt64(k)) }
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
