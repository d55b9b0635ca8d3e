import Foundation
import HalfStepCore

/// The SRAM arena of one training step as an SVG picture (`halfstep inspect --svg`).
///
/// x is the op index of the step program (forward, loss, backward and update ops, with the phase
/// bands shaded); y is the arena address in bytes, 0 at the bottom and the arena's size at the
/// top. Every arena tensor of non-zero size is one rectangle spanning its lifetime (first to last
/// use, inclusive, as `Liveness.requests(for:)` gives it to the allocator) and its bytes (offset to
/// offset + bytes), filled by `MemoryCategory`. The arena peak and the liveness lower bound are
/// horizontal lines, and the bytes live at each op are a thin step curve that touches the bound at
/// its maximum: the gap between the curve and the peak is what the placement wastes at that op.
///
/// Each rectangle has class `buffer`, a `<title>` tooltip (name, category, bytes, offset,
/// lifetime) and `data-` attributes with the exact integers, so tests and scripts can check the
/// picture without parsing coordinates. Names are drawn only inside boxes big enough to hold them;
/// a plan with thousands of small tensors stays a picture rather than a wall of text.
///
/// Limits: heights are linear in bytes, so a 16-byte buffer in a 1 MiB arena is an invisible
/// sliver (its tooltip is still there); no tensor is enlarged to be seen, since that would draw
/// overlaps the plan does not have.
public enum ArenaSVG {
    /// The picture of `program`'s arena.
    /// - Parameters:
    ///   - program: a placed program (offsets filled in), as `LoadedPlan.program()` or `Planner.plan` give it.
    ///   - arenaBytes: the arena the plan needs (the allocator's peak), bytes.
    ///   - title: the heading, usually the plan file's name.
    ///   - alignment: the size rounding the allocator used, bytes; it enters the lower bound and the
    ///     live-bytes curve exactly as it does in the plan's memory figures.
    public static func svg(_ program: TrainingProgram, arenaBytes: Int, title: String,
                           alignment: Int = PlanFormat.alignment) -> String {
        let requests = Liveness.requests(for: program).filter { $0.bytes > 0 }
        let opCount = max(1, program.ops.count)
        // Same definition as `ArenaLayout.lowerBoundBytes` and the report: the largest sum of
        // aligned sizes live at one op.
        let live = Planner.liveBytesPerOp(program, alignment: alignment)
        let lowerBound = live.max() ?? 0
        let top = requests.map { program.tensors[$0.id].offset + program.tensors[$0.id].bytes }.max() ?? 0
        // The plan's own figure is the scale; a corrupt offset past it still stays on the page.
        let scale = max(arenaBytes, top, lowerBound, 1)

        let left = 80.0, right = 220.0, topMargin = 58.0, bottom = 48.0
        // About 8 px per op keeps a small MLP readable and a MobileNetV2 step within a screen or two.
        let pw = min(max(Double(opCount) * 8, 640), 1800), ph = 440.0
        let width = left + pw + right, height = topMargin + ph + bottom
        func px(_ op: Int) -> Double { left + Double(op) / Double(opCount) * pw }
        func py(_ bytes: Int) -> Double { topMargin + ph - Double(bytes) / Double(scale) * ph }

        var s = SVGChart.header(title, width, height)
        s += String(format: "<text x=\"%.0f\" y=\"36\" font-size=\"11\" fill=\"#555\" text-anchor=\"middle\">%@</text>\n", width / 2,
                    SVGChart.escape("SRAM arena over one training step: \(requests.count) tensors, \(program.ops.count) ops; each box is a tensor's bytes over its lifetime"))
        s += phaseBands(program, top: topMargin, ph: ph, px: px)
        s += yAxis(scale: scale, left: left, pw: pw, top: topMargin, ph: ph, py: py)
        s += xAxis(opCount: opCount, left: left, pw: pw, top: topMargin, ph: ph, px: px)

        // Largest first, so a small box drawn later is never hidden under a big one's label.
        let ordered = requests.sorted { ($0.bytes, $1.id) > ($1.bytes, $0.id) }
        var labels = ""
        for r in ordered {
            let t = program.tensors[r.id]
            let x = px(r.firstUse), w = px(r.lastUse + 1) - x
            let y = py(t.offset + t.bytes), h = py(t.offset) - y
            let size = t.bytes < 1024 ? "\(t.bytes) B" : "\(t.bytes) B (\(formatBytes(t.bytes)))"
            let tip = "\(t.name): \(t.category.rawValue), \(size) at offset \(t.offset), live ops \(r.firstUse)–\(r.lastUse)"
            s += String(format: "<rect class=\"buffer\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%@\" stroke=\"white\" stroke-width=\"0.5\" ",
                        x, y, w, h, color(t.category))
            s += "data-tensor=\"\(r.id)\" data-first=\"\(r.firstUse)\" data-last=\"\(r.lastUse)\" data-offset=\"\(t.offset)\" data-bytes=\"\(t.bytes)\">"
            s += "<title>\(SVGChart.escape(tip))</title></rect>\n"
            // Roughly 5.5 px per character at font-size 9; a label that does not fit is left out.
            if h >= 11, w >= Double(t.name.count) * 5.5 + 4 {
                labels += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"9\" text-anchor=\"middle\" fill=\"white\" pointer-events=\"none\">%@</text>\n",
                                 x + w / 2, y + h / 2 + 3, SVGChart.escape(t.name))
            }
        }
        // Labels after all boxes, so a neighbour's box never covers them.
        s += labels

