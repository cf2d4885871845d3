import Foundation

/// A value read from a Python pickle: the data types the hand datasets use.
public indirect enum PickleValue: Equatable, Sendable {
  case none
  case bool(Bool)
  case int(Int)
  case float(Double)
  case string(String)
  case bytes([UInt8])
  case list([PickleValue])
  case tuple([PickleValue])
  /// Key–value pairs in insertion order (keys are ints or strings in these files).
  case dict([Pair])
  /// A NumPy array: shape and values in C order, converted to Double.
  case array(shape: [Int], values: [Double])

  public struct Pair: Equatable, Sendable {
    public var key: PickleValue
    public var value: PickleValue
  }

  /// The value under `key` of a dict: a linear search, meant for a sample's few
  /// fields (a reader that looks up many keys indexes the pairs once, as `RHDReader` does).
  public subscript(key: PickleValue) -> PickleValue? {
    guard case .dict(let pairs) = self else { return nil }
    return pairs.first { $0.key == key }?.value
  }
  public subscript(key: String) -> PickleValue? { self[.string(key)] }
  public subscript(key: Int) -> PickleValue? { self[.int(key)] }

  public var arrayValue: (shape: [Int], values: [Double])? {
    if case .array(let s, let v) = self { return (s, v) }
    return nil
  }
}

/// A pickle reader that interprets data opcodes only (protocols 0–4).
///
/// It executes nothing. The only globals it accepts are the ones NumPy arrays
/// are made of — `numpy.core.multiarray._reconstruct` (or `numpy._core…`),
/// `numpy.ndarray`, `numpy.dtype` — and `_codecs.encode` (how Python 3 writes
/// bytes in protocol 2). Each is interpreted by this reader, never called.
/// Any other global or opcode is an error naming the file and the offset.
/// Sizes are checked against the bytes that remain, so a corrupt length
/// cannot make it allocate more than the file could hold. Nesting, container
/// sizes and decoded bytes are bounded by `DatasetLimits`, so memo references
/// repeated many times cannot multiply memory either, and releasing the result
/// (a recursive enum) cannot overflow the stack.
public struct PickleReader {
  let bytes: [UInt8]
  let path: String
  var pos = 0

  /// A dict key, hashed so that building a dict takes time linear in its size.
  /// The datasets' keys are sample ids and field names; other keys are refused.
  enum Key: Hashable {
    case null
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes([UInt8])
  }

  /// A dict under construction: its pairs in insertion order (as `.dict` keeps
  /// them) and where each key sits, so a repeated key replaces its value in place.
  struct DictBuilder {
    var pairs: [PickleValue.Pair] = []
    var slots: [Key: Int] = [:]
    var depth = 1
  }

  /// Objects under construction that only this reader knows.
  enum Item {
    /// A finished value and how deeply containers nest in it (0 for a scalar or an array).
    case value(PickleValue, depth: Int)
    case dict(DictBuilder)
    case mark
    case global(String)
    case arrayStub  // _reconstruct(ndarray, (0,), b'b'), before BUILD
    case dtype(String, littleEndian: Bool)
  }

  var stack: [Item] = []
  var memo: [Int: Item] = [:]
  /// Bytes decoded so far into arrays and re-encoded strings, against `DatasetLimits.pickleDecodedBytes`.
  var decodedBytes = 0

  public static func read(_ data: Data, path: String) throws(DatasetError) -> PickleValue {
    var r = PickleReader(bytes: [UInt8](data), path: path)
    return try r.run()
  }

  public static func read(contentsOf path: String) throws(DatasetError) -> PickleValue {
    guard let data = FileManager.default.contents(atPath: path) else { throw .missingFile(path) }
    return try read(data, path: path)
  }

  func fail(_ why: String) -> DatasetError { .malformed(path, "pickle: \(why) at byte \(pos)") }

  mutating func byte() throws(DatasetError) -> UInt8 {
    guard pos < bytes.count else { throw fail("truncated") }
    pos += 1
    return bytes[pos - 1]
  }

  mutating func take(_ n: Int) throws(DatasetError) -> ArraySlice<UInt8> {
    guard n >= 0, n <= bytes.count - pos else { throw fail("length \(n) runs past the end of the file") }
    pos += n
    return bytes[(pos - n)..<pos]
  }

