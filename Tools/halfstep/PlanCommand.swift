import Foundation
import HalfStepCore
import HalfStepEmulator
import HalfStepPlanner

struct PlanCommand: Command {
    let help = """
    usage: halfstep plan MODEL.onnx -o OUT.hsplan [options]

    Compiles a pretrained model into a continuation plan: fp16 storage, every buffer's arena offset
    decided now, checked against a memory budget. Everything that changes memory is chosen here.

    options:
      -o, --output PATH       where to write the plan (required)
      --batch N               samples per training step (default 32)
      --train SEL             what trains: all | biases | last:K | layers:NAME,... | none (default all)
      --optimizer NAME        sgd | adam | adamw (default sgd)
      --lr X                  learning rate (default 0.01 for sgd, 0.001 for adam/adamw)
      --loss NAME             cross-entropy (default; train with --labels) | mse | l1 | huber[:DELTA] (regression
                              against float targets shaped like the output: train with --targets); the mean
                              over the batch and every output, as PyTorch's MSELoss/L1Loss/HuberLoss
      --lr-schedule S         constant (default) | step:EVERY:GAMMA (lr x GAMMA every EVERY steps) |
                              cosine:STEPS[:MIN_LR] (cosine from --lr to MIN_LR over STEPS steps, then held)
      --warmup N              ramp the learning rate linearly over the first N steps: step t uses
                              schedule(t) x min(1, (t+1)/N) (default 0)
      --clip-grad-norm MAX    scale the gradients down when their global L2 norm (all trained tensors, after
                              unscaling) exceeds MAX, as PyTorch's clip_grad_norm_ (not with --fuse-updates)
      --momentum X            SGD momentum, or Adam beta1 (default 0 for sgd, 0.9 for adam)
      --weight-decay X        L2 (sgd, adam) or decoupled (adamw) weight decay (default 0)
      --beta2 X, --eps X      Adam's beta2 (0.999) and epsilon (1e-8, added in fp32)
      --update MODES          fp32-master | fp16 | fp16-stochastic | fp16-kahan (default fp32-master), then
                              optional per-tensor MODE:NAME entries by initializer or layer name, e.g.
                              fp16,fp32-master:4.weight,fp32-master:4.bias
      --state TYPE            optimizer state (momentum, Adam moments): fp16 | fp32 (default fp16)
      --loss-scale POLICY     none | static:S | dynamic | dynamic:INITIAL (default dynamic: PyTorch GradScaler's
                              2^16 start, x2 after --growth-interval clean steps, x0.5 and skip on inf/NaN)
      --growth-interval N     clean steps before a dynamic scale doubles (default 2000)
      --budget B              sram=SIZE,flash=SIZE, e.g. sram=64KiB,flash=256KiB (unchecked when absent)
      --target NAME|FILE      take the budget from a part's profile (`halfstep targets`): its arena region
                              less the stack when they share it, and its flash
      --reserve R             with --target: SRAM/flash kept for the rest of the firmware, sram=SIZE,flash=SIZE
      --seed N                the plan's seed (default 0; seeds stochastic rounding)
      --accumulate TYPE       dot-product accumulators: fp32 (default) or fp16 (for cores with fp16
                              arithmetic; less accurate, see docs/numerics.md)
      --fuse-updates          run each parameter's update right after its backward op, so weight gradients
                              never all live at once (an overflow then skips the rest of that step's updates)
      --train-channels F      train only the first F of each trained weight's output channels (0 < F <= 1)
      --fold-batchnorm        fold every BatchNormalization into its convolution, freezing its scale (γ);
                              without it only BatchNormalizations whose γ does not train are folded
      --relu-masks            keep a 1-bit mask instead of the fp16 output of every ReLU/ReLU6 whose output
                              nothing else in backward reads (frozen layers above it, biases-only training)
      --recompute             compute MaxPool and HardSwish outputs again in backward from the input their own
                              backward keeps, instead of keeping them from the forward pass
      --micro-batch M         run each step as --batch/M micro-batches of M samples whose weight gradients
                              are summed before one update: activations for M samples, plus an fp16
                              gradient sum per trainable tensor (not with --fuse-updates)
      --conv-panels on|off    speed for SRAM: run each convolution that is neither 1x1 nor depthwise forward
                              through an im2col panel (a planned scratch of 16 output pixels' taps) and a
                              register-blocked product, instead of the direct kernel; same results for finite
                              weights (default off; with --fit, on where the budget allows)
      --fit                   choose the levers above (what trains, channels, fused updates, update mode,
                              momentum, micro-batches, ReLU masks, recomputation, BatchNorm folding,
                              convolution panels) to fit --budget/--target while training as many parameters
                              as possible; prints what it chose and why
      --prefer ORDER          with --fit: what to keep when choosing, e.g. layers,channels,momentum,master
                              (default: trainable parameters first, then fp32 master copies, then momentum)
      --frontier FILE.svg     with --fit: write memory vs trainable parameters for every plan tried (SVG,
                              and the same as CSV next to it)
      --json                  print the plan summary as JSON on stdout

    exit status: 0 planned, 1 the model cannot be planned or does not fit the budget, 2 usage error.
    """