        let curve = live.indices.map { String(format: "%.1f,%.1f %.1f,%.1f", px($0), py(live[$0]), px($0 + 1), py(live[$0])) }.joined(separator: " ")
        s += "<polyline class=\"live\" fill=\"none\" stroke=\"#222\" stroke-width=\"1\" stroke-opacity=\"0.7\" points=\"\(curve)\"/>\n"
        // Labels sit just under their lines, inside the plot (above the top one would collide with
        // the phase names); a bound close to the peak, the usual case, stacks its label under the peak's.
        let peakLabel = py(arenaBytes) + 13, boundLabel = max(py(lowerBound) + 13, peakLabel + 14)
        s += hline("peak", py(arenaBytes), left: left, pw: pw, color: "#d62728", dash: nil,
                   label: "arena peak \(arenaBytes) B (\(formatBytes(arenaBytes)))", labelY: peakLabel)
        s += hline("lower-bound", py(lowerBound), left: left, pw: pw, color: "#1f3f99", dash: "6,4",
                   label: "liveness bound \(lowerBound) B (\(formatBytes(lowerBound)))", labelY: boundLabel)
        s += legend(program, requests: requests, x: left + pw + 16, top: topMargin)
        return s + "</svg>\n"
    }

    /// Fill of each category: one hue per kind of memory, the same in every picture.
    static func color(_ c: MemoryCategory) -> String {
        switch c {
        case .weights: return "#1f77b4"
        case .masterCopies: return "#9467bd"
        case .optimizerState: return "#8c564b"
        case .activations: return "#2ca02c"
        case .gradients: return "#ff7f0e"
        case .scratch: return "#7f7f7f"
        case .inputBatch: return "#17becf"
        }
    }

    static let phases: [(Phase, String, String)] = [
        (.forward, "forward", "#eef3fb"), (.loss, "loss", "#fdf1e3"), (.backward, "backward", "#eef7ec"), (.update, "update", "#f5eefa"),
    ]

    /// Shaded bands, one per run of consecutive ops in the same phase: fused updates interleave
    /// with backward ops, so a phase can appear more than once.
    static func phaseBands(_ program: TrainingProgram, top: Double, ph: Double, px: (Int) -> Double) -> String {
        var s = "", start = 0
        for i in program.ops.indices where i == program.ops.count - 1 || program.ops[i + 1].phase != program.ops[i].phase {
            let phase = program.ops[i].phase
            let (_, name, fill) = phases.first { $0.0 == phase }!
            let x = px(start), w = px(i + 1) - x
            s += String(format: "<rect class=\"phase\" x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" fill=\"%@\"><title>%@: ops %d–%d</title></rect>\n",
                        x, top, w, ph, fill, name, start, i)
            if w >= Double(name.count) * 6 + 4 {
                s += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" fill=\"#555\" text-anchor=\"middle\">%@</text>\n", x + w / 2, top - 5, name)
            }
            start = i + 1
        }
        return s
    }

    /// Address axis in KiB, with a light grid so offsets can be read off any box.
    static func yAxis(scale: Int, left: Double, pw: Double, top: Double, ph: Double, py: (Int) -> Double) -> String {
        var s = String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n", left, top, left, top + ph)
        let step = niceStep(Double(scale) / 1024 / 6) * 1024
        var v = 0.0
        while v <= Double(scale) + 0.5 {
            let y = py(Int(v))
            s += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\" stroke-width=\"0.5\"/>\n", left, y, left + pw, y)
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%@ KiB</text>\n", left - 5, y + 4, trimmed(v / 1024))
            v += step
        }
        s += String(format: "<text x=\"16\" y=\"%.1f\" font-size=\"11\" transform=\"rotate(-90 16 %.1f)\" text-anchor=\"middle\">arena address</text>\n",
                    top + ph / 2, top + ph / 2)
        return s
    }

    /// Op-index axis; ticks at op boundaries, since a box covers whole ops.
    static func xAxis(opCount: Int, left: Double, pw: Double, top: Double, ph: Double, px: (Int) -> Double) -> String {
        var s = String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n", left, top + ph, left + pw, top + ph)
        let step = max(1, Int(niceStep(Double(opCount) / 10)))
        for op in stride(from: 0, through: opCount, by: step) {
            let x = px(op)
            s += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n", x, top + ph, x, top + ph + 4)
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">%d</text>\n", x, top + ph + 16, op)
        }
        s += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">op index in the step program</text>\n", left + pw / 2, top + ph + 36)
        return s
    }

    /// A labelled horizontal line across the plot; the white halo keeps the label legible over boxes.
    static func hline(_ cls: String, _ y: Double, left: Double, pw: Double, color: String, dash: String?, label: String, labelY: Double) -> String {
        let dashing = dash.map { " stroke-dasharray=\"\($0)\"" } ?? ""
        var s = String(format: "<line class=\"%@\" x1=\"%.1f\" y1=\"%.2f\" x2=\"%.1f\" y2=\"%.2f\" stroke=\"%@\" stroke-width=\"1.5\"%@/>\n",
                        cls, left, y, left + pw, y, color, dashing)
        s += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"%@\" text-anchor=\"end\" stroke=\"white\" stroke-width=\"3\" paint-order=\"stroke\">%@</text>\n",
                    left + pw - 4, labelY, color, SVGChart.escape(label))
        return s
    }

    /// Categories present (with their unshared bytes), phases, then the three lines.
    static func legend(_ program: TrainingProgram, requests: [BufferRequest], x: Double, top: Double) -> String {
        var bytes: [MemoryCategory: Int] = [:]
        for r in requests { bytes[program.tensors[r.id].category, default: 0] += program.tensors[r.id].bytes }
        var s = "", y = top
        func row(_ swatch: String, _ text: String) {
            s += swatch + String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">%@</text>\n", x + 18, y + 9, SVGChart.escape(text))
            y += 16
        }
        for c in MemoryCategory.allCases where bytes[c] != nil {
            row(String(format: "<rect class=\"legend\" x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"10\" fill=\"%@\"/>", x, y, color(c)),
                "\(c.rawValue) (\(formatBytes(bytes[c]!)))")
        }
        y += 8
        let present = Set(program.ops.map(\.phase))
        for (phase, name, fill) in phases where present.contains(phase) {
            row(String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"10\" fill=\"%@\" stroke=\"#bbb\" stroke-width=\"0.5\"/>", x, y, fill), "\(name) ops")
        }
        y += 8
        func stroke(_ color: String, _ width: Double, _ dash: String) -> String {
            String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%@\" stroke-width=\"%.1f\"%@/>", x, y + 5, x + 12, y + 5, color, width, dash)
        }
        row(stroke("#d62728", 1.5, ""), "arena peak")
        row(stroke("#1f3f99", 1.5, " stroke-dasharray=\"3,2\""), "liveness lower bound")
        row(stroke("#222", 1, ""), "bytes live at each op")
        return s
    }

    /// 1, 2 or 5 times a power of ten, at least `raw`.
    static func niceStep(_ raw: Double) -> Double {
        guard raw > 0 else { return 1 }
        let magnitude = pow(10, floor(log10(raw)))
        for m in [1.0, 2, 5, 10] where m * magnitude >= raw { return m * magnitude }
        return 10 * magnitude
    }

    static func trimmed(_ v: Double) -> String {
        v == v.rounded() ? String(format: "%.0f", v) : String(format: "%g", v)
    }
}
