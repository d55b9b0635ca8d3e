import Foundation
import HalfStepCore
import HalfStepEmulator
import HalfStepPlanner

/// The bundled examples `bench` measures.
enum BenchModel: String, CaseIterable {
    case mlp, cnn, strided, mobilenetv2

    var title: String {
        switch self {
        case .mlp: return "digits MLP"
        case .cnn: return "digits CNN"
        case .strided: return "strided CNN"
        case .mobilenetv2: return "MobileNetV2"
        }
    }
}

/// One example's plans: the one timed on the host beside PyTorch, and the one counted on QEMU and
/// priced on the part profiles (the figures the convolution targets are stated in).
struct BenchPlan {
    var model: BenchModel
    /// Host timing: every layer trained, SGD momentum 0.9, at `hostBatch`.
    var host: [UInt8]
    var hostBatch: Int
    /// The plan QEMU runs and the part estimates price, and a short description of it.
    var device: LoadedPlan
    /// `device`'s bytes (its flash image).
    var deviceBytes: [UInt8]
    var deviceBatch: Int
    var deviceDescription: String
    var deviceSteps: Int
    var data: Dataset
}

/// The sections of `halfstep bench`, each returning its JSON and its text.
struct Bench {
    var examples: String
    var python: String
    var quiet: Bool

    func note(_ s: String) { if !quiet { Terminal.err(s) } }

    var script: String { URL(fileURLWithPath: examples).deletingLastPathComponent().appendingPathComponent("bench/pytorch_step.py").path }

    /// PyTorch's steps/s for `model` per batch size, from Tools/bench/pytorch_step.py in this run
    /// (empty when the Python has no torch).
    func torch(_ model: BenchModel, batches: [Int], steps: Int) -> [Int: Double] {
        note("timing PyTorch \(model.title) (\(python) \(script))...")
        var result: [Int: Double] = [:]
        let arguments = [script, "--model", model.rawValue, "--batches", batches.map(String.init).joined(separator: ","), "--steps", "\(steps)"]
        if let out = try? capture(python, arguments) {
            for line in out.split(separator: "\n") {
                if let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                   let b = o["batch"] as? Int, let s = o["steps_per_second"] as? Double { result[b] = s }
            }
        }
        if result.isEmpty { note("PyTorch not available (pass --python PATH to a Python with torch); its column stays empty") }
        return result
    }

    // MARK: - The digits MLP on the host

    func mlp(batches: [Int], steps: Int) throws -> ([String: Any], String) {
        let dir = examples + "/digits", model = dir + "/mlp.onnx"
        let graph = try importModel(model)
        let torch = torch(.mlp, batches: batches, steps: steps)
        var rows: [[String]] = []
        var results: [[String: Any]] = []
        for batch in batches {
            for update in [UpdateMode.fp32Master, .fp16] {
                var o = PlanOptions()
                o.batch = batch
                o.optimizer = .sgd
                o.learningRate = 0.05
                o.momentum = 0.9
                o.update = update
                let plan = try makePlan(graph, o, source: model)
                let loaded = try LoadedPlan(bytes: plan.bytes, path: "bench")
                let data = try loadData(inputs: dir + "/shifted-train-x.npy", labels: dir + "/shifted-train-y.npy", session: try makeSession(loaded))
                note("timing the digits MLP, batch \(batch), \(update.name)...")
                let sps = try Benchmark.stepsPerSecond(plan: plan.bytes, data: data, steps: steps)
                let ratio = torch[batch].map { sps / $0 }
                rows.append(["\(batch)", update.name, String(format: "%.0f", sps),
                             torch[batch].map { String(format: "%.0f", $0) } ?? "-", ratio.map { String(format: "%.2fx", $0) } ?? "-",
                             "\(plan.memory.arenaBytes)", "\(plan.memory.lowerBoundBytes)", "\(plan.memory.fp32ArenaBytes)"])
                results.append(["batch": batch, "update": update.name, "steps_per_second": sps,
                                "pytorch_steps_per_second": torch[batch] as Any, "ratio_to_pytorch": ratio as Any,
                                "arena_bytes": plan.memory.arenaBytes, "lower_bound_bytes": plan.memory.lowerBoundBytes,
                                "fp32_arena_bytes": plan.memory.fp32ArenaBytes])
            }
        }
        note("timing Dense kernels (64x64, batch 32)...")
        let dense = Benchmark.denseMACsPerSecond(rows: 32, k: 64, m: 64, iterations: max(200, steps))
        let clockMHz = cpuMHz()
        // AVX2 + FMA: two 8-lane FMA units per core, 16 MACs per cycle.
        let peak = clockMHz.map { $0 * 1e6 * 16 }

        var object: [String: Any] = ["plans": results, "dense_forward_macs_per_second": dense.forward,
                                     "dense_backward_macs_per_second": dense.backward]
        if let peak { object["fma_peak_macs_per_second"] = peak; object["dense_fraction_of_peak"] = dense.forward / peak }
        var s = "digits MLP 64-64-32-10, SGD momentum 0.9, one thread (steps/s: best of 3 runs of \(steps) steps)\n"
        s += TextTable(["batch", "update", "HalfStep steps/s", "PyTorch steps/s", "ratio", "arena B", "bound B", "fp32 arena B"], rows: rows).render()
        s += String(format: "\n\nDense 64x64, batch 32: forward %.2f GMAC/s, backward %.2f GMAC/s", dense.forward / 1e9, dense.backward / 1e9)
        if let peak, let mhz = clockMHz {
            s += String(format: " (%.1f%% / %.1f%% of the %.0f GMAC/s FMA peak at %.0f MHz)", 100 * dense.forward / peak, 100 * dense.backward / peak, peak / 1e9, mhz)
        }
        return (object, s)
    }

