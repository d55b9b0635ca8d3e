import Foundation
import HalfStepCore

/// `plan --fit`: searches the planner's levers for the plan that fits a budget while training as
/// much of the network as it can.
///
/// The search is exhaustive over a small grid: what trains (`all`, `last:K` for every K,
/// `biases`) × the fraction of output channels a trained weight updates (1, ½, ¼, ⅛) × fp32 master
/// copies or pure fp16 × momentum or none × (for batches above 1) the whole batch or micro-batches
/// of 1. ReLU masks and recomputation, which save memory and never change a result bit, are
/// switched on; BatchNorm folding (which freezes γ: the trained-element count shows it) and fused
/// updates are searched with on. Fused updates are not free under dynamic loss scaling (an
/// overflow found part-way through backward stops the step's remaining updates, but the earlier
/// ones have applied), so the chosen plan keeps them only when the same plan without them does not
/// fit. Every lever the user set on the command line is pinned. Candidates that fit are ranked by
/// the `prefer` order, then whole batches before micro-batches (they cost time, not accuracy),
/// then the smaller arena.
public enum PlanFit {
    /// What the ranking values, in order.
    public enum Objective: String, Sendable, CaseIterable {
        /// More parameter elements trained.
        case parameters
        /// fp32 master copies rather than pure fp16 updates.
        case master
        /// Momentum kept rather than dropped.
        case momentum
    }

    /// The levers a user pinned on the command line (the search leaves them as given).
    public struct Pinned: Sendable, Equatable {
        public var train = false, channels = false, update = false, momentum = false, fuse = false, fold = false
        public var masks = false, recompute = false, microBatch = false, panels = false
        public init() {}
    }

    /// One plan the search measured.
    public struct Candidate: Sendable, Equatable {
        public var options: PlanOptions
        public var arenaBytes: Int
        public var lowerBoundBytes: Int
        public var flashBytes: Int
        public var trainedElements: Int
        public var fits: Bool

        /// The levers as command-line flags, e.g. `--train last:3 --train-channels 0.5 --update fp16`.
        public var flags: String {
            var f = ["--train \(options.train)"]
            if options.trainedChannelFraction < 1 { f.append("--train-channels \(formatFraction(options.trainedChannelFraction))") }
            f.append("--update \(options.update.name)")
            if options.optimizer == .sgd { f.append("--momentum \(formatFraction(Double(options.effectiveMomentum)))") }
            if options.fuseUpdates { f.append("--fuse-updates") }
            if options.foldBatchNorm { f.append("--fold-batchnorm") }
            if options.activationMasks { f.append("--relu-masks") }
            if options.recompute { f.append("--recompute") }
            if let m = options.microBatch, m < options.batch { f.append("--micro-batch \(m)") }
            if options.convPanels { f.append("--conv-panels on") }
            return f.joined(separator: " ")
        }
    }

    public struct Result: Sendable {
        /// The chosen plan's options, nil when nothing fits.
        public var best: Candidate?
        /// Every candidate measured, in search order.
        public var tried: [Candidate]
        /// Why the choice was made, one line per decision.
        public var reasons: [String]
        /// The candidate needing the least SRAM (what to ask for when nothing fits).
        public var smallest: Candidate?
    }