  mutating func uint(_ n: Int) throws(DatasetError) -> Int {
    let s = try take(n)
    var v: UInt64 = 0
    for (i, b) in s.enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
    return Int(truncatingIfNeeded: v)
  }

  mutating func line() throws(DatasetError) -> String { String(decoding: try lineBytes(), as: UTF8.self) }

  mutating func lineBytes() throws(DatasetError) -> ArraySlice<UInt8> {
    guard let end = bytes[pos...].firstIndex(of: 0x0A) else { throw fail("unterminated text line") }
    let s = bytes[pos..<end]
    pos = end + 1
    return s
  }

  mutating func pop() throws(DatasetError) -> Item {
    guard let top = stack.popLast() else { throw fail("stack underflow") }
    return top
  }

  /// A finished value and its nesting depth; nil for the reader's own objects.
  static func plain(_ item: Item) -> (value: PickleValue, depth: Int)? {
    switch item {
    case .value(let v, let depth): return (v, depth)
    case .dict(let b): return (.dict(b.pairs), b.depth)
    default: return nil
    }
  }

  mutating func popPlain() throws(DatasetError) -> (value: PickleValue, depth: Int) {
    guard let p = Self.plain(try pop()) else { throw fail("expected a value") }
    return p
  }

  mutating func popValue() throws(DatasetError) -> PickleValue { try popPlain().value }

  /// Pops everything above the topmost MARK.
  mutating func popMark() throws(DatasetError) -> [Item] {
    guard let m = stack.lastIndex(where: { if case .mark = $0 { return true } else { return false } }) else { throw fail("no MARK") }
    let items = Array(stack[(m + 1)...])
    stack.removeSubrange(m...)
    return items
  }

  /// The values of a container's items, and the depth of a container holding them.
  func values(_ items: [Item]) throws(DatasetError) -> (values: [PickleValue], depth: Int) {
    var out: [PickleValue] = []
    out.reserveCapacity(items.count)
    var depth = 0
    for item in items {
      guard let (v, d) = Self.plain(item) else { throw fail("expected plain values in a container") }
      out.append(v)
      depth = max(depth, d)
    }
    return (out, depth + 1)
  }

  /// Refuses a container deeper or larger than the datasets need (`DatasetLimits`).
  func checkContainer(count: Int, depth: Int) throws(DatasetError) {
    guard depth <= DatasetLimits.pickleNesting else { throw fail("values nest deeper than \(DatasetLimits.pickleNesting) levels") }
    guard count <= DatasetLimits.pickleContainerItems else {
      throw fail("a container holds more than \(DatasetLimits.pickleContainerItems) items")
    }
  }

  /// Counts `n` more decoded bytes against the file's budget, before they are allocated.
  mutating func spend(_ n: Int) throws(DatasetError) {
    decodedBytes += n
    guard decodedBytes <= DatasetLimits.pickleDecodedBytes else {
      throw fail("decodes to more than \(DatasetLimits.pickleDecodedBytes >> 20) MiB")
    }
  }

  mutating func push(_ v: PickleValue, depth: Int = 0) { stack.append(.value(v, depth: depth)) }