    // MARK: - Plans

    /// `model`'s host and device plans and its data.
    func plan(_ model: BenchModel) throws -> BenchPlan {
        note("planning the \(model.title)...")
        switch model {
        case .mlp:
            let dir = examples + "/digits", path = dir + "/mlp.onnx"
            let graph = try importModel(path)
            var o = PlanOptions()
            o.batch = 32
            o.momentum = 0.9
            o.learningRate = 0.05
            o.update = .fp16
            let bytes = try makePlan(graph, o, source: path).bytes
            let device = try LoadedPlan(bytes: bytes, path: "bench-mlp")
            let data = try loadData(inputs: dir + "/shifted-train-x.npy", labels: dir + "/shifted-train-y.npy", session: try makeSession(device))
            return BenchPlan(model: model, host: bytes, hostBatch: 32, device: device, deviceBytes: bytes, deviceBatch: 32,
                             deviceDescription: "batch 32, fp16 updates", deviceSteps: 3, data: data)
        case .cnn:
            return try digitsConvolutional(model, path: examples + "/digits-cnn/model.onnx")
        case .strided:
            // Issue 13's host figure: two 3x3 convolutions (one strided) and a Linear layer.
            return try digitsConvolutional(model, path: examples + "/strided-cnn/model.onnx")
        case .mobilenetv2:
            let dir = examples + "/mobilenetv2", path = dir + "/model.onnx"
            let graph = try importModel(path)
            var o = PlanOptions()
            o.batch = 1
            o.momentum = 0.9
            o.learningRate = 0.01
            let host = try makePlan(graph, o, source: path).bytes
            // The device plan is `plan --batch 1 --fit --budget sram=256KiB,flash=1MiB`'s.
            o = PlanOptions()
            o.batch = 1
            o.sramBudget = 256 * 1024
            o.flashBudget = 1024 * 1024
            note("choosing MobileNetV2's plan for 256 KiB SRAM / 1 MiB flash (plan --fit)...")
            guard let best = PlanFit.search(graph, base: o, pinned: PlanFit.Pinned(), source: path).best else {
                throw Failure("MobileNetV2 does not fit 256 KiB SRAM / 1 MiB flash: `halfstep plan \(path) --batch 1 --fit --budget sram=256KiB,flash=1MiB` says why")
            }
            var chosen = best.options
            chosen.sramBudget = o.sramBudget
            chosen.flashBudget = o.flashBudget
            let bytes = try makePlan(graph, chosen, source: path).bytes
            let device = try LoadedPlan(bytes: bytes, path: "bench-mobilenetv2")
            let data = try loadData(inputs: dir + "/batch-x.npy", labels: dir + "/batch-y.npy", session: try makeSession(device))
            return BenchPlan(model: model, host: host, hostBatch: 1, device: device, deviceBytes: bytes, deviceBatch: 1,
                             deviceDescription: "batch 1, --fit for 256 KiB / 1 MiB", deviceSteps: 2, data: data)
        }
    }

