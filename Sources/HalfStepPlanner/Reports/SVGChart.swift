import Foundation

/// Small, dependency-free SVG charts for reports (`train --report`, `halfstep study`).
public enum SVGChart {
    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf"]

    /// A line chart: one polyline per series, shared axes, a legend.
    public static func lines(title: String, xLabel: String, yLabel: String, series: [(name: String, points: [(Double, Double)])],
                             logY: Bool = false, width: Double = 640, height: Double = 320) -> String {
        let all = series.flatMap(\.points).filter { $0.1.isFinite && (!logY || $0.1 > 0) }
        guard let xMin = all.map(\.0).min(), let xMax = all.map(\.0).max(), var yMin = all.map(\.1).min(), var yMax = all.map(\.1).max() else {
            return empty(title, width, height)
        }
        if logY { yMin = log10(yMin); yMax = log10(yMax) }
        if yMax == yMin { yMax = yMin + 1 }
        let left = 60.0, right = 150.0, top = 30.0, bottom = 40.0
        let pw = width - left - right, ph = height - top - bottom
        func px(_ x: Double) -> Double { left + (xMax == xMin ? 0 : (x - xMin) / (xMax - xMin)) * pw }
        func py(_ y: Double) -> Double { top + ph - ((logY ? log10(y) : y) - yMin) / (yMax - yMin) * ph }
        var s = header(title, width, height)
        s += axes(left: left, top: top, pw: pw, ph: ph, xLabel: xLabel, yLabel: yLabel,
                  xTicks: (xMin, xMax), yTicks: (logY ? pow(10, yMin) : yMin, logY ? pow(10, yMax) : yMax))
        for (i, line) in series.enumerated() {
            let pts = line.points.filter { $0.1.isFinite && (!logY || $0.1 > 0) }
                .map { String(format: "%.1f,%.1f", px($0.0), py($0.1)) }.joined(separator: " ")
            let color = palette[i % palette.count]
            s += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\" points=\"\(pts)\"/>\n"
            s += legend(i, line.name, color, x: left + pw + 10, top: top)
        }
        return s + "</svg>\n"
    }

    /// Grouped bars: one group per category, one bar per series, with a y range.
    public static func bars(title: String, yLabel: String, categories: [String], series: [(name: String, values: [Double])],
                            yRange: (Double, Double), width: Double = 640, height: Double = 320) -> String {
        let left = 60.0, right = 170.0, top = 30.0, bottom = 60.0
        let pw = width - left - right, ph = height - top - bottom
        let (y0, y1) = yRange
        func py(_ y: Double) -> Double { top + ph - (min(max(y, y0), y1) - y0) / (y1 - y0) * ph }
        var s = header(title, width, height)
        s += axes(left: left, top: top, pw: pw, ph: ph, xLabel: "", yLabel: yLabel, xTicks: nil, yTicks: (y0, y1))
        let groupWidth = pw / Double(max(categories.count, 1))
        let barWidth = groupWidth * 0.8 / Double(max(series.count, 1))
        for (c, category) in categories.enumerated() {
            let gx = left + Double(c) * groupWidth + groupWidth * 0.1
            for (i, line) in series.enumerated() where c < line.values.count && line.values[c].isFinite {
                let v = line.values[c]
                s += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%@\"/>\n",
                            gx + Double(i) * barWidth, py(v), barWidth * 0.9, top + ph - py(v), palette[i % palette.count])
            }
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">%@</text>\n",
                        gx + groupWidth * 0.4, top + ph + 16, escape(category))
        }
        for (i, line) in series.enumerated() { s += legend(i, line.name, palette[i % palette.count], x: left + pw + 10, top: top) }
        return s + "</svg>\n"
    }

    static func header(_ title: String, _ w: Double, _ h: Double) -> String {
        String(format: "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\">\n", w, h)
            + "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
            + String(format: "<text x=\"%.0f\" y=\"18\" font-size=\"14\" text-anchor=\"middle\">%@</text>\n", w / 2, escape(title))
    }

    static func empty(_ title: String, _ w: Double, _ h: Double) -> String {
        header(title, w, h) + "<text x=\"20\" y=\"60\" font-size=\"12\">no data</text>\n</svg>\n"
    }

    static func axes(left: Double, top: Double, pw: Double, ph: Double, xLabel: String, yLabel: String,
                     xTicks: (Double, Double)?, yTicks: (Double, Double)) -> String {
        var s = String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n", left, top + ph, left + pw, top + ph)
        s += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n", left, top, left, top + ph)
        s += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%@</text>\n", left - 4, top + ph, number(yTicks.0))
        s += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%@</text>\n", left - 4, top + 10, number(yTicks.1))
        s += String(format: "<text x=\"14\" y=\"%.1f\" font-size=\"11\" transform=\"rotate(-90 14 %.1f)\" text-anchor=\"middle\">%@</text>\n",
                    top + ph / 2, top + ph / 2, escape(yLabel))
        if let (x0, x1) = xTicks {
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">%@</text>\n", left, top + ph + 14, number(x0))
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%@</text>\n", left + pw, top + ph + 14, number(x1))
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">%@</text>\n", left + pw / 2, top + ph + 30, escape(xLabel))
        }
        return s
    }

    static func legend(_ i: Int, _ name: String, _ color: String, x: Double, top: Double) -> String {
        String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"%@\"/><text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">%@</text>\n",
               x, top + Double(i) * 16, color, x + 14, top + Double(i) * 16 + 9, escape(name))
    }

    static func number(_ v: Double) -> String {
        if v == 0 { return "0" }
        if abs(v) >= 1000 || abs(v) < 0.01 { return String(format: "%.2g", v) }
        return String(format: "%.3g", v)
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