  mutating func run() throws(DatasetError) -> PickleValue {
    while true {
      let op = try byte()
      switch op {
      case 0x80: _ = try byte()  // PROTO
      case 0x95: _ = try take(8)  // FRAME (length: informational)
      case 0x2E:  // STOP
        guard let result = Self.plain(try pop()) else { throw fail("result is not a value") }
        return result.value
      case 0x28: stack.append(.mark)  // MARK
      case 0x4E: push(.none)  // NONE
      case 0x88: push(.bool(true))
      case 0x89: push(.bool(false))
      case 0x4A: push(.int(Int(Int32(truncatingIfNeeded: try uint(4)))))  // BININT
      case 0x4B: push(.int(try uint(1)))  // BININT1
      case 0x4D: push(.int(try uint(2)))  // BININT2
      case 0x8A, 0x8B:  // LONG1, LONG4
        let n = op == 0x8A ? try uint(1) : try uint(4)
        guard n <= 8 else { throw fail("integer of \(n) bytes is too large") }
        let s = try take(n)
        var v: Int64 = 0
        for (i, b) in s.enumerated() { v |= Int64(b) << (8 * Int64(i)) }
        if n > 0 && n < 8 && (s.last! & 0x80) != 0 { v -= Int64(1) << (8 * Int64(n)) }
        push(.int(Int(v)))
      case 0x47:  // BINFLOAT (big-endian double)
        let s = try take(8)
        push(.float(Double(bitPattern: s.reduce(UInt64(0)) { $0 << 8 | UInt64($1) })))
      case 0x49:  // INT (text); "01"/"00" are True/False in protocol 0
        let t = try line()
        if t == "01" || t == "00" {
          push(.bool(t == "01"))
        } else {
          guard let v = Int(t) else { throw fail("bad INT \(t)") }
          push(.int(v))
        }
      case 0x4C:  // LONG (text, trailing L)
        let t = try line()
        guard let v = Int(t.hasSuffix("L") ? String(t.dropLast()) : t) else { throw fail("bad LONG \(t)") }
        push(.int(v))
      case 0x46:  // FLOAT (text)
        let t = try line()
        guard let v = Double(t) else { throw fail("bad FLOAT \(t)") }
        push(.float(v))
      case 0x53:  // STRING: a Python 2 str repr, bytes
        push(.bytes(try unrepr(try line())))
      case 0x56:  // UNICODE: raw-unicode-escape (latin-1 bytes, \uXXXX for the rest)
        push(.string(try rawUnicodeEscape(String(String.UnicodeScalarView(try lineBytes().map { Unicode.Scalar($0) })))))
      case 0x54, 0x55:  // BINSTRING, SHORT_BINSTRING: Python 2 str, bytes
        let n = op == 0x55 ? try uint(1) : Int(Int32(truncatingIfNeeded: try uint(4)))
        push(.bytes(Array(try take(n))))
      case 0x58, 0x8C, 0x8D:  // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8
        let n = op == 0x8C ? try uint(1) : op == 0x58 ? try uint(4) : try uint(8)
        push(.string(String(decoding: try take(n), as: UTF8.self)))
      case 0x42, 0x43, 0x8E, 0x96:  // BINBYTES, SHORT_BINBYTES, BINBYTES8, BYTEARRAY8
        let n = op == 0x43 ? try uint(1) : op == 0x42 ? try uint(4) : try uint(8)
        push(.bytes(Array(try take(n))))
      case 0x29: push(.tuple([]), depth: 1)  // EMPTY_TUPLE
      case 0x85, 0x86, 0x87:  // TUPLE1-3
        let n = Int(op - 0x84)
        guard stack.count >= n else { throw fail("stack underflow") }
        let items = Array(stack.suffix(n))
        stack.removeLast(n)
        stack.append(try tuple(items))
      case 0x74: stack.append(try tuple(try popMark()))  // TUPLE
      case 0x5D: push(.list([]), depth: 1)  // EMPTY_LIST
      case 0x6C:  // LIST
        let (vs, depth) = try values(try popMark())
        try checkContainer(count: vs.count, depth: depth)
        push(.list(vs), depth: depth)
      case 0x61:  // APPEND
        let (v, depth) = try popPlain()
        try append([v], depth: depth + 1)
      case 0x65:  // APPENDS
        let (vs, depth) = try values(try popMark())
        try append(vs, depth: depth)
      case 0x7D: stack.append(.dict(DictBuilder()))  // EMPTY_DICT
      case 0x64:  // DICT
        let (kv, depth) = try values(try popMark())
        var b = DictBuilder()
        try insert(kv, into: &b, depth: depth)
        stack.append(.dict(b))
      case 0x73:  // SETITEM
        let (v, depth) = try popPlain()
        let k = try popValue()
        try setItems([k, v], depth: depth + 1)
      case 0x75:  // SETITEMS
        let (kv, depth) = try values(try popMark())
        try setItems(kv, depth: depth)
      case 0x71: memo[try uint(1)] = stack.last  // BINPUT
      case 0x72: memo[try uint(4)] = stack.last  // LONG_BINPUT
      case 0x70:  // PUT (text)
        guard let i = Int(try line()) else { throw fail("bad PUT") }
        memo[i] = stack.last
      case 0x94: memo[memo.count] = stack.last  // MEMOIZE
      case 0x68, 0x6A, 0x67:  // BINGET, LONG_BINGET, GET
        let i = op == 0x68 ? try uint(1) : op == 0x6A ? try uint(4) : (Int(try line()) ?? -1)
        guard let item = memo[i] else { throw fail("memo \(i) is not defined") }
        stack.append(item)
      case 0x30: _ = try pop()  // POP
      case 0x31: _ = try popMark()  // POP_MARK
      case 0x32:  // DUP
        guard let top = stack.last else { throw fail("stack underflow") }
        stack.append(top)
      case 0x63:  // GLOBAL (text): module \n name \n
        let module = try line(), name = try line()
        stack.append(.global(try allowed(module, name)))
      case 0x93:  // STACK_GLOBAL
        let name = try popValue(), module = try popValue()
        guard case .string(let n) = name, case .string(let m) = module else { throw fail("STACK_GLOBAL wants two strings") }
        stack.append(.global(try allowed(m, n)))
      case 0x52: try reduce()  // REDUCE
      case 0x62: try build()  // BUILD
      default:
        throw fail(String(format: "opcode 0x%02x is not supported (only plain data and NumPy arrays are)", op))
      }
    }
  }

