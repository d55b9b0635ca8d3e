/// Why a target profile was refused: the file, the field, and what was expected.
public enum ProfileError: Error, Equatable, CustomStringConvertible {
    case unreadable(path: String)
    case notJSON(path: String, detail: String)
    case missingField(path: String, field: String)
    case badField(path: String, field: String, expected: String, found: String)
    case unknownTarget(name: String, available: [String])

    public var description: String {
        switch self {
        case .unreadable(let p): return "\(p): cannot read the profile (does it exist?)"
        case .notJSON(let p, let detail): return "\(p): not valid JSON: \(detail)"
        case .missingField(let p, let f): return "\(p): field \"\(f)\" is missing"
        case .badField(let p, let f, let expected, let found): return "\(p): field \"\(f)\" is \(found); expected \(expected)"
        case .unknownTarget(let name, let available):
            return "no bundled target '\(name)'; bundled: \(available.joined(separator: ", ")) (or pass a profile file by path)"
        }
    }
}