    func run(_ argv: [String]) throws -> ExitCode {
        let a = try Arguments(argv, verb: "plan", valued: [
            "-o", "--output", "--batch", "--train", "--optimizer", "--lr", "--momentum", "--weight-decay",
            "--beta2", "--eps", "--update", "--state", "--loss-scale", "--growth-interval", "--budget", "--seed",
            "--target", "--reserve", "--accumulate", "--train-channels", "--prefer", "--frontier",
            "--micro-batch", "--conv-panels", "--loss", "--lr-schedule", "--warmup", "--clip-grad-norm",
        ], flags: ["--json", "--fuse-updates", "--fold-batchnorm", "--fit", "--relu-masks", "--recompute"])
        let model = try a.positionals(1, "the model file (MODEL.onnx)", verb: "plan")[0]
        guard let output = a.value("-o") ?? a.value("--output") else {
            throw UsageError("-o OUT.hsplan is required", verb: "plan")
        }
        var options = try planOptions(a)
        let graph = try importModel(model)
        var fitLines: [String] = []
        if a.switches.contains("--fit") {
            (options, fitLines) = try fit(graph, options, a, source: absolutePath(model))
        } else if a.value("--frontier") != nil || a.value("--prefer") != nil {
            throw UsageError("--frontier and --prefer apply to --fit", verb: "plan")
        }
        let result = try makePlan(graph, options, source: absolutePath(model), explainLevers: true)
        guard FileManager.default.createFile(atPath: output, contents: Data(result.bytes)) else {
            throw Failure("cannot write \(output)")
        }
        var summary = PlanSummary(graph: graph, result: result, options: options, output: output)
        summary.fit = fitLines.isEmpty ? nil : fitLines
        summary.estimate = try estimate(result.bytes, options: options, target: a.value("--target"))
        if let target = a.value("--target"), let note = accumulationNote(try loadProfile(target), options) { summary.notes.append(note) }
        Terminal.out(a.switches.contains("--json") ? summary.json() : summary.text())
        return .success
    }

    /// What the part's arithmetic says about `--accumulate fp16` (the profile's `fpu`). Measured on
    /// QEMU with the digits MLP: the fp16-accumulation Dense kernels are portable code that rounds
    /// every partial sum, 24.4 instructions per MAC on the Cortex-M4F and 17.3 on the M55 against
    /// 3.2 and 2.6 with fp32 accumulation, so today it only costs, on every core.
    func accumulationNote(_ profile: TargetProfile, _ options: PlanOptions) -> String? {
        guard options.accumulateHalf else { return nil }
        switch profile.fpu {
        case .f16Arithmetic:
            return "\(profile.name)'s \(profile.core.rawValue) computes in fp16, but the fp16-accumulation kernels are portable code until Helium kernels land: about 7x the instructions per MAC of fp32 accumulation on QEMU's Cortex-M55, with every partial sum rounded to fp16; fp32 accumulation is the better choice today"
        case .f32WithF16Conversion, .none:
            return "\(profile.name)'s \(profile.core.rawValue) has no fp16 arithmetic (\(profile.fpu.rawValue)): --accumulate fp16 rounds every partial sum to fp16 and takes about 8x the instructions per MAC there; fp32 accumulation is the better choice"
        }
    }