  func tuple(_ items: [Item]) throws(DatasetError) -> Item {
    // A tuple may hold a dtype or an array stub (BUILD states, REDUCE args); keep those as items.
    var vs: [PickleValue] = []
    vs.reserveCapacity(items.count)
    var depth = 0
    for item in items {
      switch item {
      case .dtype(let code, let little): vs.append(.string("\u{0}dtype:\(code):\(little ? "<" : ">")"))
      case .global(let g): vs.append(.string("\u{0}global:\(g)"))
      default:
        guard let (v, d) = Self.plain(item) else { throw fail("unexpected object in a tuple") }
        vs.append(v)
        depth = max(depth, d)
      }
    }
    try checkContainer(count: vs.count, depth: depth + 1)
    return .value(.tuple(vs), depth: depth + 1)
  }

  /// Appends to the list on top of the stack. The list leaves its stack slot
  /// while it grows, so its storage is not shared and grows in place.
  mutating func append(_ vs: [PickleValue], depth: Int) throws(DatasetError) {
    guard case .value(.list(var list), let listDepth)? = stack.last else { throw fail("APPEND to something that is not a list") }
    let newDepth = max(listDepth, depth)
    try checkContainer(count: list.count + vs.count, depth: newDepth)
    stack[stack.count - 1] = .mark
    list.append(contentsOf: vs)
    stack[stack.count - 1] = .value(.list(list), depth: newDepth)
  }

  /// SETITEM(S) on the dict on top of the stack, in place like `append`.
  mutating func setItems(_ kv: [PickleValue], depth: Int) throws(DatasetError) {
    guard case .dict(var b)? = stack.last else { throw fail("SETITEM on something that is not a dict") }
    stack[stack.count - 1] = .mark
    try insert(kv, into: &b, depth: depth)
    stack[stack.count - 1] = .dict(b)
  }

  /// Adds alternating keys and values; a key already present keeps its place and takes the new value (as in Python).
  func insert(_ kv: [PickleValue], into b: inout DictBuilder, depth: Int) throws(DatasetError) {
    guard kv.count % 2 == 0 else { throw fail("odd SETITEMS count") }
    b.depth = max(b.depth, depth)
    try checkContainer(count: b.pairs.count, depth: b.depth)
    for i in stride(from: 0, to: kv.count, by: 2) {
      let k = try key(kv[i])
      if let j = b.slots[k] {
        b.pairs[j].value = kv[i + 1]
      } else {
        try checkContainer(count: b.pairs.count + 1, depth: b.depth)
        b.slots[k] = b.pairs.count
        b.pairs.append(.init(key: kv[i], value: kv[i + 1]))
      }
    }
  }

