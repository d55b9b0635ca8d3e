import Foundation
import HalfStepCore

extension QEMUValidation {
    /// The first way a device run differs from the host run, in the order they are checked:
    /// step count, then each step's loss, loss scale and status, then each update op's counters,
    /// then each trainable tensor word by word (ascending tensor index).
    public enum Mismatch: Equatable, CustomStringConvertible {
        case stepCount(device: Int, host: Int)
        /// Loss bits (fp32) of step `step` (from 0).
        case loss(step: Int, device: UInt32, host: UInt32)
        /// Loss-scale bits (fp32) of step `step`.
        case lossScale(step: Int, device: UInt32, host: UInt32)
        /// Step status (0 applied, 1 skipped on overflow, 2 invalid label).
        case status(step: Int, device: Int, host: Int)
        case missingDiagnostics(tensor: String)
        /// The device's counters by key (`nonzero`, `underflows`, `gradmax` as fp32 bits, `overflows`).
        case diagnostics(tensor: String, device: [String: UInt32], host: TensorDiagnostics)
        case missingTensor(tensor: String)
        /// 32-bit word `word` (bytes 4·word ..< 4·word+4) of a trainable tensor; `device` nil when
        /// the device's report ended before it.
        case tensorWord(tensor: String, word: Int, device: UInt32?, host: UInt32)

        public var description: String {
            func hex(_ v: UInt32) -> String { String(format: "%08x", v) }
            switch self {
            case .stepCount(let d, let h): return "the device reported \(d) steps, the host ran \(h)"
            case .loss(let i, let d, let h): return "step \(i): loss bits 0x\(hex(d)) on the device, 0x\(hex(h)) on the host"
            case .lossScale(let i, _, _): return "step \(i): loss scale bits differ"
            case .status(let i, let d, let h): return "step \(i): status \(d) on the device, \(h) on the host"
            case .missingDiagnostics(let name): return "diagnostics of \(name) missing from the device's report"
            case .diagnostics(let name, let d, let h):
                return "diagnostics of \(name) differ: device \(d), host nonzero=\(h.nonzeroUpdates) underflows=\(h.updateUnderflows) overflows=\(h.overflowSteps)"
            case .missingTensor(let name): return "tensor \(name) missing from the device's report"
            case .tensorWord(let name, let w, let d, let h):
                return "tensor \(name) word \(w) (bytes \(4 * w)...): 0x\(hex(d ?? 0)) on the device, 0x\(hex(h)) on the host"
            }
        }

        /// Compares a device report with the host run (the arguments as `QEMUValidation` holds
        /// them); nil when they agree bit for bit. A tensor whose bytes end mid-word (an odd
        /// number of fp16 elements) is compared on its low 16 bits in the last word: the rest is
        /// padding, whatever each side left there.
        public static func first(device: QEMURunner.Result, hostSteps: [QEMURunner.Step], hostTensors: [Int: [UInt32]],
                                 hostDiagnostics: [(name: String, diagnostics: TensorDiagnostics)],
                                 tensorNames: [Int: String], tensorBytes: [Int: Int]) -> Mismatch? {
            if device.steps.count != hostSteps.count { return .stepCount(device: device.steps.count, host: hostSteps.count) }
            for (i, (d, h)) in zip(device.steps, hostSteps).enumerated() {
                if d.loss != h.loss { return .loss(step: i, device: d.loss, host: h.loss) }
                if d.scale != h.scale { return .lossScale(step: i, device: d.scale, host: h.scale) }
                if d.status != h.status { return .status(step: i, device: d.status, host: h.status) }
            }
            for (k, host) in hostDiagnostics.enumerated() {
                guard let d = device.diagnostics[k] else { return .missingDiagnostics(tensor: host.name) }
                let h = host.diagnostics
                if d["nonzero"] != UInt32(h.nonzeroUpdates) || d["underflows"] != UInt32(h.updateUnderflows)
                    || d["gradmax"] != h.gradientMaxAbs.bitPattern || d["overflows"] != UInt32(h.overflowSteps) {
                    return .diagnostics(tensor: host.name, device: d, host: h)
                }
            }
            for (t, words) in hostTensors.sorted(by: { $0.key < $1.key }) {
                let name = tensorNames[t] ?? "\(t)"
                guard let deviceWords = device.tensors[t] else { return .missingTensor(tensor: name) }
                let bytes = tensorBytes[t] ?? words.count * 4
                for w in 0 ..< (bytes + 3) / 4 {
                    let mask: UInt32 = (w * 4 + 4 <= bytes) ? 0xFFFF_FFFF : 0x0000_FFFF
                    if w >= deviceWords.count || (deviceWords[w] & mask) != (words[w] & mask) {
                        return .tensorWord(tensor: name, word: w, device: w < deviceWords.count ? deviceWords[w] : nil, host: words[w])
                    }
                }
            }
            return nil
        }
    }
}
