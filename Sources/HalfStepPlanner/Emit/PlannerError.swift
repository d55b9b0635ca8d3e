import Foundation
import HalfStepCore

/// Why the planner could not produce a plan. Every case renders one clear line plus what to do.
public enum PlannerError: Error, Equatable, CustomStringConvertible {
    /// The graph uses something the planner cannot train through yet.
    case unsupportedGraph(String)
    /// The train selection names something the model does not have.
    case unknownLayer(name: String, available: [String])
    /// `last:K` with K outside 1 ... layers.
    case badLastCount(k: Int, layers: Int)
    /// An option's value is out of range.
    case badOption(name: String, value: String, expected: String)
    /// The plan needs more memory than the budget allows.
    case overBudget(OverBudget)
    /// The plan outgrew a format v1 limit (tensor count, 32-bit sizes).
    case formatLimit(String)
    /// The core's verifier refused the plan the planner wrote: a planner bug, never the user's.
    case refusedByVerifier(PlanError)

    /// The details of an over-budget plan, with the figures a user needs to act.
    public struct OverBudget: Equatable, Sendable {
        /// "SRAM" or "flash".
        public var region: String
        public var neededBytes: Int
        public var budgetBytes: Int
        /// The three largest contributors at the peak: (tensor name, bytes).
        public var largest: [Contributor]
        /// Alternatives tried, with the bytes each would need in this region.
        public var alternatives: [Alternative]

        public struct Contributor: Equatable, Sendable { public var name: String; public var category: String; public var bytes: Int }
        public struct Alternative: Equatable, Sendable { public var change: String; public var neededBytes: Int }
    }

    public var description: String {
        switch self {
        case .unsupportedGraph(let why):
            return "cannot plan this graph: \(why)"
        case .unknownLayer(let name, let available):
            return "--train names '\(name)', which is not a layer or parameter of this model; layers: \(available.joined(separator: ", "))"
        case .badLastCount(let k, let layers):
            return "--train last:\(k) is out of range: the model has \(layers) layers with parameters (use 1...\(layers))"
        case .badOption(let name, let value, let expected):
            return "\(name) \(value): expected \(expected)"
        case .formatLimit(let why):
            return "plan exceeds a format v1 limit: \(why)"
        case .refusedByVerifier(let error):
            return "internal error: the plan written does not pass the core's verifier (\(error.explanation)); please report this with the model and the command line"
        case .overBudget(let o):
            var s = "plan does not fit: needs \(formatBytes(o.neededBytes)) of \(o.region), budget is \(formatBytes(o.budgetBytes)) (over by \(formatBytes(o.neededBytes - o.budgetBytes)))"
            if !o.largest.isEmpty {
                s += "\n  largest at the peak: " + o.largest.map { "\($0.name) (\($0.category), \(formatBytes($0.bytes)))" }.joined(separator: ", ")
            }
            let fitting = o.alternatives.filter { $0.neededBytes <= o.budgetBytes }
            let others = o.alternatives.filter { $0.neededBytes > o.budgetBytes }
            for a in fitting + others {
                let saved = o.neededBytes - a.neededBytes
                s += "\n  \(a.change): needs \(formatBytes(a.neededBytes)) (saves \(formatBytes(saved)))\(a.neededBytes <= o.budgetBytes ? " — fits" : "")"
            }
            return s
        }
    }
}

/// `1234` → `"1234 B"`, `65536` → `"64.0 KiB"`.
public func formatBytes(_ n: Int) -> String {
    if abs(n) < 1024 { return "\(n) B" }
    if abs(n) < 1024 * 1024 { return String(format: "%.1f KiB", Double(n) / 1024) }
    return String(format: "%.2f MiB", Double(n) / 1048576)
}
