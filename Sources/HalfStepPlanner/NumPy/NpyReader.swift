import Foundation

/// Reads NumPy `.npy` files (format 1.0, 2.0, 3.0): C-ordered, little-endian, five dtypes.
///
/// The header is a Python dict literal; it is parsed as one (strings, booleans, integers, tuples),
/// not matched with patterns, so a reordered or respaced header from another writer still reads.
public enum NpyReader {
    /// Reads and parses the file at `path`.
    public static func read(path: String) throws(NpyError) -> NpyArray {
        guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable(path: path) }
        return try parse(bytes: [UInt8](data), path: path)
    }

    /// Parses `.npy` bytes; `path` names the file in errors.
    public static func parse(bytes: [UInt8], path: String) throws(NpyError) -> NpyArray {
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
        guard bytes.count >= 6 else {
            if Array(bytes) == Array(magic.prefix(bytes.count)) {
                throw .truncated(path: path, offset: 0, needed: 8, available: bytes.count)
            }
            throw .badMagic(path: path)
        }
        guard Array(bytes[0 ..< 6]) == magic else { throw .badMagic(path: path) }
        guard bytes.count >= 8 else { throw .truncated(path: path, offset: 6, needed: 2, available: bytes.count - 6) }
        let major = Int(bytes[6]), minor = Int(bytes[7])
        let lengthBytes: Int
        switch major {
        case 1: lengthBytes = 2
        case 2, 3: lengthBytes = 4
        default: throw .unsupportedVersion(path: path, major: major, minor: minor)
        }
        guard bytes.count >= 8 + lengthBytes else {
            throw .truncated(path: path, offset: 8, needed: lengthBytes, available: bytes.count - 8)
        }
        var headerLength = 0
        for i in 0 ..< lengthBytes { headerLength |= Int(bytes[8 + i]) << (8 * i) }
        let headerStart = 8 + lengthBytes
        guard headerLength <= bytes.count - headerStart else {
            throw .truncated(path: path, offset: headerStart, needed: headerLength, available: bytes.count - headerStart)
        }
        let headerBytes = bytes[headerStart ..< headerStart + headerLength]
        guard let header = String(bytes: headerBytes, encoding: major == 3 ? .utf8 : .isoLatin1) else {
            throw .badHeader(path: path, detail: "header is not text")
        }
        var parser = PythonLiteralParser(text: header)
        let dict: [String: PythonLiteral]
        do throws(PythonLiteralParser.Failure) {
            dict = try parser.parseDict()
        } catch {
            throw .badHeader(path: path, detail: "\(error.message) at header character \(error.position)")
        }
        guard case .string(let descr)? = dict["descr"] else {
            throw .badHeader(path: path, detail: "no 'descr' string (the dtype)")
        }
        guard case .bool(let fortran)? = dict["fortran_order"] else {
            throw .badHeader(path: path, detail: "no 'fortran_order' boolean")
        }
        guard case .tuple(let dims)? = dict["shape"] else {
            throw .badHeader(path: path, detail: "no 'shape' tuple")
        }
        let dtype: NpyDType
        switch descr {
        case "<f4": dtype = .float32
        case "<f2": dtype = .float16
        case "<i8": dtype = .int64
        case "<i4": dtype = .int32
        case "|u1", "<u1", "u1": dtype = .uint8
        default: throw .unsupportedDType(path: path, found: descr)
        }
        if fortran { throw .fortranOrder(path: path) }
        var shape: [Int] = []
        var count = 1
        for d in dims {
            guard case .int(let v) = d else { throw .badShape(path: path, detail: "dimension \(shape.count) is not an integer") }
            guard v >= 0 else { throw .badShape(path: path, detail: "dimension \(shape.count) is \(v)") }
            let (c, o) = count.multipliedReportingOverflow(by: v)
            if o || c > Int(Int32.max) * 64 { throw .badShape(path: path, detail: "\(dims.count)-D shape overflows") }
            count = c
            shape.append(v)
        }
        let dataStart = headerStart + headerLength
        let (expected, o) = count.multipliedReportingOverflow(by: dtype.byteWidth)
        if o { throw .badShape(path: path, detail: "the shape's byte size overflows") }
        let found = bytes.count - dataStart
        if found != expected { throw .sizeMismatch(path: path, expectedBytes: expected, foundBytes: found) }
        return NpyArray(shape: shape, dtype: dtype, data: Array(bytes[dataStart...]))
    }
}

/// The Python literals a `.npy` header holds.
enum PythonLiteral: Equatable {
    case string(String)
    case bool(Bool)
    case int(Int)
    case tuple([PythonLiteral])
    case none
}

/// A parser for the dict literal of a `.npy` header: `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`.
struct PythonLiteralParser {
    struct Failure: Error {
        var message: String
        var position: Int
    }

    let chars: [Character]
    var i = 0

    init(text: String) { chars = Array(text) }

    mutating func parseDict() throws(Failure) -> [String: PythonLiteral] {
        skipSpace()
        try expect("{")
        var out: [String: PythonLiteral] = [:]
        while true {
            skipSpace()
            if peek == "}" { i += 1; break }
            guard case .string(let key) = try value() else { throw Failure(message: "dict key is not a string", position: i) }
            skipSpace()
            try expect(":")
            let v = try value()
            if out[key] != nil { throw Failure(message: "key '\(key)' repeated", position: i) }
            out[key] = v
            skipSpace()
            if peek == "," { i += 1; continue }
            skipSpace()
            if peek == "}" { i += 1; break }
            throw Failure(message: "expected ',' or '}'", position: i)
        }
        skipSpace()
        if i != chars.count { throw Failure(message: "text after the dict", position: i) }
        return out
    }

    var peek: Character? { i < chars.count ? chars[i] : nil }

    mutating func skipSpace() { while let c = peek, c == " " || c == "\n" || c == "\t" || c == "\r" { i += 1 } }

    mutating func expect(_ c: Character) throws(Failure) {
        guard peek == c else { throw Failure(message: "expected '\(c)'", position: i) }
        i += 1
    }

    mutating func value() throws(Failure) -> PythonLiteral {
        skipSpace()
        guard let c = peek else { throw Failure(message: "unexpected end of header", position: i) }
        switch c {
        case "'", "\"":
            i += 1
            var s = ""
            while let d = peek, d != c {
                if d == "\\" { throw Failure(message: "escapes in strings are not expected", position: i) }
                s.append(d)
                i += 1
            }
            try expect(c)
            return .string(s)
        case "(":
            i += 1
            var items: [PythonLiteral] = []
            while true {
                skipSpace()
                if peek == ")" { i += 1; break }
                items.append(try value())
                skipSpace()
                if peek == "," { i += 1; continue }
                if peek == ")" { i += 1; break }
                throw Failure(message: "expected ',' or ')' in tuple", position: i)
            }
            return .tuple(items)
        default:
            var word = ""
            while let d = peek, d.isLetter || d.isNumber || d == "-" || d == "_" { word.append(d); i += 1 }
            switch word {
            case "True": return .bool(true)
            case "False": return .bool(false)
            case "None": return .none
            default:
                let digits = word.hasSuffix("L") ? String(word.dropLast()) : word
                if let v = Int(digits) { return .int(v) }
                throw Failure(message: word.isEmpty ? "unexpected '\(c)'" : "unexpected '\(word)'", position: i)
            }
        }
    }
}