    /// The cost model's step time: on `--target`'s core and clock, else on a Cortex-M4F (no time).
    func estimate(_ bytes: [UInt8], options: PlanOptions, target: String?) throws -> PlanSummary.StepEstimate {
        let profile = try target.map { try loadProfile($0) }
        let core = profile?.core ?? .cortexM4F
        let loaded: LoadedPlan
        do { loaded = try LoadedPlan(bytes: bytes, path: "plan") } catch { throw Failure(error.description) }
        let work = loaded.plan.familyWork(rows: Int(loaded.plan.config.batch))   // rows per micro-batch
        let model = CostModel.forCore(core)
        let instructions = model.instructions(work)
        return PlanSummary.StepEstimate(core: core.rawValue, instructionsPerStep: Int(instructions),
                                        macsPerStep: work.values.reduce(0) { $0 + $1.work.macs }, part: profile?.name,
                                        millisecondsPerStep: profile.map { instructions * model.cyclesPerInstruction / Double($0.clockHz) * 1000 })
    }

    /// Runs the `--fit` search; returns the chosen options and the lines explaining the choice.
    func fit(_ graph: Graph, _ base: PlanOptions, _ a: Arguments, source: String) throws -> (PlanOptions, [String]) {
        guard base.sramBudget != nil || base.flashBudget != nil else {
            throw UsageError("--fit needs a budget: give --budget sram=SIZE,flash=SIZE or --target NAME", verb: "plan")
        }
        var pinned = PlanFit.Pinned()
        pinned.train = a.value("--train") != nil
        pinned.channels = a.value("--train-channels") != nil
        pinned.update = a.value("--update") != nil
        pinned.momentum = a.value("--momentum") != nil
        // Clipping needs every gradient before the first update: --fit must not fuse them.
        pinned.fuse = a.switches.contains("--fuse-updates") || a.value("--clip-grad-norm") != nil
        pinned.fold = a.switches.contains("--fold-batchnorm")
        pinned.masks = a.switches.contains("--relu-masks")
        pinned.recompute = a.switches.contains("--recompute")
        pinned.microBatch = a.value("--micro-batch") != nil
        pinned.panels = a.value("--conv-panels") != nil
        var prefer = PlanFit.Objective.allCases
        if let p = a.value("--prefer") {
            var order: [PlanFit.Objective] = []
            for name in p.split(separator: ",").map(String.init) {
                guard let o = PlanFit.Objective(rawValue: name), !order.contains(o) else {
                    throw UsageError("--prefer \(p): expected a comma list of parameters, master, momentum (each once)", verb: "plan")
                }
                order.append(o)
            }
            prefer = order + PlanFit.Objective.allCases.filter { !order.contains($0) }
        }
        let quiet = a.switches.contains("--json")
        let result = PlanFit.search(graph, base: base, pinned: pinned, prefer: prefer, source: source) { done, total in
            if !quiet && (done % 25 == 0 || done == total) { Terminal.progress("fit: measured \(done)/\(total) plans", final: done == total) }
        }
        if let frontier = a.value("--frontier") {
            let csvPath = (frontier as NSString).deletingPathExtension + ".csv"
            guard FileManager.default.createFile(atPath: frontier, contents: Data(PlanFit.svg(result, budget: base.sramBudget).utf8)),
                  FileManager.default.createFile(atPath: csvPath, contents: Data(PlanFit.csv(result).utf8)) else {
                throw Failure("cannot write \(frontier) or \(csvPath)")
            }
            if !quiet { Terminal.progress("fit: wrote \(frontier) and \(csvPath)", final: true) }
        }
        guard let best = result.best, let lines = result.summaryLines(sramBudget: base.sramBudget, flashBudget: base.flashBudget) else {
            throw Failure(result.noFitExplanation(sramBudget: base.sramBudget, flashBudget: base.flashBudget),
                          hint: "raise the budget to at least the figures above, or lower the batch size")
        }
        var chosen = best.options
        chosen.sramBudget = base.sramBudget
        chosen.flashBudget = base.flashBudget
        return (chosen, lines)
    }