    /// Runs the search. `progress(done, total)` is called as candidates are measured.
    public static func search(_ graph: Graph, base: PlanOptions, pinned: Pinned, prefer: [Objective] = Objective.allCases,
                              source: String, progress: (Int, Int) -> Void = { _, _ in }) -> Result {
        let layers = ProgramBuilder.layerNames(graph)
        var selections: [PlanOptions.TrainSelection] = [base.train]
        if !pinned.train {
            selections = [.all] + stride(from: layers.count - 1, through: 1, by: -1).map { .last($0) } + [.biases]
        }
        let fractions = pinned.channels ? [base.trainedChannelFraction] : [1, 0.5, 0.25, 0.125]
        let updates: [UpdateMode] = pinned.update ? [base.update] : [.fp32Master, .fp16]
        let momenta: [Float?] = pinned.momentum || base.effectiveMomentum == 0 ? [base.momentum] : [base.momentum, 0]
        let micros: [Int?] = pinned.microBatch || base.batch == 1 ? [base.microBatch] : [nil, 1]

        var grid: [PlanOptions] = []
        for selection in selections {
            for fraction in fractions {
                if selection == .biases && fraction < 1 { continue }   // fractions apply to weights
                for update in updates {
                    for momentum in momenta {
                        for micro in micros {
                            var o = base
                            o.train = selection
                            o.trainedChannelFraction = fraction
                            if !pinned.update { o.update = update; o.updateOverrides = [:] }
                            o.momentum = momentum
                            o.microBatch = micro
                            let split = (micro ?? o.batch) < o.batch
                            // Fused updates cannot wait for other micro-batches' gradients.
                            if !pinned.fuse { o.fuseUpdates = !split && o.clipGradNorm == nil }
                            if o.fuseUpdates && split { continue }
                            if !pinned.fold { o.foldBatchNorm = true }
                            if !pinned.masks { o.activationMasks = true }
                            if !pinned.recompute { o.recompute = true }
                            o.sramBudget = nil
                            o.flashBudget = nil
                            grid.append(o)
                        }
                    }
                }
            }
        }
        var tried: [Candidate] = []
        func key(_ c: Candidate, _ objective: Objective) -> Int {
            switch objective {
            case .parameters: return c.trainedElements
            case .master: return c.options.update == .fp32Master ? 1 : 0
            case .momentum: return c.options.effectiveMomentum > 0 ? 1 : 0
            }
        }
        func better(_ a: Candidate, _ b: Candidate) -> Bool {
            for objective in prefer where key(a, objective) != key(b, objective) { return key(a, objective) > key(b, objective) }
            let splitA = (a.options.microBatch ?? a.options.batch) < a.options.batch
            let splitB = (b.options.microBatch ?? b.options.batch) < b.options.batch
            if splitA != splitB { return !splitA }
            return a.arenaBytes < b.arenaBytes
        }
        func measureCandidate(_ o: PlanOptions) -> Candidate? {
            guard let m = try? Planner.measure(graph, options: o, source: source) else { return nil }
            let fits = (base.sramBudget.map { m.arenaBytes <= $0 } ?? true) && (base.flashBudget.map { m.flashBytes <= $0 } ?? true)
            let c = Candidate(options: o, arenaBytes: m.arenaBytes, lowerBoundBytes: m.lowerBoundBytes, flashBytes: m.flashBytes,
                              trainedElements: m.trainedElements, fits: fits)
            tried.append(c)
            return c
        }
        for (i, o) in grid.enumerated() {
            progress(i, grid.count)
            _ = measureCandidate(o)
        }
        progress(grid.count, grid.count)

        // Greedy phase: suffixes of the network are all the grid tries, but what fits best is often
        // a suffix plus a few more layers or biases lower down (their backward is cheap when the
        // activations there are small). Starting from the best fitting grid plan, try each layer
        // (weights and biases) and each layer's biases alone, largest gain first, and keep every
        // addition that still fits.
        var greedyAdded: [String] = []
        var preferUnfused: Candidate? = nil
        if !pinned.train, base.sramBudget != nil || base.flashBudget != nil,
           var current = tried.filter({ $0.fits && $0.trainedElements > 0 }).min(by: { better($0, $1) }) {
            let units = ProgramBuilder.layerBiases(graph)
            var chosen = selectedNames(current.options.train, units)
            var additions: [(name: String, names: [String], candidate: Candidate)] = []
            for unit in units where !unit.biases.isEmpty || !chosen.contains(unit.layer) {
                for names in [[unit.layer], unit.biases] where !names.isEmpty && !names.allSatisfy({ chosen.contains($0) }) {
                    var o = current.options
                    o.train = .layers((chosen.union(names)).sorted())
                    guard let c = measureCandidate(o) else { continue }
                    if c.fits && c.trainedElements > current.trainedElements { additions.append((names == [unit.layer] ? unit.layer : "biases of \(unit.layer)", names, c)) }
                }
            }
            additions.sort { ($0.candidate.trainedElements, $1.name) > ($1.candidate.trainedElements, $0.name) }
            for addition in additions where !addition.names.allSatisfy({ chosen.contains($0) }) {
                var o = current.options
                o.train = .layers((chosen.union(addition.names)).sorted())
                guard let c = measureCandidate(o), c.fits, c.trainedElements > current.trainedElements else { continue }
                chosen.formUnion(addition.names)
                current = c
                greedyAdded.append(addition.name)
            }
        }

        // Fused updates only where they are needed to fit.
        var unfusedNote: String? = nil
        if !pinned.fuse, let chosen = tried.filter({ $0.fits && $0.trainedElements > 0 }).min(by: { better($0, $1) }),
           chosen.options.fuseUpdates {
            var o = chosen.options
            o.fuseUpdates = false
            if let c = measureCandidate(o) {
                unfusedNote = c.fits
                    ? "updates not fused: the plan fits without (\(c.arenaBytes) B), so an overflowing step leaves every weight untouched"
                    : "updates fused: without that the plan needs \(c.arenaBytes) B (an overflow found part-way through backward skips only the later updates of that step)"
                if c.fits { preferUnfused = c }
            }
        }
        let fitting = tried.filter { $0.fits && $0.trainedElements > 0 }
        var best = preferUnfused ?? fitting.min { better($0, $1) }

        // Convolution panels, a speed lever, only where the budget leaves room for them.
        var panelNote: String? = nil
        if !pinned.panels, let chosen = best, !chosen.options.convPanels,
           graph.nodes.contains(where: { if case .conv(_, _, let w) = $0.op { return ConvolutionPanelPass.applies(to: w) }; return false }) {
            var o = chosen.options
            o.convPanels = true
            if let c = measureCandidate(o) {
                if c.fits {
                    best = c
                    panelNote = "convolution panels on (faster forward convolutions): the arena grows by \(c.arenaBytes - chosen.arenaBytes) B to \(c.arenaBytes) B, within the budget"
                } else {
                    panelNote = "convolution panels off: with them the plan needs \(c.arenaBytes) B SRAM, \(c.flashBytes) B flash"
                }
            }
        }
        let smallest = tried.filter { $0.trainedElements > 0 }.min { ($0.arenaBytes, $0.flashBytes) < ($1.arenaBytes, $1.flashBytes) }

        var reasons: [String] = []
        reasons.append("measured \(tried.count) plans: \(selections.count) choices of what trains × \(fractions.count) channel fractions × \(updates.count) update modes × \(momenta.count) momentum settings × \(micros.count) micro-batch settings\(pinned.fuse ? "" : ", updates fused (whole batches)")\(pinned.fold ? "" : ", BatchNorm folded")\(pinned.masks ? "" : ", ReLU masks")\(pinned.recompute ? "" : ", recomputation")")
        if !greedyAdded.isEmpty {
            reasons.append("greedy phase added \(greedyAdded.count) unit\(greedyAdded.count == 1 ? "" : "s") to the best suffix: \(greedyAdded.prefix(6).joined(separator: ", "))\(greedyAdded.count > 6 ? ", …" : "")")
        }
        if let unfusedNote { reasons.append(unfusedNote) }
        if let panelNote { reasons.append(panelNote) }
        if let best {
            reasons.append("\(fitting.count) fit; ranked by \(prefer.map(\.rawValue).joined(separator: ", ")), then the smaller arena")
            let most = tried.max { $0.trainedElements < $1.trainedElements }!
            if best.trainedElements < most.trainedElements {
                reasons.append("training more (\(most.flags): \(most.trainedElements) elements) needs \(most.arenaBytes) B SRAM, \(most.flashBytes) B flash")
            }
            if !pinned.update && best.options.update == .fp16,
               let master = fitting.filter({ $0.options.update == .fp32Master }).min(by: { better($0, $1) }) {
                reasons.append("fp32 master copies fit only with \(master.trainedElements) trained elements (\(master.flags))")
            } else if !pinned.update && best.options.update == .fp16 {
                reasons.append("no plan with fp32 master copies fits")
            }
        }
        return Result(best: best, tried: tried, reasons: reasons, smallest: smallest)
    }

