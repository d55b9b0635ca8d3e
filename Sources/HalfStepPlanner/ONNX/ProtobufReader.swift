/// Protocol Buffers wire format, read directly: varint, 64-bit, length-delimited and 32-bit fields.
///
/// Written here because the project takes no dependencies and ONNX needs only the wire layer.
/// Every read is bounds-checked against the message's end and every error carries the absolute
/// byte offset, so a truncated or corrupted model is reported, never trusted.
public struct ProtobufReader {
    /// Wire types (encoding.md, "Message Structure").
    public enum WireType: Int, Sendable {
        case varint = 0, fixed64 = 1, lengthDelimited = 2, fixed32 = 5
    }

    /// The whole file; readers of nested messages share it.
    public let bytes: [UInt8]
    /// Next byte to read (absolute).
    public private(set) var offset: Int
    /// One past the last byte of this message (absolute).
    public let end: Int
    /// The file, for messages.
    public let path: String

    /// A reader over `bytes[range]`.
    public init(bytes: [UInt8], range: Range<Int>? = nil, path: String) {
        self.bytes = bytes
        let r = range ?? 0 ..< bytes.count
        offset = r.lowerBound
        end = r.upperBound
        self.path = path
    }

    /// True when the message has no more fields.
    public var atEnd: Bool { offset >= end }

    /// Reads a base-128 varint (at most 10 bytes).
    public mutating func varint() throws(ONNXError) -> UInt64 {
        let start = offset
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < end else { throw .truncated(path: path, offset: start, expected: "the rest of a varint") }
            let byte = bytes[offset]
            offset += 1
            if shift == 63 && byte > 1 { throw .malformed(path: path, offset: start, detail: "varint overflows 64 bits") }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw .malformed(path: path, offset: start, detail: "varint longer than 10 bytes") }
        }
    }

    /// Reads a field key: nil at the end of the message.
    public mutating func tag() throws(ONNXError) -> (field: Int, wire: WireType, offset: Int)? {
        guard !atEnd else { return nil }
        let at = offset
        let key = try varint()
        let field = key >> 3
        guard let wire = WireType(rawValue: Int(key & 7)) else {
            throw .malformed(path: path, offset: at, detail: "wire type \(key & 7) (groups or unknown) in field \(field)")
        }
        guard field >= 1 && field < (1 << 29) else { throw .malformed(path: path, offset: at, detail: "field number \(field)") }
        return (Int(field), wire, at)
    }

    /// Reads a length prefix and returns the byte range it covers, advancing past it.
    public mutating func lengthDelimited() throws(ONNXError) -> Range<Int> {
        let at = offset
        let length = try varint()
        guard length <= UInt64(end - offset) else {
            throw .truncated(path: path, offset: at, expected: "\(length) bytes of a length-delimited field, \(end - offset) remain")
        }
        let range = offset ..< offset + Int(length)
        offset = range.upperBound
        return range
    }

    public mutating func fixed32() throws(ONNXError) -> UInt32 {
        guard end - offset >= 4 else { throw .truncated(path: path, offset: offset, expected: "4 bytes of a 32-bit field") }
        var v: UInt32 = 0
        for i in 0 ..< 4 { v |= UInt32(bytes[offset + i]) << (8 * UInt32(i)) }
        offset += 4
        return v
    }

    public mutating func fixed64() throws(ONNXError) -> UInt64 {
        guard end - offset >= 8 else { throw .truncated(path: path, offset: offset, expected: "8 bytes of a 64-bit field") }
        var v: UInt64 = 0
        for i in 0 ..< 8 { v |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
        offset += 8
        return v
    }

    /// Skips a field's value.
    public mutating func skip(_ wire: WireType) throws(ONNXError) {
        switch wire {
        case .varint: _ = try varint()
        case .fixed64: _ = try fixed64()
        case .lengthDelimited: _ = try lengthDelimited()
        case .fixed32: _ = try fixed32()
        }
    }

    /// A reader for a nested message occupying `range`.
    public func message(_ range: Range<Int>) -> ProtobufReader {
        ProtobufReader(bytes: bytes, range: range, path: path)
    }

    /// The UTF-8 string in `range` (invalid UTF-8 is repaired, never trusted).
    public func string(_ range: Range<Int>) -> String {
        String(decoding: bytes[range], as: UTF8.self)
    }

    /// Checks that a field has the wire type the schema gives it.
    public func expect(_ wire: WireType, _ wanted: WireType, field: Int, at: Int, in message: String) throws(ONNXError) {
        if wire != wanted {
            throw .malformed(path: path, offset: at, detail: "\(message) field \(field) has wire type \(wire.rawValue), expected \(wanted.rawValue)")
        }
    }

    /// Reads a repeated integer field that may be packed or not, appending to `values`.
    public mutating func repeatedVarint(_ wire: WireType, into values: inout [Int64], field: Int, at: Int, in message: String) throws(ONNXError) {
        if wire == .lengthDelimited {
            var packed = self.message(try lengthDelimited())
            while !packed.atEnd { values.append(Int64(bitPattern: try packed.varint())) }
        } else {
            try expect(wire, .varint, field: field, at: at, in: message)
            values.append(Int64(bitPattern: try varint()))
        }
    }

    /// Reads a repeated float field that may be packed or not, appending to `values`.
    public mutating func repeatedFloat(_ wire: WireType, into values: inout [Float], field: Int, at: Int, in message: String) throws(ONNXError) {
        if wire == .lengthDelimited {
            let range = try lengthDelimited()
            guard range.count % 4 == 0 else {
                throw .malformed(path: path, offset: range.lowerBound, detail: "packed floats of \(range.count) bytes (not a multiple of 4)")
            }
            var packed = self.message(range)
            while !packed.atEnd { values.append(Float(bitPattern: try packed.fixed32())) }
        } else {
            try expect(wire, .fixed32, field: field, at: at, in: message)
            values.append(Float(bitPattern: try fixed32()))
        }
    }
}
