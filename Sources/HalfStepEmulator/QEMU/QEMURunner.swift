import Foundation
import HalfStepCore

/// Builds the firmware for an emulated Cortex-M board, runs a plan on it under
/// `qemu-system-arm`, and reads back what it reported: per-step loss bits, counters, the final
/// trainable tensors, instruction counts, the stack high-water mark and the image's footprint.
public enum QEMURunner {
    /// A QEMU board HalfStep has firmware for.
    public enum Board: String, Sendable, CaseIterable {
        case mps2AN386 = "mps2-an386"
        case mps2AN500 = "mps2-an500"
        case mps2AN505 = "mps2-an505"
        case mps3AN547 = "mps3-an547"

        /// The board whose core matches `profile` (a part's plan runs on the board with its core).
        public static func forProfile(_ profile: TargetProfile) -> Board? {
            if let exact = Board(rawValue: profile.name) { return exact }
            return allCases.first { $0.core == profile.core }
        }

        /// The core QEMU emulates on this board.
        public var core: TargetProfile.Core {
            switch self {
            case .mps2AN386: return .cortexM4F
            case .mps2AN500: return .cortexM7
            case .mps2AN505: return .cortexM33
            case .mps3AN547: return .cortexM55
            }
        }

        /// The core's name in reports ("Cortex-M4F"), and its short form ("M4F").
        public var coreTitle: String { "Cortex-" + shortName }
        public var shortName: String {
            switch self {
            case .mps2AN386: return "M4F"
            case .mps2AN500: return "M7"
            case .mps2AN505: return "M33"
            case .mps3AN547: return "M55"
            }
        }

        var machine: String { rawValue }
        var cpu: String {
            switch self {
            case .mps2AN386: return "cortex-m4"
            case .mps2AN500: return "cortex-m7"
            case .mps2AN505: return "cortex-m33"
            case .mps3AN547: return "cortex-m55"
            }
        }

        /// The board's system clock in QEMU (SysTick counts at this rate): the MPS2 FPGA images
        /// run at 25 MHz, AN505 at 20 MHz, the MPS3 AN547 at 32 MHz (QEMU's mps2.c, mps2-tz.c).
        public var clockHz: Int {
            switch self {
            case .mps2AN386, .mps2AN500: return 25_000_000
            case .mps2AN505: return 20_000_000
            case .mps3AN547: return 32_000_000
            }
        }

        /// The board's code memory and SRAM for an image, bytes (Targets/<board>/board.env places
        /// them): 4 MiB each, except the AN547's 2 MiB FPGA SRAM for code and payload.
        public var flashBytes: Int { self == .mps3AN547 ? 2 << 20 : 4 << 20 }
        public var sramBytes: Int { 4 << 20 }

        /// With `-icount shift=0` each instruction is 1 ns of virtual time, so one SysTick tick is
        /// 10^9 / clock instructions (40 at 25 MHz), ± one tick per measurement.
        public var instructionsPerTick: Double { 1e9 / Double(clockHz) }
    }

    /// One step as the device reported it.
    public struct Step: Equatable, Sendable {
        public var loss: UInt32
        public var scale: UInt32
        public var status: Int
        public var ticks: Int

        public init(loss: UInt32, scale: UInt32, status: Int, ticks: Int) {
            self.loss = loss
            self.scale = scale
            self.status = status
            self.ticks = ticks
        }
    }