    /// A CNN on the digits read as 1×8×8: timed on the host at batch 32 with every layer trained
    /// (SGD lr 0.005, momentum 0.9, as PyTorch's side runs it), counted on QEMU as `plan --batch 8
    /// --train all` plans it, as the convolution figures are stated.
    func digitsConvolutional(_ model: BenchModel, path: String) throws -> BenchPlan {
        let dir = examples + "/digits"
        let graph = try importModel(path)
        var o = PlanOptions()
        o.momentum = 0.9
        o.learningRate = 0.005
        o.batch = 32
        let host = try makePlan(graph, o, source: path).bytes
        o = PlanOptions()
        o.batch = 8
        let bytes = try makePlan(graph, o, source: path).bytes
        let device = try LoadedPlan(bytes: bytes, path: "bench-\(model.rawValue)")
        let data = try loadData(inputs: dir + "/shifted-train-x.npy", labels: dir + "/shifted-train-y.npy", session: try makeSession(device))
        return BenchPlan(model: model, host: host, hostBatch: 32, device: device, deviceBytes: bytes, deviceBatch: 8,
                         deviceDescription: "batch 8, --train all", deviceSteps: 3, data: data)
    }

    // MARK: - Convolutional networks on the host

    func hostSteps(_ plans: [BenchPlan], steps: Int) throws -> ([[String: Any]], String) {
        var rows: [[String]] = []
        var results: [[String: Any]] = []
        for p in plans {
            let timed = p.model == .mobilenetv2 ? max(5, steps / 100) : max(10, steps / 4)
            let torch = torch(p.model, batches: [p.hostBatch], steps: timed)[p.hostBatch]
            note("timing the \(p.model.title), batch \(p.hostBatch), \(timed) steps...")
            let sps = try Benchmark.stepsPerSecond(plan: p.host, data: p.data, steps: timed)
            let ratio = torch.map { sps / $0 }
            let loaded = try LoadedPlan(bytes: p.host, path: "bench")
            let macs = loaded.plan.stepWork(rows: p.hostBatch).macs
            rows.append([p.model.title, "\(p.hostBatch)", "\(macs)", String(format: "%.1f", sps), torch.map { String(format: "%.1f", $0) } ?? "-",
                         ratio.map { String(format: "%.2fx", $0) } ?? "-", String(format: "%.2f", sps * Double(macs) / 1e9)])
            results.append(["model": p.model.rawValue, "batch": p.hostBatch, "macs_per_step": macs, "steps": timed, "steps_per_second": sps,
                            "pytorch_steps_per_second": torch as Any, "ratio_to_pytorch": ratio as Any])
        }
        var s = "convolutional networks on the host, every layer trained, SGD momentum 0.9, one thread (steps/s: best of 3 runs)\n"
        s += TextTable(["model", "batch", "MACs/step", "HalfStep steps/s", "PyTorch steps/s", "ratio", "HalfStep GMAC/s"], rows: rows).render()
        return (results, s)
    }

    // MARK: - QEMU instruction counts

