import Foundation
import Testing
import HalfStepTestSupport
@testable import HalfStepPlanner

/// Damaged and hostile ONNX input: always an error with a place, never a crash.
struct ONNXMalformedTests {
    /// A small valid model built with our own writer: Gemm(transB=1) → Relu, opset 17.
    static func smallModel(opset: Int64 = 17, op: String = "Relu", externalLocation: String? = nil) -> [UInt8] {
        var w = ProtobufWriter()
        func tensor(_ name: String, dims: [Int], values: [Float]) -> [UInt8] {
            var t = ProtobufWriter()
            for d in dims { t.field(1, varint: Int64(d)) }
            t.field(2, varint: 1)
            t.field(8, string: name)
            if let loc = externalLocation {
                var e = ProtobufWriter(); e.field(1, string: "location"); e.field(2, string: loc)
                t.field(13, bytes: e.bytes)
                t.field(14, varint: 1)
            } else {
                t.field(9, bytes: values.flatMap { v in (0 ..< 4).map { UInt8(truncatingIfNeeded: v.bitPattern >> (8 * UInt32($0))) } })
            }
            return t.bytes
        }
        func valueInfo(_ name: String, _ dims: [Int?]) -> [UInt8] {
            var shape = ProtobufWriter()
            for d in dims {
                var dim = ProtobufWriter()
                if let d { dim.field(1, varint: Int64(d)) } else { dim.field(2, string: "batch") }
                shape.field(1, bytes: dim.bytes)
            }
            var tt = ProtobufWriter(); tt.field(1, varint: 1); tt.field(2, bytes: shape.bytes)
            var type = ProtobufWriter(); type.field(1, bytes: tt.bytes)
            var v = ProtobufWriter(); v.field(1, string: name); v.field(2, bytes: type.bytes)
            return v.bytes
        }
        var gemm = ProtobufWriter()
        gemm.field(1, string: "x"); gemm.field(1, string: "W"); gemm.field(1, string: "b")
        gemm.field(2, string: "h"); gemm.field(3, string: "fc"); gemm.field(4, string: "Gemm")
        var attr = ProtobufWriter(); attr.field(1, string: "transB"); attr.field(3, varint: 1); attr.field(20, varint: 2)
        gemm.field(5, bytes: attr.bytes)
        var act = ProtobufWriter()
        act.field(1, string: "h"); act.field(2, string: "y"); act.field(3, string: "act"); act.field(4, string: op)
        var g = ProtobufWriter()
        g.field(1, bytes: gemm.bytes)
        g.field(1, bytes: act.bytes)
        g.field(2, string: "small")
        g.field(5, bytes: tensor("W", dims: [3, 4], values: (0 ..< 12).map { Float($0) / 10 }))
        g.field(5, bytes: tensor("b", dims: [3], values: [0.1, 0.2, 0.3]))
        g.field(11, bytes: valueInfo("x", [nil, 4]))
        g.field(12, bytes: valueInfo("y", [nil, 3]))
        var opsetId = ProtobufWriter(); opsetId.field(1, string: ""); opsetId.field(2, varint: opset)
        w.field(1, varint: 8)
        w.field(2, string: "halfstep-tests")
        w.field(7, bytes: g.bytes)
        w.field(8, bytes: opsetId.bytes)
        return w.bytes
    }

    func importBytes(_ bytes: [UInt8], base: String? = nil) throws -> Graph {
        try ONNXImporter.importGraph(ONNXReader.parse(bytes: bytes, path: "small.onnx", baseDirectory: base))
    }

    @Test("the hand-built model imports")
    func smallModelImports() throws {
        let g = try importBytes(Self.smallModel())
        #expect(g.parameters.map(\.shape) == [[3, 4], [3]])
        #expect(g.nodes.count == 2)
    }

    @Test("a model truncated at any byte is an error, never a crash")
    func truncatedEverywhere() {
        let bytes = Self.smallModel()
        for n in 0 ..< bytes.count {
            #expect(throws: ONNXError.self, "length \(n)") { _ = try importBytes(Array(bytes[..<n])) }
        }
    }

    @Test("every single flipped byte gives an error or a valid graph, never a crash")
    func flippedBytes() {
        let bytes = Self.smallModel()
        var errors = 0
        for i in 0 ..< bytes.count {
            var b = bytes
            b[i] ^= 0xFF
            if (try? importBytes(b)) == nil { errors += 1 }
        }
        #expect(errors > bytes.count / 2)
    }

    @Test("truncation errors name the byte offset")
    func truncationNamesOffset() {
        let bytes = Self.smallModel()
        expectError { _ = try importBytes(Array(bytes[..<40])) } throws: { "\($0)".contains("small.onnx: truncated at byte") }
    }

    @Test("an overlong varint is refused")
    func overlongVarint() {
        var r = ProtobufReader(bytes: [UInt8](repeating: 0xFF, count: 11) + [0x01], path: "v")
        #expect(throws: ONNXError.self) { _ = try r.varint() }
    }

    @Test("a length larger than the file is refused without allocating it")
    func hugeLength() {
        // Field 7 (graph), length-delimited, claiming 2^62 bytes.
        let bytes: [UInt8] = [0x3A, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40]
        expectError { _ = try importBytes(bytes) } throws: { "\($0)".contains("truncated") }
    }

    @Test("groups and unknown wire types are refused")
    func badWireType() {
        #expect(throws: ONNXError.self) { _ = try importBytes([0x0B, 0x0C]) }   // field 1, wire type 3
        #expect(throws: ONNXError.self) { _ = try importBytes([0x0F]) }         // wire type 7
    }

    @Test("opset 12 is refused naming the accepted range")
    func oldOpset() {
        expectError { _ = try importBytes(Self.smallModel(opset: 12)) } throws: { "\($0)".contains("opset 12") && "\($0)".contains("13...") }
    }

    @Test("an unknown operator in the small model is named with its node")
    func unknownOperator() {
        expectError { _ = try importBytes(Self.smallModel(op: "Softmax")) } throws: {
            "\($0)".contains("Softmax") && "\($0)".contains("'act'")
        }
    }

    @Test("a missing external data file is refused naming the tensor and file")
    func missingExternalData() {
        let dir = NSTemporaryDirectory()
        expectError { _ = try importBytes(Self.smallModel(externalLocation: "nothere.bin"), base: dir) } throws: {
            "\($0)".contains("nothere.bin") && "\($0)".contains("'W'")
        }
    }

    @Test("an external data location that leaves the model's directory is refused")
    func escapingExternalData() {
        expectError { _ = try importBytes(Self.smallModel(externalLocation: "../../etc/passwd"), base: "/tmp") } throws: {
            "\($0)".contains("leaves the model's directory")
        }
    }

    @Test("a file that does not exist is named")
    func missingFile() {
        expectError { _ = try ONNXReader.read(path: "/nonexistent/model.onnx") } throws: { "\($0)".contains("/nonexistent/model.onnx") }
    }
}