    func planOptions(_ a: Arguments) throws -> PlanOptions {
        var o = PlanOptions()
        o.batch = try a.int("--batch", in: 1 ... 65535, default: 32, verb: "plan")
        if let t = a.value("--train") { o.train = try PlanOptions.parseTrain(t) }
        if let t = a.value("--optimizer") { o.optimizer = try PlanOptions.parseOptimizer(t) }
        if let t = a.value("--loss") { o.loss = try PlanOptions.parseLoss(t) }
        if let t = a.value("--lr-schedule") { o.schedule = try PlanOptions.parseSchedule(t) }
        o.warmupSteps = try a.int("--warmup", in: 0 ... PlanFormat.maxElements, default: 0, verb: "plan")
        o.clipGradNorm = try a.float("--clip-grad-norm", default: nil, verb: "plan")
        o.learningRate = try a.float("--lr", default: o.optimizer == .sgd ? 0.01 : 0.001, verb: "plan")!
        o.momentum = try a.float("--momentum", default: nil, verb: "plan")
        o.weightDecay = try a.float("--weight-decay", default: 0, verb: "plan")!
        o.beta2 = try a.float("--beta2", default: 0.999, verb: "plan")!
        o.epsilon = try a.float("--eps", default: 1e-8, verb: "plan")!
        if let u = a.value("--update") { (o.update, o.updateOverrides) = try PlanOptions.parseUpdateList(u) }
        if let s = a.value("--state") { o.state = try PlanOptions.parseState(s) }
        let interval = try a.int("--growth-interval", in: 1 ... Int(UInt32.max), default: 2000, verb: "plan")
        o.lossScale = try PlanOptions.parseLossScale(a.value("--loss-scale") ?? "dynamic", growthInterval: interval)
        if let b = a.value("--budget") { (o.sramBudget, o.flashBudget) = try PlanOptions.parseBudget(b) }
        if a.value("--reserve") != nil && a.value("--target") == nil {
            throw UsageError("--reserve applies to a --target's budget; give --target too", verb: "plan")
        }
        if let target = a.value("--target") {
            if a.value("--budget") != nil { throw UsageError("give --target or --budget, not both", verb: "plan") }
            let profile = try loadProfile(target)
            let reserve: (sram: Int, flash: Int) = try a.value("--reserve").map { r throws in try parseReserve(r) } ?? (0, 0)
            o.sramBudget = profile.sramBudget(reserving: reserve.sram)
            o.flashBudget = profile.flashBudget(reserving: reserve.flash)
            if o.sramBudget! <= 0 || o.flashBudget! <= 0 {
                throw Failure("--reserve \(a.value("--reserve") ?? "") leaves no SRAM or flash on \(profile.name) (\(profile.arenaRegionBytes) B arena region, \(profile.flashBytes) B flash)")
            }
        }
        o.seed = UInt32(try a.int("--seed", in: 0 ... Int(UInt32.max), default: 0, verb: "plan"))
        switch a.value("--accumulate") ?? "fp32" {
        case "fp32": o.accumulateHalf = false
        case "fp16": o.accumulateHalf = true
        case let other: throw UsageError("--accumulate \(other): expected fp32 or fp16", verb: "plan")
        }
        o.fuseUpdates = a.switches.contains("--fuse-updates")
        o.activationMasks = a.switches.contains("--relu-masks")
        o.recompute = a.switches.contains("--recompute")
        if a.value("--micro-batch") != nil {
            o.microBatch = try a.int("--micro-batch", in: 1 ... 65535, default: 1, verb: "plan")
        }
        o.foldBatchNorm = a.switches.contains("--fold-batchnorm")
        switch a.value("--conv-panels") {
        case nil, "off": o.convPanels = false
        case "on": o.convPanels = true
        case let other?: throw UsageError("--conv-panels \(other): expected on or off", verb: "plan")
        }
        if let f = a.value("--train-channels") {
            guard let v = Double(f) else { throw UsageError("--train-channels \(f): expected a fraction 0 < F <= 1, e.g. 0.25", verb: "plan") }
            o.trainedChannelFraction = v
        }
        do { try o.validate() } catch { throw UsageError(error.description, verb: "plan") }
        return o
    }
}

/// Plans `graph`, turning planner errors into a `Failure` with a hint where one helps.
func makePlan(_ graph: Graph, _ options: PlanOptions, source: String, explainLevers: Bool = false) throws -> Planner.Result {
    do {
        return try Planner.plan(graph, options: options, source: source, explainLevers: explainLevers)
    } catch {
        if case .overBudget = error {
            throw Failure(error.description, hint: "raise the budget (or reserve less) or apply one of the changes above")
        }
        throw Failure(error.description)
    }
}

/// Reads an ONNX model into the planner's graph, turning import errors into a `Failure`.
func importModel(_ path: String) throws -> Graph {
    do {
        return try ONNXImporter.importGraph(path: path)
    } catch {
        throw Failure("\(error)")
    }
}

func absolutePath(_ path: String) -> String {
    URL(fileURLWithPath: path).standardizedFileURL.path
}
