/// Why an ONNX model could not be read, imported or exported. Every case renders one line that
/// names the file and the byte offset (wire-level problems) or the node and operator (graph-level
/// problems), and what was expected.
public enum ONNXError: Error, Equatable, CustomStringConvertible {
    case unreadable(path: String)
    case unwritable(path: String)
    /// The file ends inside a field.
    case truncated(path: String, offset: Int, expected: String)
    /// A field's encoding is impossible (overlong varint, unknown wire type, length past the end).
    case malformed(path: String, offset: Int, detail: String)
    /// A required part of the model is missing.
    case missing(path: String, what: String)
    case unsupportedOpset(path: String, found: Int, accepted: ClosedRange<Int>)
    case unsupportedOperator(path: String, op: String, node: String, supported: [String])
    /// A node uses a supported operator in a way HalfStep cannot (attribute, operand kind, shape).
    case unsupportedUse(path: String, op: String, node: String, detail: String)
    case unsupportedDataType(path: String, tensor: String, dataType: Int)
    case externalData(path: String, tensor: String, detail: String)
    case shapeMismatch(path: String, node: String, detail: String)
    case undefinedValue(path: String, node: String, value: String)
    case graph(path: String, detail: String)

    public var description: String {
        switch self {
        case .unreadable(let p): return "\(p): cannot read the file (does it exist?)"
        case .unwritable(let p): return "\(p): cannot write the file"
        case .truncated(let p, let offset, let expected): return "\(p): truncated at byte \(offset): expected \(expected)"
        case .malformed(let p, let offset, let detail): return "\(p): malformed protobuf at byte \(offset): \(detail)"
        case .missing(let p, let what): return "\(p): the model has no \(what)"
        case .unsupportedOpset(let p, let found, let accepted):
            return "\(p): default-domain opset \(found) is not supported; accepted: \(accepted.lowerBound)...\(accepted.upperBound) (re-export with opset_version in that range)"
        case .unsupportedOperator(let p, let op, let node, let supported):
            return "\(p): node '\(node)' uses operator \(op), which HalfStep does not support; supported operators: \(supported.joined(separator: ", "))"
        case .unsupportedUse(let p, let op, let node, let detail): return "\(p): node '\(node)' (\(op)): \(detail)"
        case .unsupportedDataType(let p, let tensor, let t):
            return "\(p): tensor '\(tensor)' has ONNX data type \(t) (\(onnxTypeName(t))); weights must be FLOAT (1) or FLOAT16 (10)"
        case .externalData(let p, let tensor, let detail): return "\(p): external data of tensor '\(tensor)': \(detail)"
        case .shapeMismatch(let p, let node, let detail): return "\(p): node '\(node)': \(detail)"
        case .undefinedValue(let p, let node, let value): return "\(p): node '\(node)' reads '\(value)', which no earlier node, initializer or input defines"
        case .graph(let p, let detail): return "\(p): \(detail)"
        }
    }
}

func onnxTypeName(_ t: Int) -> String {
    let names = [0: "UNDEFINED", 1: "FLOAT", 2: "UINT8", 3: "INT8", 4: "UINT16", 5: "INT16", 6: "INT32", 7: "INT64", 8: "STRING",
                 9: "BOOL", 10: "FLOAT16", 11: "DOUBLE", 12: "UINT32", 13: "UINT64", 16: "BFLOAT16"]
    return names[t] ?? "type \(t)"
}
