import Foundation

/// Reads an ONNX file (ModelProto) through `ProtobufReader`. Field numbers are onnx.proto's.
public enum ONNXReader {
    /// Reads the model at `path`; external data is resolved beside it.
    public static func read(path: String) throws(ONNXError) -> ONNXModel {
        guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable(path: path) }
        let directory = (path as NSString).deletingLastPathComponent
        return try parse(bytes: [UInt8](data), path: path, baseDirectory: directory.isEmpty ? "." : directory)
    }

    /// Parses model bytes. `baseDirectory` is where external data files are looked for (nil: refuse them).
    public static func parse(bytes: [UInt8], path: String, baseDirectory: String?) throws(ONNXError) -> ONNXModel {
        var r = ProtobufReader(bytes: bytes, path: path)
        var ir: Int64 = 0, opset: Int?, producer = ""
        var graphRange: Range<Int>?
        while let (field, wire, at) = try r.tag() {
            switch field {
            case 1:
                try r.expect(wire, .varint, field: field, at: at, in: "ModelProto")
                ir = Int64(bitPattern: try r.varint())
            case 2:
                try r.expect(wire, .lengthDelimited, field: field, at: at, in: "ModelProto")
                producer = r.string(try r.lengthDelimited())
            case 7:
                try r.expect(wire, .lengthDelimited, field: field, at: at, in: "ModelProto")
                graphRange = try r.lengthDelimited()
            case 8:
                try r.expect(wire, .lengthDelimited, field: field, at: at, in: "ModelProto")
                var o = r.message(try r.lengthDelimited())
                var domain = "", version: Int64 = 0
                while let (f, w, a) = try o.tag() {
                    switch f {
                    case 1:
                        try o.expect(w, .lengthDelimited, field: f, at: a, in: "OperatorSetIdProto")
                        domain = o.string(try o.lengthDelimited())
                    case 2:
                        try o.expect(w, .varint, field: f, at: a, in: "OperatorSetIdProto")
                        version = Int64(bitPattern: try o.varint())
                    default: try o.skip(w)
                    }
                }
                if domain == "" || domain == "ai.onnx" { opset = Int(clamping: version) }
            default:
                try r.skip(wire)
            }
        }
        guard let graphRange else { throw .missing(path: path, what: "graph (ModelProto field 7)") }
        guard let opset else { throw .missing(path: path, what: "default-domain opset_import (ModelProto field 8)") }
        var context = Context(path: path, baseDirectory: baseDirectory)
        let graph = try context.graph(r.message(graphRange))
        return ONNXModel(irVersion: ir, opsetVersion: opset, producerName: producer, graph: graph, path: path,
                         bytes: bytes, graphRange: graphRange)
    }

    struct Context {
        let path: String
        let baseDirectory: String?
        var externalFiles: [String: [UInt8]] = [:]

        mutating func graph(_ reader: ProtobufReader) throws(ONNXError) -> ONNXGraph {
            var r = reader
            var g = ONNXGraph(name: "", nodes: [], initializers: [], inputs: [], outputs: [])
            while let (field, wire, at) = try r.tag() {
                switch field {
                case 1:
                    try r.expect(wire, .lengthDelimited, field: field, at: at, in: "GraphProto")
                    g.nodes.append(try node(r.message(try r.lengthDelimited())))
                case 2:
                    try r.expect(wire, .lengthDelimited, field: field, at: at, in: "GraphProto")
                    g.name = r.string(try r.lengthDelimited())
                case 5:
                    try r.expect(wire, .lengthDelimited, field: field, at: at, in: "GraphProto")
                    g.initializers.append(try tensor(r.message(try r.lengthDelimited())))
                case 11, 12:
                    try r.expect(wire, .lengthDelimited, field: field, at: at, in: "GraphProto")
                    let info = try valueInfo(r.message(try r.lengthDelimited()))
                    if field == 11 { g.inputs.append(info) } else { g.outputs.append(info) }
                case 15:
                    throw .graph(path: path, detail: "sparse initializers (GraphProto field 15, byte \(at)) are not supported")
                default:
                    try r.skip(wire)
                }
            }
            return g
        }

        mutating func node(_ reader: ProtobufReader) throws(ONNXError) -> ONNXNode {
            var r = reader
            var n = ONNXNode(name: "", opType: "", domain: "", inputs: [], outputs: [], attributes: [:])
            while let (field, wire, at) = try r.tag() {
                switch field {
                case 1, 2, 3, 4, 7:
                    try r.expect(wire, .lengthDelimited, field: field, at: at, in: "NodeProto")
                    let s = r.string(try r.lengthDelimited())
                    switch field {
                    case 1: n.inputs.append(s)
                    case 2: n.outputs.append(s)
                    case 3: n.name = s
                    case 4: n.opType = s
                    default: n.domain = s
                    }
                case 5:
                    try r.expect(wire, .lengthDelimited, field: field, at: at, in: "NodeProto")
                    let a = try attribute(r.message(try r.lengthDelimited()))
                    n.attributes[a.name] = a
                default:
                    try r.skip(wire)
                }
            }
            return n
        }

        mutating func attribute(_ reader: ProtobufReader) throws(ONNXError) -> ONNXAttribute {
            var r = reader
            var a = ONNXAttribute(name: "")
            while let (field, wire, at) = try r.tag() {
                switch field {
                case 1:
                    try r.expect(wire, .lengthDelimited, field: field, at: at, in: "AttributeProto")
                    a.name = r.string(try r.lengthDelimited())
                case 2:
                    try r.expect(wire, .fixed32, field: field, at: at, in: "AttributeProto")
                    a.float = Float(bitPattern: try r.fixed32())
                case 3:
                    try r.expect(wire, .varint, field: field, at: at, in: "AttributeProto")
                    a.int = Int64(bitPattern: try r.varint())
                case 4:
                    try r.expect(wire, .lengthDelimited, field: field, at: at, in: "AttributeProto")
                    a.string = r.string(try r.lengthDelimited())
                case 5:
                    try r.expect(wire, .lengthDelimited, field: field, at: at, in: "AttributeProto")
                    a.tensor = try tensor(r.message(try r.lengthDelimited()))
                case 6, 11:
                    throw .graph(path: path, detail: "attribute at byte \(at) holds a subgraph (control flow is not supported)")
                case 7:
                    try r.repeatedFloat(wire, into: &a.floats, field: field, at: at, in: "AttributeProto")
                case 8:
                    try r.repeatedVarint(wire, into: &a.ints, field: field, at: at, in: "AttributeProto")
                default:
                    try r.skip(wire)
                }
            }
            return a
        }

        func valueInfo(_ reader: ProtobufReader) throws(ONNXError) -> ONNXValueInfo {
            var r = reader
            var v = ONNXValueInfo(name: "", elemType: 0, dims: nil)
            while let (field, wire, at) = try r.tag() {
                switch field {
                case 1:
                    try r.expect(wire, .lengthDelimited, field: field, at: at, in: "ValueInfoProto")
                    v.name = r.string(try r.lengthDelimited())
                case 2:
                    try r.expect(wire, .lengthDelimited, field: field, at: at, in: "ValueInfoProto")
                    var t = r.message(try r.lengthDelimited())
                    while let (f, w, a) = try t.tag() {
                        guard f == 1 else { try t.skip(w); continue }    // TypeProto.tensor_type
                        try t.expect(w, .lengthDelimited, field: f, at: a, in: "TypeProto")
                        var tt = t.message(try t.lengthDelimited())
                        while let (f2, w2, a2) = try tt.tag() {
                            switch f2 {
                            case 1:
                                try tt.expect(w2, .varint, field: f2, at: a2, in: "TypeProto.Tensor")
                                v.elemType = Int(truncatingIfNeeded: try tt.varint())
                            case 2:
                                try tt.expect(w2, .lengthDelimited, field: f2, at: a2, in: "TypeProto.Tensor")
                                var shape = tt.message(try tt.lengthDelimited())
                                var dims: [ONNXValueInfo.Dim] = []
                                while let (f3, w3, a3) = try shape.tag() {
                                    guard f3 == 1 else { try shape.skip(w3); continue }
                                    try shape.expect(w3, .lengthDelimited, field: f3, at: a3, in: "TensorShapeProto")
                                    var d = shape.message(try shape.lengthDelimited())
                                    var dim = ONNXValueInfo.Dim.unknown
                                    while let (f4, w4, a4) = try d.tag() {
                                        switch f4 {
                                        case 1:
                                            try d.expect(w4, .varint, field: f4, at: a4, in: "Dimension")
                                            dim = .value(Int(truncatingIfNeeded: Int64(bitPattern: try d.varint())))
                                        case 2:
                                            try d.expect(w4, .lengthDelimited, field: f4, at: a4, in: "Dimension")
                                            dim = .symbol(d.string(try d.lengthDelimited()))
                                        default: try d.skip(w4)
                                        }
                                    }
                                    dims.append(dim)
                                }
                                v.dims = dims
                            default: try tt.skip(w2)
                            }
                        }
                    }
                default:
                    try r.skip(wire)
                }
            }
            return v
        }

        mutating func tensor(_ reader: ProtobufReader) throws(ONNXError) -> ONNXTensor {
            var r = reader
            let start = reader.offset
            var dims: [Int64] = [], dataType = 0, name = ""
            var floatData: [Float] = [], int32Data: [Int64] = [], int64Data: [Int64] = []
            var raw: Range<Int>?
            var externalEntries: [String: String] = [:]
            var location = 0
            while let (field, wire, at) = try r.tag() {
                switch field {
                case 1: try r.repeatedVarint(wire, into: &dims, field: field, at: at, in: "TensorProto")
                case 2:
                    try r.expect(wire, .varint, field: field, at: at, in: "TensorProto")
                    dataType = Int(truncatingIfNeeded: try r.varint())
                case 4: try r.repeatedFloat(wire, into: &floatData, field: field, at: at, in: "TensorProto")
                case 5: try r.repeatedVarint(wire, into: &int32Data, field: field, at: at, in: "TensorProto")
                case 7: try r.repeatedVarint(wire, into: &int64Data, field: field, at: at, in: "TensorProto")
                case 8:
                    try r.expect(wire, .lengthDelimited, field: field, at: at, in: "TensorProto")
                    name = r.string(try r.lengthDelimited())
                case 9:
                    try r.expect(wire, .lengthDelimited, field: field, at: at, in: "TensorProto")
                    raw = try r.lengthDelimited()
                case 13:
                    try r.expect(wire, .lengthDelimited, field: field, at: at, in: "TensorProto")
                    var e = r.message(try r.lengthDelimited())
                    var key = "", value = ""
                    while let (f, w, a) = try e.tag() {
                        try e.expect(w, .lengthDelimited, field: f, at: a, in: "StringStringEntryProto")
                        let s = e.string(try e.lengthDelimited())
                        if f == 1 { key = s } else if f == 2 { value = s }
                    }
                    externalEntries[key] = value
                case 14:
                    try r.expect(wire, .varint, field: field, at: at, in: "TensorProto")
                    location = Int(truncatingIfNeeded: try r.varint())
                default:
                    try r.skip(wire)
                }
            }
            var count = 1
            for d in dims {
                guard d >= 0, d < Int64(Int32.max) else {
                    throw .malformed(path: path, offset: start, detail: "tensor '\(name)' has dimension \(d)")
                }
                let (c, o) = count.multipliedReportingOverflow(by: Int(d))
                guard !o, c <= reader.bytes.count * 8 + 1 << 26 else {
                    throw .malformed(path: path, offset: start, detail: "tensor '\(name)' claims \(dims) elements")
                }
                count = c
            }
            var rawBytes: ArraySlice<UInt8>? = raw.map { reader.bytes[$0] }
            var external = false
            if location == 1 {
                rawBytes = try externalData(externalEntries, tensor: name)
                external = true
            }
            var t = ONNXTensor(name: name, dims: dims.map { Int($0) }, dataType: dataType, floats: nil, ints: nil, external: external)
            func width(_ w: Int) throws(ONNXError) -> ArraySlice<UInt8>? {
                guard let b = rawBytes else { return nil }
                guard b.count == count * w else {
                    throw .malformed(path: path, offset: raw?.lowerBound ?? start,
                                     detail: "tensor '\(name)' has \(b.count) data bytes, its shape \(dims) needs \(count * w)")
                }
                return b
            }
            switch dataType {
            case 1:
                if let b = try width(4) {
                    t.floats = stride(from: b.startIndex, to: b.endIndex, by: 4).map { Float(bitPattern: le32(b, $0)) }
                } else {
                    guard floatData.count == count else { throw countError(name, floatData.count, count, start) }
                    t.floats = floatData
                }
            case 10:
                if let b = try width(2) {
                    t.floats = stride(from: b.startIndex, to: b.endIndex, by: 2).map {
                        Float(Float16(bitPattern: UInt16(b[$0]) | UInt16(b[$0 + 1]) << 8))
                    }
                } else {
                    guard int32Data.count == count else { throw countError(name, int32Data.count, count, start) }
                    t.floats = int32Data.map { Float(Float16(bitPattern: UInt16(truncatingIfNeeded: $0))) }
                }
            case 7:
                if let b = try width(8) {
                    t.ints = stride(from: b.startIndex, to: b.endIndex, by: 8).map {
                        Int64(bitPattern: UInt64(le32(b, $0)) | UInt64(le32(b, $0 + 4)) << 32)
                    }
                } else {
                    guard int64Data.count == count else { throw countError(name, int64Data.count, count, start) }
                    t.ints = int64Data
                }
            case 6:
                if let b = try width(4) {
                    t.ints = stride(from: b.startIndex, to: b.endIndex, by: 4).map { Int64(Int32(bitPattern: le32(b, $0))) }
                } else {
                    guard int32Data.count == count else { throw countError(name, int32Data.count, count, start) }
                    t.ints = int32Data.map { Int64(Int32(truncatingIfNeeded: $0)) }
                }
            default:
                break   // other types are refused where a value is actually needed
            }
            return t
        }

        func countError(_ name: String, _ found: Int, _ expected: Int, _ at: Int) -> ONNXError {
            .malformed(path: path, offset: at, detail: "tensor '\(name)' holds \(found) values, its shape needs \(expected)")
        }

        mutating func externalData(_ entries: [String: String], tensor: String) throws(ONNXError) -> ArraySlice<UInt8> {
            guard let location = entries["location"], !location.isEmpty else {
                throw .externalData(path: path, tensor: tensor, detail: "no 'location' entry")
            }
            guard let base = baseDirectory else {
                throw .externalData(path: path, tensor: tensor, detail: "the model was not read from a file, so '\(location)' cannot be resolved")
            }
            if location.hasPrefix("/") || location.split(separator: "/").contains("..") {
                throw .externalData(path: path, tensor: tensor, detail: "location '\(location)' leaves the model's directory")
            }
            let file = base + "/" + location
            if externalFiles[file] == nil {
                guard let data = FileManager.default.contents(atPath: file) else {
                    throw .externalData(path: path, tensor: tensor, detail: "cannot read '\(file)' (it must sit beside the model)")
                }
                externalFiles[file] = [UInt8](data)
            }
            let data = externalFiles[file]!
            let offset = Int(entries["offset"] ?? "0") ?? -1
            let length = entries["length"].map { Int($0) ?? -1 } ?? (data.count - max(offset, 0))
            guard offset >= 0, length >= 0, offset <= data.count, length <= data.count - offset else {
                throw .externalData(path: path, tensor: tensor, detail: "offset \(entries["offset"] ?? "0") length \(entries["length"] ?? "-") is outside '\(location)' (\(data.count) bytes)")
            }
            return data[offset ..< offset + length]
        }
    }
}

func le32(_ b: ArraySlice<UInt8>, _ i: Int) -> UInt32 {
    UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
}
