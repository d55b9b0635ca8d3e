import Foundation
import HalfStepCore

/// Parsers for the values users type after `halfstep plan` flags. Each returns nil-free results
/// or a `PlannerError.badOption` that quotes the flag, the value and what was expected.
extension PlanOptions {
    /// `64KiB`, `1MiB`, `256K`, `1M`, `65536`, `2 MB` → bytes. Binary units (KiB = 1024) for
    /// both spellings, as microcontroller datasheets use them.
    public static func parseBytes(_ text: String, flag: String) throws(PlannerError) -> Int {
        let s = text.replacingOccurrences(of: " ", with: "").lowercased()
        let units: [(String, Int)] = [("kib", 1024), ("mib", 1 << 20), ("kb", 1024), ("mb", 1 << 20),
                                      ("k", 1024), ("m", 1 << 20), ("b", 1), ("", 1)]
        for (suffix, scale) in units where s.hasSuffix(suffix) {
            let number = String(s.dropLast(suffix.count))
            if let n = Int(number), n >= 0 {
                let (v, o) = n.multipliedReportingOverflow(by: scale)
                if !o { return v }
            }
            if let d = Double(number), d >= 0, d.isFinite, d * Double(scale) < 1e15, scale > 1 {
                return Int(d * Double(scale))
            }
            break
        }
        throw .badOption(name: flag, value: text, expected: "a size such as 65536, 64KiB, 256K or 1MiB")
    }

