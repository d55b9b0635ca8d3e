import Foundation

/// The picture of a training run (`train --report run.svg`): loss, eval accuracy (a regression
/// plan's eval loss), loss scale and the update-underflow rate over steps, one panel each.
public enum RunReport {
    public static func svg(_ s: TrainingLoop.Summary, title: String) -> String {
        func smooth(_ values: [(Double, Double)], window: Int = 10) -> [(Double, Double)] {
            var out: [(Double, Double)] = []
            var buffer: [Double] = []
            for (x, y) in values where y.isFinite {
                buffer.append(y)
                if buffer.count > window { buffer.removeFirst() }
                out.append((x, buffer.reduce(0, +) / Double(buffer.count)))
            }
            return out
        }
        let loss = smooth(s.history.filter(\.applied).map { (Double($0.step), Double($0.loss)) })
        let scale = s.history.map { (Double($0.step), Double($0.scale)) }
        let underflow = smooth(s.underflowRate.enumerated().map { (Double($0.offset + 1), 100 * $0.element) })
        // A regression plan has no accuracy: its panel shows the eval loss (`evalHistory` holds it).
        let regression = s.evalBefore.map { $0.accuracy.isNaN } ?? false
        func metric(_ e: Evaluation) -> Double { regression ? e.loss : 100 * e.accuracy }
        var accuracy: [(Double, Double)] = s.evalHistory.map { (Double($0.step), regression ? $0.accuracy : 100 * $0.accuracy) }
        if let before = s.evalBefore { accuracy.insert((0, metric(before)), at: 0) }
        if let after = s.evalAfter, s.evalHistory.last?.step != s.steps { accuracy.append((Double(s.steps), metric(after))) }
        let panels = [
            SVGChart.lines(title: "loss (10-step mean)", xLabel: "step", yLabel: "loss", series: [("loss", loss)], logY: true),
            regression
                ? SVGChart.lines(title: "eval loss", xLabel: "step", yLabel: "loss", series: [("eval", accuracy)], logY: true)
                : SVGChart.lines(title: "eval accuracy", xLabel: "step", yLabel: "accuracy %", series: [("eval", accuracy)]),
            SVGChart.lines(title: "loss scale", xLabel: "step", yLabel: "scale", series: [("scale", scale)], logY: true),
            SVGChart.lines(title: "updates that rounded to no change (10-step mean)", xLabel: "step", yLabel: "%", series: [("underflow", underflow)]),
        ]
        let height = 320.0
        var out = String(format: "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"%.0f\" font-family=\"sans-serif\">\n", height * 4 + 30)
        out += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        out += "<text x=\"320\" y=\"20\" font-size=\"15\" text-anchor=\"middle\">\(SVGChart.escape(title))</text>\n"
        for (i, panel) in panels.enumerated() {
            out += String(format: "<g transform=\"translate(0 %.0f)\">\n", 30 + Double(i) * height) + panel.replacingOccurrences(of: "<svg xmlns=\"http://www.w3.org/2000/svg\"", with: "<svg") + "</g>\n"
        }
        return out + "</svg>\n"
    }
}