    /// The trade-off as CSV: one row per candidate.
    public static func csv(_ result: Result) -> String {
        var s = "train,train_channels,update,momentum,micro_batch,fuse_updates,fold_batchnorm,relu_masks,recompute,conv_panels,trained_elements,arena_bytes,lower_bound_bytes,flash_bytes,fits,chosen\n"
        for c in result.tried {
            let o = c.options
            // The selection may hold commas (`layers:a,b`): quoted, as CSV does.
            s += "\"\(o.train)\",\(formatFraction(o.trainedChannelFraction)),\(o.update.name),\(formatFraction(Double(o.effectiveMomentum))),\(o.microBatch ?? o.batch),\(o.fuseUpdates),\(o.foldBatchNorm),\(o.activationMasks),\(o.recompute),\(o.convPanels),"
            s += "\(c.trainedElements),\(c.arenaBytes),\(c.lowerBoundBytes),\(c.flashBytes),\(c.fits),\(c == result.best)\n"
        }
        return s
    }

    /// The trade-off as SVG: SRAM against trained elements for every candidate, the budget as a
    /// line, fitting plans filled, the chosen one ringed, and the frontier (the least SRAM for at
    /// least so many trained elements) drawn through.
    public static func svg(_ result: Result, budget: Int?) -> String {
        let points = result.tried.filter { $0.trainedElements > 0 }
        guard !points.isEmpty else { return SVGChart.empty("memory vs trainable parameters", 640, 400) }
        let width = 720.0, height = 440.0, left = 80.0, right = 30.0, top = 40.0, bottom = 50.0
        let pw = width - left - right, ph = height - top - bottom
        let xs = points.map { log10(Double($0.trainedElements)) }
        let ys = points.map { Double($0.arenaBytes) / 1024 } + (budget.map { [Double($0) / 1024] } ?? [])
        let x0 = floor(xs.min()!), x1 = max(ceil(xs.max()!), x0 + 1)
        let y0 = 0.0, y1 = ys.max()! * 1.05
        func px(_ e: Int) -> Double { left + (log10(Double(e)) - x0) / (x1 - x0) * pw }
        func py(_ kib: Double) -> Double { top + ph - (kib - y0) / (y1 - y0) * ph }
        var s = SVGChart.header("memory vs trainable parameters", width, height)
        s += "<text x=\"\(left)\" y=\"22\" font-size=\"14\">SRAM arena vs parameter elements trained (\(points.count) plans tried)</text>\n"
        s += "<line x1=\"\(left)\" y1=\"\(top + ph)\" x2=\"\(left + pw)\" y2=\"\(top + ph)\" stroke=\"black\"/>\n"
        s += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(top + ph)\" stroke=\"black\"/>\n"
        for e in Int(x0) ... Int(x1) {
            let x = left + (Double(e) - x0) / (x1 - x0) * pw
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">1e%d</text>\n", x, top + ph + 16, e)
        }
        for k in 0 ... 4 {
            let v = y0 + (y1 - y0) * Double(k) / 4
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%.0f KiB</text>\n", left - 6, py(v) + 4, v)
        }
        s += "<text x=\"\(left + pw / 2)\" y=\"\(height - 10)\" font-size=\"12\" text-anchor=\"middle\">parameter elements trained (log scale)</text>\n"
        if let budget {
            let y = py(Double(budget) / 1024)
            s += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#d62728\" stroke-dasharray=\"6,4\"/>\n", left, y, left + pw, y)
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"#d62728\" text-anchor=\"end\">budget %@</text>\n", left + pw, y - 4, formatBytes(budget))
        }
        // Frontier: for each trained count (descending), the least SRAM among plans training at least that much.
        var frontier: [(Int, Int)] = []
        var least = Int.max
        for c in points.sorted(by: { $0.trainedElements > $1.trainedElements }) {
            if c.arenaBytes < least { least = c.arenaBytes; frontier.append((c.trainedElements, c.arenaBytes)) }
        }
        let path = frontier.reversed().map { String(format: "%.1f,%.1f", px($0.0), py(Double($0.1) / 1024)) }.joined(separator: " ")
        s += "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"\(path)\"/>\n"
        for c in points {
            let fill = c.fits ? "#2ca02c" : "none"
            s += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%@\" stroke=\"#555\" stroke-width=\"0.7\"><title>%@: %d elements, %d B SRAM, %d B flash</title></circle>\n",
                        px(c.trainedElements), py(Double(c.arenaBytes) / 1024), fill, SVGChart.escape(c.flags), c.trainedElements, c.arenaBytes, c.flashBytes)
        }
        if let best = result.best {
            s += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"8\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\"/>\n", px(best.trainedElements), py(Double(best.arenaBytes) / 1024))
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">chosen: %@</text>\n", left + 10, top + 14, SVGChart.escape(best.flags))
        }
        s += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"#555\">filled: fits the budget; line: least SRAM for at least that many trained elements</text>\n", left + 10, top + 30)
        return s + "</svg>\n"
    }
}

func formatFraction(_ v: Double) -> String {
    v == v.rounded() ? String(Int(v)) : String(format: "%g", v)
}

/// The layer and parameter names a selection trains, as `--train layers:` names.
func selectedNames(_ selection: PlanOptions.TrainSelection, _ units: [(layer: String, biases: [String])]) -> Set<String> {
    switch selection {
    case .all: return Set(units.map(\.layer))
    case .none: return []
    case .biases: return Set(units.flatMap(\.biases))
    case .last(let k): return Set(units.suffix(k).map(\.layer))
    case .layers(let names): return Set(names)
    }
}