    /// Everything a QEMU run reported.
    public struct Result: Sendable {
        public var board: Board
        public var exitStatus: Int32
        public var steps: [Step]
        /// Op index → SysTick ticks of one run of that op.
        public var opTicks: [Int: Int]
        /// Op index → SysTick ticks of the same op run on zero rows: its fixed dispatch and setup cost.
        public var opIdleTicks: [Int: Int] = [:]
        public var counters: [String: Int]
        /// The step the firmware resumed from a checkpoint at (nil: fresh start).
        public var resumedFromStep: Int? = nil
        /// The run was stopped on purpose mid-checkpoint.
        public var powerCut = false
        /// Per update op: nonzero updates, underflows, largest |gradient| (bits), overflow steps.
        public var diagnostics: [Int: [String: UInt32]] = [:]
        /// Trainable tensor index → its bytes as 32-bit words.
        public var tensors: [Int: [UInt32]]
        public var stackHighWater: Int
        public var footprint: [String: Int]
        public var fault: String?
        public var output: String
        /// Instructions per SysTick tick on this run's board (`Board.instructionsPerTick`).
        /// `sleep=off` keeps the virtual clock from following the host's while QEMU waits (the
        /// default lets it, and a busy host then moved a count by a tick now and then).
        public var instructionsPerTick: Double { board.instructionsPerTick }

        /// `ticks` in instructions on this run's board.
        public func instructions(_ ticks: Int) -> Int { Int((Double(ticks) * instructionsPerTick).rounded()) }
    }

    /// The repository's `Targets/` folder.
    public static var targetsDirectory: String {
        URL(fileURLWithPath: TargetProfile.bundledDirectory).deletingLastPathComponent().path
    }

    /// Builds the image for `board`, sized to `profile` less `reserve`, and runs it.
    ///
    /// The firmware build gets `buildTimeoutSeconds` (a cold build compiles the core) and the QEMU
    /// run `timeoutSeconds`; past its limit a stage's process group is sent SIGTERM, then SIGKILL
    /// `graceSeconds` later (`ChildProcess`), and the run throws `QEMUError.timeout` naming the
    /// stage, the board, the image, `plan` (the plan's file, for messages only) and the limit.
    public static func run(payload: FirmwarePayload, arenaBytes: Int, profile: TargetProfile, board: Board,
                           reserve: (sram: Int, flash: Int), workDirectory: String, timeoutSeconds: Double = 300,
                           buildTimeoutSeconds: Double = 300, graceSeconds: Double = 2, plan: String? = nil) throws(QEMUError) -> Result {
        let fm = FileManager.default
        try? fm.createDirectory(atPath: workDirectory, withIntermediateDirectories: true)
        let payloadPath = workDirectory + "/payload.bin"
        guard fm.createFile(atPath: payloadPath, contents: Data(payload.encode())) else { throw .io("cannot write \(payloadPath)") }
        let flash = min(board.flashBytes, profile.flashBudget(reserving: reserve.flash))
        // SRAM holds .data, .bss, the arena and the stack: the arena's region less the reserve,
        // plus the stack's own region when the part keeps it apart.
        let sram = min(board.sramBytes, profile.arenaRegionBytes - reserve.sram + (profile.stackSharesArenaRegion ? 0 : profile.stackBytes))
        let image = workDirectory + "/image.elf"
        func timeout(_ stage: QEMUError.Stage, _ seconds: Double, _ finished: ChildProcess.Finished) -> QEMUError {
            .timeout(stage: stage, board: board, image: image, plan: plan, seconds: seconds, killed: finished.killed)
        }
        let build = try command("/bin/bash", [targetsDirectory + "/build-firmware.sh", board.rawValue, payloadPath, workDirectory,
                                               "\(flash)", "\(sram)", "\(arenaBytes)", "\(profile.stackBytes)", profile.name],
                                timeoutSeconds: buildTimeoutSeconds, graceSeconds: graceSeconds)
        if build.timedOut { throw timeout(.build, buildTimeoutSeconds, build) }
        guard build.status == 0 else {
            if build.output.contains("will not fit in region") || build.output.contains("overflowed by") {
                throw .doesNotFit(detail: build.output.split(separator: "\n").filter { $0.contains("ld.lld") }.joined(separator: "\n"))
            }
            throw .build(build.output)
        }
        var footprint: [String: Int] = [:]
        if let line = build.output.split(separator: "\n").last(where: { $0.hasPrefix("firmware for") }) {
            let words = line.split(separator: " ")
            for (i, w) in words.enumerated() where i + 1 < words.count {
                if let v = Int(words[i + 1].trimmingCharacters(in: CharacterSet(charactersIn: ","))), w.allSatisfy({ $0.isLetter }) {
                    footprint[String(w)] = v
                }
            }
        }
        if payload.checkpointEvery > 0 {
            // The board's checkpoint flash: a file the firmware reads and writes via semihosting;
            // created erased (0xFF) once, then kept across runs like real flash across power cycles.
            let flashPath = workDirectory + "/checkpoint.flash"
            if !fm.fileExists(atPath: flashPath) {
                _ = fm.createFile(atPath: flashPath, contents: Data(repeating: 0xFF, count: flashBytesForCheckpoints))
            }
        }
        let run = try command("/usr/bin/env", ["qemu-system-arm", "-M", board.machine, "-cpu", board.cpu, "-nographic", "-monitor", "none",
                                              "-serial", "none", "-icount", "shift=0,sleep=off",
                                              "-semihosting-config", "enable=on,target=native", "-kernel", image],
                              directory: workDirectory, timeoutSeconds: timeoutSeconds, graceSeconds: graceSeconds)
        if run.timedOut { throw timeout(.run, timeoutSeconds, run) }
        if run.status == 127 || run.output.contains("No such file or directory") && run.output.contains("qemu") {
            throw .missingQEMU
        }
        return parse(run.output, status: run.status, board: board, footprint: footprint)
    }