  func key(_ v: PickleValue) throws(DatasetError) -> Key {
    switch v {
    case .none: return .null
    case .bool(let b): return .bool(b)
    case .int(let i): return .int(i)
    case .float(let f): return .float(f)
    case .string(let s) where s.utf8.count <= DatasetLimits.pickleKeyBytes: return .string(s)
    case .bytes(let b) where b.count <= DatasetLimits.pickleKeyBytes: return .bytes(b)
    default: throw fail("dict keys must be numbers or strings of at most \(DatasetLimits.pickleKeyBytes) bytes")
    }
  }

  func allowed(_ module: String, _ name: String) throws(DatasetError) -> String {
    let g = module + "." + name
    let ok = ["numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct", "numpy.ndarray", "numpy.dtype", "_codecs.encode"]
    guard ok.contains(g) else { throw fail("global \(g) is not allowed (only NumPy array reconstruction is)") }
    return g.hasSuffix("_reconstruct") ? "reconstruct" : g
  }

  mutating func reduce() throws(DatasetError) {
    let args = try popValue()
    guard case .global(let f) = try pop(), case .tuple(let a) = args else { throw fail("REDUCE wants a global and a tuple") }
    switch f {
    case "reconstruct": stack.append(.arrayStub)
    case "numpy.dtype":
      // A str in Python 3 pickles; a py2 str (our .bytes) in Python 2 ones.
      let code: String
      switch a.first {
      case .string(let s)?: code = s
      case .bytes(let b)?: code = String(decoding: b, as: UTF8.self)
      default: throw fail("dtype wants a type code")
      }
      stack.append(.dtype(code, littleEndian: true))
    case "_codecs.encode":
      guard case .string(let s)? = a.first else { throw fail("_codecs.encode wants a string") }
      // Python 3's protocol-2 bytes: a latin-1 str, code points 0…255.
      try spend(s.utf8.count)
      var out: [UInt8] = []
      out.reserveCapacity(s.utf8.count)
      for u in s.unicodeScalars {
        guard u.value < 256 else { throw fail("non-latin-1 character in encoded bytes") }
        out.append(UInt8(u.value))
      }
      push(.bytes(out))
    default: throw fail("cannot call \(f)")
    }
  }

