import CEmulatorLimits
import CHeapCounter
import Foundation
import HalfStepCore

/// Runs a plan under a part's limits in this process: the arena exactly the plan's size between
/// inaccessible guard pages, the plan mapped read-only as flash, the training on a thread whose
/// stack is the part's stack size (guarded, painted, measured), every heap allocation during the
/// steps counted. A fault is reported by the handler in `CEmulatorLimits` and ends the process
/// with status 3; everything else comes back as an `EmulationResult`.
public enum Emulator {
    /// A deliberate violation, for the emulator's own tests (`validate --inject`).
    public enum Injection: String, Sendable, CaseIterable {
        case arenaOverflow = "arena-overflow"
        case flashWrite = "flash-write"
        case stackOverflow = "stack-overflow"
        case heap = "heap"
    }

    /// What one emulated run measured.
    public struct Result: Sendable {
        public var arenaBytes: Int
        /// One past the highest arena byte the run changed from the paint pattern.
        public var arenaTouchedBytes: Int
        public var flashBytes: Int
        public var stackBytes: Int
        public var stackHighWaterBytes: Int
        public var heapAllocations: Int
        public var steps: Int
        public var appliedSteps: Int
        public var overflows: Int
        public var firstLoss: Float
        public var lastLoss: Float
        /// Work of one full step at the plan's batch size.
        public var stepWork: OpWork
        /// `stepWork` by kernel family, what the cost model prices.
        public var familyWork: [KernelFamily: FamilyWork]
        public var opsPerStep: Int
    }

    /// Runs `steps` training steps of the plan in `planBytes` on `inputs`/`labels` (features per
    /// sample as the plan expects; batches taken in order, wrapping around).
    /// A regression plan takes `targets` (the plan's outputs per sample each) instead of labels.
    public static func run(planBytes: [UInt8], planPath: String, stackBytes: Int, inputs: [Float16], labels: [Int32],
                           targets: [Float16] = [], steps: Int, json: Bool, injection: Injection? = nil, paint: UInt8 = 0xA5) throws(EmulatorError) -> Result {
        // Flash: the plan, read-only, its start 16-byte aligned and its end against a guard page.
        var flash = hs_region()
        let flashSize = (planBytes.count + 15) / 16 * 16
        if hs_region_map(&flash, flashSize) != 0 { throw .mapping(what: "flash image", bytes: flashSize) }
        defer { hs_region_unmap(&flash) }
        planBytes.withUnsafeBytes { flash.base.update(from: $0.bindMemory(to: UInt8.self).baseAddress!, count: planBytes.count) }
        if hs_region_protect_read_only(&flash) != 0 { throw .mapping(what: "read-only flash", bytes: flashSize) }
        let plan: Plan
        do { plan = try Plan(bytes: UnsafeRawBufferPointer(start: flash.base, count: planBytes.count)) } catch {
            throw .invalidPlan(error)
        }

        // SRAM: exactly the plan's arena, the upper guard page right after its last byte.
        var arena = hs_region()
        if hs_region_map(&arena, plan.arenaBytes) != 0 { throw .mapping(what: "arena", bytes: plan.arenaBytes) }
        defer { hs_region_unmap(&arena) }
        arena.base.update(repeating: paint, count: plan.arenaBytes)

        let emulation = UnsafeMutablePointer<hs_emulation>.allocate(capacity: 1)
        defer { emulation.deallocate() }
        let pathCopy = strdup(planPath)
        defer { free(pathCopy) }
        emulation.initialize(to: hs_emulation(
            arena_base: UInt(bitPattern: arena.base), arena_bytes: UInt(plan.arenaBytes),
            flash_base: UInt(bitPattern: flash.base), flash_bytes: UInt(planBytes.count),
            stack_limit: 0, current_op: -1, json: json ? 1 : 0, plan_path: UnsafePointer(pathCopy)))
        if hs_install_fault_handler(emulation) != 0 { throw .mapping(what: "fault handler", bytes: 0) }

        let batch = Int(plan.config.batch), features = Int(plan.config.inputFeatures)
        // The samples must fill whole rows, with a label each, or the plan's outputs of targets
        // each for a regression plan: the job indexes them without further checks.
        let samples = features > 0 ? inputs.count / features : 0
        let regression = plan.config.lossKind?.isRegression ?? false
        if samples == 0 || inputs.count % features != 0 {
            throw .data("\(inputs.count) input values do not make whole samples of \(features) features")
        }
        if regression && targets.count != samples * Int(plan.config.classes) {
            throw .data("a regression plan needs \(Int(plan.config.classes)) targets per sample, \(samples * Int(plan.config.classes)) for \(samples) samples; \(targets.count) given")
        }
        if !regression && labels.count != samples {
            throw .data("\(samples) samples but \(labels.count) labels")
        }
        let job = Job(plan: plan, arena: Arena(base: UnsafeMutableRawPointer(arena.base), bytes: plan.arenaBytes),
                      emulation: emulation, inputs: inputs, labels: labels, targets: targets, batch: batch, features: features,
                      steps: steps, injection: injection)
        var report = hs_stack_report()
        let context = Unmanaged.passRetained(job)
        hs_run_on_guarded_stack(stackBytes, { raw in
            Unmanaged<Job>.fromOpaque(raw!).takeUnretainedValue().run()
        }, context.toOpaque(), &report)
        context.release()
        if report.error != 0 { throw .thread(code: Int(report.error)) }
        if let failure = job.failure { throw failure }
        var touched = plan.arenaBytes
        while touched > 0 && arena.base[touched - 1] == paint { touched -= 1 }
        return Result(arenaBytes: plan.arenaBytes, arenaTouchedBytes: touched, flashBytes: planBytes.count, stackBytes: stackBytes,
                      stackHighWaterBytes: Int(report.high_water_bytes), heapAllocations: job.heapAllocations,
                      steps: steps, appliedSteps: job.applied, overflows: job.overflows,
                      firstLoss: job.firstLoss, lastLoss: job.lastLoss, stepWork: plan.stepWork(rows: batch),
                      familyWork: plan.familyWork(rows: batch), opsPerStep: plan.opCount)
    }