    /// `sram=64KiB,flash=256KiB` (either part optional) → (sram, flash) in bytes.
    public static func parseBudget(_ text: String, flag: String = "--budget") throws(PlannerError) -> (sram: Int?, flash: Int?) {
        var sram: Int?, flash: Int?
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let kv = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else {
                throw .badOption(name: flag, value: text, expected: "sram=SIZE,flash=SIZE (e.g. sram=64KiB,flash=256KiB)")
            }
            let key = kv[0].lowercased().trimmingCharacters(in: .whitespaces)
            switch key {
            case "sram", "ram": sram = try parseBytes(kv[1], flag: "\(flag) \(key)")
            case "flash", "rom": flash = try parseBytes(kv[1], flag: "\(flag) \(key)")
            default:
                throw .badOption(name: flag, value: text, expected: "keys sram and flash (found '\(kv[0])')")
            }
        }
        return (sram, flash)
    }

    /// `all`, `none`, `biases`, `last:K`, `layers:NAME,NAME`.
    public static func parseTrain(_ text: String) throws(PlannerError) -> TrainSelection {
        switch text {
        case "all": return .all
        case "none": return .none
        case "biases", "bias": return .biases
        default: break
        }
        if text.hasPrefix("last:"), let k = Int(text.dropFirst(5)), k >= 1 { return .last(k) }
        if text.hasPrefix("layers:") {
            let names = text.dropFirst(7).split(separator: ",").map(String.init).filter { !$0.isEmpty }
            if !names.isEmpty { return .layers(names) }
        }
        throw .badOption(name: "--train", value: text, expected: "all, biases, last:K (K ≥ 1), layers:NAME,NAME or none")
    }

    /// `none`, `static:S` (S > 0), `dynamic`, `dynamic:INITIAL`.
    public static func parseLossScale(_ text: String, growthInterval: Int = 2000) throws(PlannerError) -> LossScaling {
        if text == "none" { return .none }
        if text == "dynamic" { return .dynamic(initial: 65536, growthInterval: growthInterval) }
        for prefix in ["static:", "dynamic:"] where text.hasPrefix(prefix) {
            if let s = Float(text.dropFirst(prefix.count)), s.isFinite, s > 0 {
                return prefix == "static:" ? .fixed(s) : .dynamic(initial: s, growthInterval: growthInterval)
            }
        }
        throw .badOption(name: "--loss-scale", value: text, expected: "none, static:S (S > 0, e.g. static:1024), dynamic or dynamic:INITIAL")
    }

    /// `fp32-master`, `fp16`, `fp16-stochastic` or `fp16-kahan`.
    public static func parseUpdate(_ text: String) throws(PlannerError) -> UpdateMode {
        switch text {
        case "fp32-master", "master": return .fp32Master
        case "fp16": return .fp16
        case "fp16-stochastic", "stochastic": return .fp16Stochastic
        case "fp16-kahan", "kahan": return .fp16Kahan
        default: throw .badOption(name: "--update", value: text, expected: "fp32-master, fp16, fp16-stochastic or fp16-kahan, optionally followed by per-tensor MODE:NAME entries")
        }
    }

    /// `MODE[,MODE:NAME...]`: a default mode and per-tensor overrides by initializer or layer name,
    /// e.g. `fp16,fp32-master:4.weight,fp32-master:4.bias`.
    public static func parseUpdateList(_ text: String) throws(PlannerError) -> (UpdateMode, [String: UpdateMode]) {
        var mode: UpdateMode? = nil
        var overrides: [String: UpdateMode] = [:]
        for part in text.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            if let colon = part.firstIndex(of: ":") {
                let name = String(part[part.index(after: colon)...])
                guard !name.isEmpty else { throw .badOption(name: "--update", value: text, expected: "MODE:NAME with a tensor or layer name") }
                overrides[name] = try parseUpdate(String(part[..<colon]))
            } else {
                guard mode == nil else { throw .badOption(name: "--update", value: text, expected: "one default mode, then MODE:NAME entries") }
                mode = try parseUpdate(part)
            }
        }
        return (mode ?? .fp32Master, overrides)
    }

    /// `sgd`, `adam`, `adamw`.
    public static func parseOptimizer(_ text: String) throws(PlannerError) -> OptimizerKind {
        switch text.lowercased() {
        case "sgd": return .sgd
        case "adam": return .adam
        case "adamw": return .adamW
        default: throw .badOption(name: "--optimizer", value: text, expected: "sgd, adam or adamw")
        }
    }

    /// `fp16`, `fp32`.
    public static func parseState(_ text: String) throws(PlannerError) -> StateType {
        guard let s = StateType(rawValue: text) else {
            throw .badOption(name: "--state", value: text, expected: "fp16 or fp32")
        }
        return s
    }

    /// `cross-entropy`, `mse`, `l1`, `huber`, `huber:DELTA` (DELTA > 0; default 1, PyTorch's).
    public static func parseLoss(_ text: String) throws(PlannerError) -> Loss {
        switch text.lowercased() {
        case "cross-entropy", "crossentropy", "ce": return .crossEntropy
        case "mse": return .mse
        case "l1", "mae": return .l1
        case "huber": return .huber(1)
        default: break
        }
        if text.lowercased().hasPrefix("huber:"), let d = Float(text.dropFirst(6)), d.isFinite, d > 0 { return .huber(d) }
        throw .badOption(name: "--loss", value: text, expected: "cross-entropy, mse, l1, huber or huber:DELTA (DELTA > 0)")
    }

    /// `constant`, `step:EVERY:GAMMA`, `cosine:STEPS[:MIN_LR]`.
    public static func parseSchedule(_ text: String) throws(PlannerError) -> Schedule {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        switch parts.first?.lowercased() {
        case "constant" where parts.count == 1:
            return .constant
        case "step" where parts.count == 3:
            if let every = Int(parts[1]), every >= 1, let gamma = Float(parts[2]), gamma.isFinite, gamma > 0, gamma <= 1 {
                return .step(every: every, gamma: gamma)
            }
            throw .badOption(name: "--lr-schedule", value: text, expected: "step:EVERY:GAMMA with EVERY ≥ 1 steps and 0 < GAMMA ≤ 1, e.g. step:200:0.5")
        case "cosine" where parts.count == 2 || parts.count == 3:
            if let steps = Int(parts[1]), steps >= 1 {
                if parts.count == 2 { return .cosine(steps: steps, minimum: 0) }
                if let m = Float(parts[2]), m.isFinite, m >= 0 { return .cosine(steps: steps, minimum: m) }
            }
            throw .badOption(name: "--lr-schedule", value: text, expected: "cosine:STEPS[:MIN_LR] with STEPS ≥ 1 and MIN_LR ≥ 0, e.g. cosine:600 or cosine:600:0.001")
        default:
            throw .badOption(name: "--lr-schedule", value: text, expected: "constant, step:EVERY:GAMMA or cosine:STEPS[:MIN_LR]")
        }
    }
}