  mutating func build() throws(DatasetError) {
    let state = try popValue()
    let target = try pop()
    switch target {
    case .dtype(let code, _):
      // State (3, '<', None, None, None, -1, -1, 0): the byte order.
      var little = true
      if case .tuple(let t) = state, t.count > 1 {
        if case .string(let order) = t[1] { little = order != ">" }
        if case .bytes(let order) = t[1] { little = order != [0x3E] }
      }
      stack.append(.dtype(code, littleEndian: little))
    case .arrayStub:
      // State (version, shape, dtype, is_fortran, raw data).
      guard case .tuple(let t) = state, t.count == 5, case .tuple(let shapeItems) = t[1], case .string(let dt) = t[2] else {
        throw fail("unexpected ndarray state")
      }
      var shape: [Int] = []
      for s in shapeItems {
        guard case .int(let n) = s, n >= 0 else { throw fail("bad array shape") }
        shape.append(n)
      }
      let parts = dt.split(separator: ":")
      guard parts.count == 3, parts[0] == "\u{0}dtype" else { throw fail("array without a dtype") }
      var raw: [UInt8]
      switch t[4] {
      case .bytes(let b): raw = b
      case .string(let s): raw = s.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }  // py2 str read as latin-1
      default: throw fail("array data is neither bytes nor a string")
      }
      var fortran = false
      if case .bool(let f) = t[3] { fortran = f } else if case .int(let f) = t[3] { fortran = f != 0 }
      let values = try decodeArray(raw, code: String(parts[1]), little: parts[2] == "<", shape: shape, fortran: fortran)
      push(.array(shape: shape, values: values))
    default: throw fail("BUILD on an object this reader does not know")
    }
  }

  mutating func decodeArray(_ raw: [UInt8], code: String, little: Bool, shape: [Int], fortran: Bool) throws(DatasetError) -> [Double] {
    var count = 1
    for s in shape {
      let (p, o) = count.multipliedReportingOverflow(by: s)
      guard !o, p <= raw.count + 1 else { throw fail("array shape \(shape) exceeds its data") }
      count = p
    }
    let size: Int
    switch code {
    case "f8", "i8", "u8": size = 8
    case "f4", "i4", "u4": size = 4
    case "f2", "i2", "u2": size = 2
    case "i1", "u1", "b1": size = 1
    default: throw fail("dtype \(code) is not supported")
    }
    guard raw.count == count * size else { throw fail("array data has \(raw.count) bytes, shape \(shape) of \(code) needs \(count * size)") }
    try spend(8 * count)
    var out = [Double](repeating: 0, count: count)
    for i in 0..<count {
      var v: UInt64 = 0
      for k in 0..<size { v |= UInt64(raw[i * size + (little ? k : size - 1 - k)]) << (8 * UInt64(k)) }
      switch code {
      case "f8": out[i] = Double(bitPattern: v)
      case "f4": out[i] = Double(Float(bitPattern: UInt32(v)))
      case "f2": out[i] = Double(Float(Float16(bitPattern: UInt16(v))))
      case "i8": out[i] = Double(Int64(bitPattern: v))
      case "i4": out[i] = Double(Int32(truncatingIfNeeded: v))
      case "i2": out[i] = Double(Int16(truncatingIfNeeded: v))
      case "i1": out[i] = Double(Int8(truncatingIfNeeded: v))
      default: out[i] = Double(v)
      }
    }
    guard fortran, shape.count > 1 else { return out }
    // Column-major to row-major.
    var c = [Double](repeating: 0, count: count)
    let strides = shape.indices.map { shape[..<$0].reduce(1, *) }
    for flat in 0..<count {
      var rem = flat, src = 0
      for d in (0..<shape.count).reversed() {
        src += (rem % shape[d]) * strides[d]
        rem /= shape[d]
      }
      c[flat] = out[src]
    }
    return c
  }

  /// A Python 2 `repr` of a str (protocol 0's STRING), back to its bytes.
  func unrepr(_ text: String) throws(DatasetError) -> [UInt8] {
    var s = Array(text.utf8)
    guard s.count >= 2, let q = s.first, q == s.last, q == 0x27 || q == 0x22 else { throw fail("STRING is not quoted") }
    s = Array(s[1..<(s.count - 1)])
    var out: [UInt8] = []
    var i = 0
    while i < s.count {
      if s[i] != 0x5C { out.append(s[i]); i += 1; continue }
      guard i + 1 < s.count else { throw fail("dangling escape in STRING") }
      let c = s[i + 1]
      i += 2
      switch c {
      case 0x6E: out.append(0x0A)
      case 0x74: out.append(0x09)
      case 0x72: out.append(0x0D)
      case 0x30...0x37:  // octal \ooo
        var v = Int(c - 0x30)
        var n = 1
        while n < 3, i < s.count, (0x30...0x37).contains(s[i]) { v = v * 8 + Int(s[i] - 0x30); i += 1; n += 1 }
        out.append(UInt8(truncatingIfNeeded: v))
      case 0x78:  // \xhh
        guard i + 2 <= s.count, let v = UInt8(String(decoding: s[i..<(i + 2)], as: UTF8.self), radix: 16) else { throw fail("bad \\x escape") }
        out.append(v)
        i += 2
      case 0x61: out.append(0x07)
      case 0x62: out.append(0x08)
      case 0x66: out.append(0x0C)
      case 0x76: out.append(0x0B)
      default: out.append(c)  // \\ \' \"
      }
    }
    return out
  }

  func rawUnicodeEscape(_ text: String) throws(DatasetError) -> String {
    var out = ""
    var it = Array(text.unicodeScalars)[...]
    while let c = it.popFirst() {
      if c == "\\", let n = it.first, n == "u" || n == "U" {
        it.removeFirst()
        let len = n == "u" ? 4 : 8
        guard it.count >= len, let v = UInt32(String(String.UnicodeScalarView(it.prefix(len))), radix: 16), let u = Unicode.Scalar(v) else {
          throw fail("bad unicode escape")
        }
        out.unicodeScalars.append(u)
        it.removeFirst(len)
      } else {
        out.unicodeScalars.append(c)
      }
    }
    return out
  }
}