    /// Everything the training thread needs, and what it found.
    final class Job {
        let plan: Plan
        let arena: Arena
        let emulation: UnsafeMutablePointer<hs_emulation>
        let inputs: [Float16]
        let labels: [Int32]
        let targets: [Float16]
        let batch: Int, features: Int, steps: Int
        let injection: Injection?
        var heapAllocations = 0
        var applied = 0, overflows = 0
        var firstLoss: Float = .nan, lastLoss: Float = .nan
        var failure: EmulatorError?

        init(plan: Plan, arena: Arena, emulation: UnsafeMutablePointer<hs_emulation>, inputs: [Float16], labels: [Int32],
             targets: [Float16], batch: Int, features: Int, steps: Int, injection: Injection?) {
            self.targets = targets
            self.plan = plan
            self.arena = arena
            self.emulation = emulation
            self.inputs = inputs
            self.labels = labels
            self.batch = batch
            self.features = features
            self.steps = steps
            self.injection = injection
        }

        func run() {
            var trainer: Trainer
            do { trainer = try Trainer(plan: plan, arena: arena) } catch {
                failure = .invalidPlan(error)
                return
            }
            let trace = UnsafeMutableRawPointer(emulation).advanced(by: MemoryLayout<hs_emulation>.offset(of: \hs_emulation.current_op)!)
                .assumingMemoryBound(to: Int32.self)
            trainer.opTrace = trace
            let samples = inputs.count / max(1, features)
            let input = trainer.input, labelView = trainer.labels, targetView = trainer.targets
            let regression = trainer.regression, outputs = Int(plan.config.classes)
            var next = 0
            let stepBatch = plan.config.stepBatch
            func loadBatch(first: Int, count: Int) {
                // Samples `first ..< first + count` of the step starting at `next`, wrapping around.
                inputs.withUnsafeBufferPointer { src in
                    for row in 0 ..< count {
                        let s = (next + first + row) % samples
                        (input.base + row * features).update(from: src.baseAddress! + s * features, count: features)
                        if regression {
                            for e in 0 ..< outputs { targetView[row * outputs + e] = targets[s * outputs + e] }
                        } else {
                            labelView[row] = labels[s]
                        }
                    }
                }
            }
            // Warm-up steps until one applies its update (early steps may all be skipped by the
            // loss scaler), then a reset: the host Swift runtime instantiates type metadata on the
            // first use of each code path (a device build has none), which is not the plan's
            // allocation.
            var warmUp = 0
            repeat {
                warmUp += 1
            } while trainer.step(rows: stepBatch, loadMicroBatch: { _, first, count in loadBatch(first: first, count: count) }).status
                == .skippedOverflow && warmUp < 64
            trainer.reset()
            hs_heap_counting_begin()
            for step in 0 ..< steps {
                if step == 0, let injection { inject(injection) }
                let r = trainer.step(rows: stepBatch) { _, first, count in loadBatch(first: first, count: count) }
                next = (next + stepBatch) % samples
                if step == 0 { firstLoss = r.loss }
                lastLoss = r.loss
                switch r.status {
                case .applied: applied += 1
                case .skippedOverflow: overflows += 1
                case .invalidLabel(let row):
                    failure = .invalidLabel(sample: (next - stepBatch + row + samples) % samples, value: Int(labelView[row % batch]))
                    heapAllocations = hs_heap_counting_end()
                    return
                case .invalidTarget(let row):
                    failure = .invalidTarget(sample: (next - stepBatch + row + samples) % samples)
                    heapAllocations = hs_heap_counting_end()
                    return
                }
            }
            heapAllocations = hs_heap_counting_end()
        }

        func inject(_ kind: Injection) {
            emulation.pointee.current_op = 0
            switch kind {
            case .arenaOverflow: hs_inject_violation(emulation, 1)
            case .flashWrite: hs_inject_violation(emulation, 2)
            case .stackOverflow: hs_inject_violation(emulation, 3)
            case .heap:
                let box = UnsafeMutablePointer<Int>.allocate(capacity: 64)
                box.deallocate()
            }
            emulation.pointee.current_op = -1
        }
    }
}

/// Why an emulated run could not be carried out (a crossed limit is a result, not an error).
public enum EmulatorError: Error, CustomStringConvertible {
    case mapping(what: String, bytes: Int)
    case thread(code: Int)
    case invalidPlan(PlanError)
    case invalidLabel(sample: Int, value: Int)
    case invalidTarget(sample: Int)
    /// The samples handed to the run do not match the plan (a caller's mistake).
    case data(String)

    public var description: String {
        switch self {
        case .mapping(let what, let bytes): return "could not set up the emulated \(what) (\(bytes) bytes)"
        case .thread(let code): return "could not start the training thread with the part's stack (error \(code))"
        case .invalidPlan(let e): return "the core refused the plan: \(e)"
        case .invalidLabel(let sample, let value): return "label of sample \(sample) is \(value), outside the plan's classes"
        case .invalidTarget(let sample): return "a target of sample \(sample) is NaN or infinite"
        case .data(let what): return "the emulated run's data do not match the plan: \(what)"
        }
    }
}
