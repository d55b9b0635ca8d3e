/// The command line of one verb, split into positionals, valued options and switches.
///
/// Hand-written because the project takes no package dependencies. Accepts `--flag value` and
/// `--flag=value`; every mistake is a `UsageError` that names the flag and what was expected.
struct Arguments {
    var positional: [String] = []
    var values: [String: String] = [:]
    var switches: Set<String> = []

    /// Parses `args` for `verb`, which accepts the options in `valued` and the switches in `flags`.
    init(_ args: [String], verb: String, valued: Set<String>, flags: Set<String>) throws(UsageError) {
        var i = 0
        while i < args.count {
            let arg = args[i]
            i += 1
            if arg == "--" {
                positional += args[i...]
                break
            }
            guard arg.hasPrefix("-"), arg.count > 1, Double(arg) == nil else {
                positional.append(arg)
                continue
            }
            var name = arg, inline: String? = nil
            if let eq = arg.firstIndex(of: "=") {
                name = String(arg[..<eq])
                inline = String(arg[arg.index(after: eq)...])
            }
            if flags.contains(name) {
                if inline != nil { throw .init("\(name) takes no value", verb: verb) }
                switches.insert(name)
            } else if valued.contains(name) {
                let value: String
                if let inline {
                    value = inline
                } else {
                    guard i < args.count else { throw .init("\(name) needs a value", verb: verb) }
                    value = args[i]
                    i += 1
                }
                if values[name] != nil { throw .init("\(name) is given twice", verb: verb) }
                values[name] = value
            } else {
                let known = (valued.union(flags)).sorted()
                let hint = nearest(name, in: known).map { " (did you mean \($0)?)" } ?? ""
                throw .init("unknown option \(name)\(hint)", verb: verb)
            }
        }
    }

    /// The value of `name`, or nil.
    func value(_ name: String) -> String? { values[name] }

    /// The value of a required option.
    func required(_ name: String, verb: String) throws(UsageError) -> String {
        guard let v = values[name] else { throw .init("\(name) is required", verb: verb) }
        return v
    }

    /// An integer option in `range`, or `fallback` when absent.
    func int(_ name: String, in range: ClosedRange<Int>, default fallback: Int, verb: String) throws(UsageError) -> Int {
        guard let text = values[name] else { return fallback }
        guard let v = Int(text), range.contains(v) else {
            throw .init("\(name) \(text): expected an integer in \(range.lowerBound)...\(range.upperBound)", verb: verb)
        }
        return v
    }

    /// A finite Float option ≥ `minimum`, or `fallback` when absent.
    func float(_ name: String, minimum: Float = 0, default fallback: Float?, verb: String) throws(UsageError) -> Float? {
        guard let text = values[name] else { return fallback }
        guard let v = Float(text), v.isFinite, v >= minimum else {
            throw .init("\(name) \(text): expected a number ≥ \(minimum)", verb: verb)
        }
        return v
    }

    /// Exactly `count` positionals, named in `what` for the message.
    func positionals(_ count: Int, _ what: String, verb: String) throws(UsageError) -> [String] {
        if positional.count < count { throw .init("missing \(what)", verb: verb) }
        if positional.count > count { throw .init("unexpected argument '\(positional[count])'", verb: verb) }
        return positional
    }
}

/// A mistake on the command line: exit status 2, a one-line message and where to get help.
struct UsageError: Error {
    var message: String
    var verb: String
    init(_ message: String, verb: String) {
        self.message = message
        self.verb = verb
    }
}

/// The closest known option by edit distance, if it is close enough to be a typo.
func nearest(_ word: String, in candidates: [String]) -> String? {
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        var row = Array(0 ... b.count)
        for i in 1 ... max(a.count, 1) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in 1 ... max(b.count, 1) where !b.isEmpty {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return row[b.count]
    }
    let scored = candidates.map { ($0, distance(Array(word), Array($0))) }.min { $0.1 < $1.1 }
    guard let best = scored, best.1 <= max(2, word.count / 3) else { return nil }
    return best.0
}