    static func parse(_ output: String, status: Int32, board: Board, footprint: [String: Int]) -> Result {
        var r = Result(board: board, exitStatus: status, steps: [], opTicks: [:], counters: [:], tensors: [:], stackHighWater: 0,
                       footprint: footprint, fault: nil, output: output)
        var currentTensor = -1
        for line in output.split(separator: "\n") where line.hasPrefix("HS ") {
            let words = line.split(separator: " ")
            guard words.count >= 2 else { continue }
            var fields: [String: String] = [:]
            for w in words.dropFirst(2) {
                let kv = w.split(separator: "=", maxSplits: 1)
                if kv.count == 2 { fields[String(kv[0])] = String(kv[1]) }
            }
            func int(_ k: String) -> Int { Int(fields[k] ?? "") ?? 0 }
            func hex(_ k: String) -> UInt32 { UInt32(fields[k] ?? "", radix: 16) ?? 0 }
            switch words[1] {
            case "step": r.steps.append(Step(loss: hex("loss"), scale: hex("scale"), status: int("status"), ticks: int("ticks")))
            case "op":
                r.opTicks[int("i")] = int("ticks")
                if fields["idle"] != nil { r.opIdleTicks[int("i")] = int("idle") }
            case "counters": for (k, _) in fields { r.counters[k] = int(k) }
            case "diag":
                r.diagnostics[int("k")] = ["nonzero": UInt32(int("nonzero")), "underflows": UInt32(int("underflows")),
                                            "gradmax": hex("gradmax"), "overflows": UInt32(int("overflows"))]
            case "tensor":
                currentTensor = int("i")
                r.tensors[currentTensor] = []
            case "w": r.tensors[currentTensor, default: []].append(hex("v"))
            case "stack": r.stackHighWater = int("high")
            case "fault", "error": r.fault = String(line.dropFirst(3))
            case "resumed": r.resumedFromStep = int("step")
            case "powercut": r.powerCut = true
            default: break
            }
        }
        return r
    }

    /// Size of the checkpoint flash file: generous for the plans a board can hold.
    public static var flashBytesForCheckpoints = 1 << 20

    static func command(_ executable: String, _ arguments: [String], directory: String? = nil, timeoutSeconds: Double,
                        graceSeconds: Double) throws(QEMUError) -> ChildProcess.Finished {
        do {
            return try ChildProcess.run(executable, arguments, directory: directory, timeoutSeconds: timeoutSeconds, graceSeconds: graceSeconds)
        } catch {
            throw .io(error.description)
        }
    }
}
