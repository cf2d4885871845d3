/// Just enough of the protobuf wire format to write ONNX files: varints,
/// fixed32 floats and length-delimited fields (strings, bytes, nested messages).
///
/// ONNX is proto2, so repeated scalars are written unpacked, one tag each; every
/// protobuf parser accepts that form. Fields are written in the order they are
/// called, which the format allows.
struct ProtobufWriter {
  private(set) var bytes: [UInt8] = []

  private mutating func rawVarint(_ value: UInt64) {
    var v = value
    while v >= 0x80 {
      bytes.append(UInt8(v & 0x7F) | 0x80)
      v >>= 7
    }
    bytes.append(UInt8(v))
  }

  private mutating func tag(_ field: Int, _ wireType: UInt64) { rawVarint(UInt64(field) << 3 | wireType) }

  /// int32, int64 and enums; negative values take ten bytes, as the format says.
  mutating func int(_ field: Int, _ value: Int) {
    tag(field, 0)
    rawVarint(UInt64(bitPattern: Int64(value)))
  }

  mutating func float(_ field: Int, _ value: Float) {
    tag(field, 5)
    withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
  }

  mutating func bytes(_ field: Int, _ data: [UInt8]) {
    tag(field, 2)
    rawVarint(UInt64(data.count))
    bytes.append(contentsOf: data)
  }

  mutating func string(_ field: Int, _ text: String) { bytes(field, Array(text.utf8)) }

  /// A nested message, written by `body` into its own writer.
  mutating func message(_ field: Int, _ body: (inout ProtobufWriter) -> Void) {
    var inner = ProtobufWriter()
    body(&inner)
    bytes(field, inner.bytes)
  }
}