    func qemu(_ plans: [BenchPlan], boards: [QEMURunner.Board]) throws -> ([[String: Any]], String) {
        var runs: [(plan: BenchPlan, board: QEMURunner.Board, validation: QEMUValidation)] = []
        for p in plans {
            for board in boards {
                note("counting instructions: \(p.model.title) (\(p.deviceDescription)) on QEMU \(board.rawValue)...")
                let profile = try loadProfile(board.rawValue)
                do {
                    let v = try QEMUValidation.run(loaded: p.device, data: p.data, profile: profile, board: board, reserve: (0, 0),
                                                   steps: p.deviceSteps, seed: 0,
                                                   workDirectory: NSTemporaryDirectory() + "halfstep-bench-\(getpid())-\(p.model.rawValue)-\(board.rawValue)")
                    guard v.passed else { throw Failure("the \(p.model.title) run on \(board.rawValue) failed: \(v.device.fault ?? v.mismatch.map(\.description) ?? "exit \(v.device.exitStatus)")") }
                    runs.append((p, board, v))
                } catch let error as QEMUValidationError {
                    throw Failure("the \(p.model.title) run on \(board.rawValue): \(error.description)")
                }
            }
        }
        let columns = runs.map { "\($0.plan.model.title) \($0.board.shortName)" }
        var results: [[String: Any]] = []
        var step: [[String]] = [["instructions per step"], ["MACs per step"], ["instructions per MAC"], ["cost model residual"]]
        var present = Set<KernelFamily>()
        for r in runs {
            let v = r.validation
            let residual = v.modelInstructionsPerStep / v.instructionsPerStep - 1
            step[0].append("\(Int(v.instructionsPerStep))")
            step[1].append("\(v.macsPerStep)")
            step[2].append(String(format: "%.2f", v.instructionsPerStep / Double(max(1, v.macsPerStep))))
            step[3].append(String(format: "%+.1f%%", residual * 100))
            var byFamily: [String: Any] = [:]
            let counts = v.familyCounts()
            for family in KernelFamily.all {
                guard let c = counts[family] else { continue }
                byFamily["\(family)"] = ["instructions": c.instructions, "fixed_instructions": c.fixed, "macs": c.macs, "ops": c.ops,
                                         "kernel_instructions_per_mac": c.kernelInstructionsPerMAC as Any,
                                         "instructions_per_element": (c.macs == 0 ? Double(c.instructions - c.fixed) / Double(max(1, c.elementwise)) : nil) as Any]
                present.insert(family)
            }
            results.append(["model": r.plan.model.rawValue, "plan": r.plan.deviceDescription, "board": r.board.rawValue,
                            "instructions_per_step": Int(v.instructionsPerStep), "macs_per_step": v.macsPerStep,
                            "instructions_per_mac": v.instructionsPerStep / Double(max(1, v.macsPerStep)),
                            "model_instructions_per_step": Int(v.modelInstructionsPerStep), "model_residual": residual,
                            "bit_exact": v.mismatch == nil, "families": byFamily])
        }
        var familyRows: [[String]] = []
        for family in KernelFamily.all where present.contains(family) {
            var row = ["\(family)"]
            for r in runs {
                let c = r.validation.familyCounts()[family]
                if let c, let perMAC = c.kernelInstructionsPerMAC {
                    row.append(String(format: "%.2f", perMAC))
                } else if let c, c.elementwise > 0 {
                    row.append(String(format: "%.2f/elem", Double(c.instructions - c.fixed) / Double(c.elementwise)))
                } else {
                    row.append("-")
                }
            }
            familyRows.append(row)
        }
        var s = "QEMU instruction counts (-icount, exact): " + runs.map { "\($0.plan.model.title) \($0.plan.deviceDescription)" }
            .reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }.joined(separator: "; ") + "\n"
        s += TextTable(["whole step"] + columns, rows: step).render()
        s += "\n\nper kernel family, instructions per MAC beyond each op's fixed part (elementwise families: per element operation)\n"
        s += TextTable(["kernel family"] + columns, rows: familyRows).render()
        s += "\n(the loss and the updates are not timed per op on the device; the whole step includes them)"
        return (results, s)
    }

    // MARK: - Part estimates

    func estimates(_ plans: [BenchPlan]) throws -> ([[String: Any]], String) {
        let profiles: [TargetProfile]
        do { profiles = try TargetProfile.bundled() } catch { throw Failure(error.description) }
        var results: [[String: Any]] = []
        var rows: [[String]] = []
        for profile in profiles {
            let model = CostModel.forCore(profile.core)
            var row = [profile.name, "\(profile.core.rawValue) \(profile.clockHz / 1_000_000) MHz"]
            for p in plans {
                let cycles = model.cycles(p.device.plan.familyWork(rows: p.deviceBatch))
                let ms = cycles / Double(profile.clockHz) * 1000
                let fits = p.device.plan.arenaBytes <= profile.arenaRegionBytes && p.deviceBytes.count <= profile.flashBytes
                row.append(String(format: ms >= 100 ? "%.0f" : "%.2f", ms) + (fits ? "" : " (no fit)"))
                results.append(["model": p.model.rawValue, "plan": p.deviceDescription, "profile": profile.name, "core": profile.core.rawValue,
                                "clock_hz": profile.clockHz, "cycles_per_step": cycles, "ms_per_step": ms, "fits": fits])
            }
            rows.append(row)
        }
        var s = "estimated ms per training step (cost model; \"no fit\": the plan's arena or flash exceeds the part's)\n"
        s += TextTable(["part", "core"] + plans.map { "\($0.model.title) \($0.deviceDescription)" }, rows: rows).render()
        return (results, s)
    }
}
