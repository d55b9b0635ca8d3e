/// Protocol Buffers wire format, written: just what re-encoding an ONNX model needs.
public struct ProtobufWriter {
    /// The encoded bytes so far.
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    public mutating func tag(_ field: Int, _ wire: ProtobufReader.WireType) {
        varint(UInt64(field) << 3 | UInt64(wire.rawValue))
    }

    /// A varint field.
    public mutating func field(_ field: Int, varint value: Int64) {
        tag(field, .varint)
        varint(UInt64(bitPattern: value))
    }

    /// A length-delimited field (bytes, string or nested message).
    public mutating func field<C: Collection>(_ field: Int, bytes value: C) where C.Element == UInt8 {
        tag(field, .lengthDelimited)
        varint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    public mutating func field(_ field: Int, string value: String) {
        self.field(field, bytes: Array(value.utf8))
    }

    /// A 32-bit field.
    public mutating func field(_ field: Int, fixed32 value: UInt32) {
        tag(field, .fixed32)
        for i in 0 ..< 4 { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt32(i)))) }
    }

    /// Bytes copied verbatim (an unchanged field of the original file).
    public mutating func raw<C: Collection>(_ value: C) where C.Element == UInt8 {
        bytes.append(contentsOf: value)
    }
}
