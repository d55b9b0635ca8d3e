import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import HalfStepCore
import Testing
import HalfStepTestSupport
@testable import HalfStepPlanner

/// `ArenaSVG`: the arena picture of the digits MLP, read back as XML and checked against the plan.
struct ArenaSVGTests {
    /// Coordinates are written with two decimals, so boxes that merely touch may overlap by this much.
    static let rounding = 0.011

    /// The digits example as the README plans it, and with fused updates (update ops interleaved
    /// with backward ones, so a phase appears in more than one band).
    static let configurations: [String] = ["fp32-master, all layers", "fp16 fused, last 2 layers"]

    static func plan(_ configuration: String) throws -> Planner.Result {
        let graph = try importedGraph(path: fixture("Tools/examples/digits/mlp.onnx"))
        var o = options(batch: 32, train: .all, update: .fp32Master, momentum: 0.9)
        if configuration.hasPrefix("fp16 fused") {
            o = options(batch: 32, train: .last(2), update: .fp16, momentum: 0.9)
            o.fuseUpdates = true
        }
        return try Planner.plan(graph, options: o, source: "mlp.onnx")
    }

    static func render(_ configuration: String) throws -> (result: Planner.Result, svg: String, doc: SVGElements) {
        let result = try plan(configuration)
        let svg = ArenaSVG.svg(result.program, arenaBytes: result.memory.arenaBytes, title: "arena of mlp.hsplan")
        return (result, svg, try SVGElements(svg))
    }

    @Test("the arena picture parses as XML with an svg root, a title naming the plan and a legend", arguments: configurations)
    func wellFormed(_ configuration: String) throws {
        let (_, svg, doc) = try Self.render(configuration)
        #expect(doc.elements.first?.name == "svg")
        #expect(svg.contains(">arena of mlp.hsplan</text>"))
        #expect(doc.elements.contains { $0.attributes["class"] == "legend" })
        #expect(svg.contains("activations") && svg.contains("gradients") && svg.contains("optimizer state"))
    }

    @Test("there is exactly one buffer box per arena tensor of non-zero size, each with a tooltip", arguments: configurations)
    func oneBoxPerTensor(_ configuration: String) throws {
        let (result, _, doc) = try Self.render(configuration)
        let expected = result.program.tensors.indices.filter { result.program.tensors[$0].region == .arena && result.program.tensors[$0].bytes > 0 }
        let boxes = doc.buffers
        #expect(boxes.map { $0.int("data-tensor") }.sorted() == expected)
        for box in boxes {
            let t = result.program.tensors[box.int("data-tensor")]
            #expect(box.title.contains(t.name) && box.title.contains(t.category.rawValue), "\(box.title)")
            #expect(box.title.contains("\(t.bytes) B") && box.title.contains("offset \(t.offset)"), "\(box.title)")
            #expect(box.title.contains("live ops \(box.int("data-first"))–\(box.int("data-last"))"), "\(box.title)")
            #expect(box.int("data-offset") == t.offset && box.int("data-bytes") == t.bytes)
        }
    }

    @Test("every box lies within the arena's height and the step's op range", arguments: configurations)
    func boxesInsideArena(_ configuration: String) throws {
        let (result, _, doc) = try Self.render(configuration)
        // The phase bands cover the plot exactly: ops 0 ..< count across, 0 ... arena bytes up.
        let bands = doc.elements.filter { $0.attributes["class"] == "phase" }
        let x0 = bands.map { $0.double("x") }.min()!, x1 = bands.map { $0.double("x") + $0.double("width") }.max()!
        let y0 = bands[0].double("y"), y1 = y0 + bands[0].double("height")
        for box in doc.buffers {
            #expect(box.int("data-first") >= 0 && box.int("data-first") <= box.int("data-last") && box.int("data-last") < result.program.ops.count)
            #expect(box.int("data-offset") >= 0 && box.int("data-offset") + box.int("data-bytes") <= result.memory.arenaBytes)
            let x = box.double("x"), y = box.double("y"), w = box.double("width"), h = box.double("height")
            #expect(w > 0 && h > 0)
            #expect(x >= x0 - Self.rounding && x + w <= x1 + Self.rounding, "tensor \(box.int("data-tensor")) x \(x)…\(x + w)")
            #expect(y >= y0 - Self.rounding && y + h <= y1 + Self.rounding, "tensor \(box.int("data-tensor")) y \(y)…\(y + h)")
        }
    }

    @Test("the liveness bound is drawn at or below the arena peak, both labelled with their bytes", arguments: configurations)
    func boundBelowPeak(_ configuration: String) throws {
        let (result, svg, doc) = try Self.render(configuration)
        let peak = try #require(doc.elements.first { $0.attributes["class"] == "peak" })
        let bound = try #require(doc.elements.first { $0.attributes["class"] == "lower-bound" })
        // SVG y grows downwards: lower in the arena is a larger y.
        #expect(bound.double("y1") >= peak.double("y1"))
        #expect(bound.attributes["stroke-dasharray"] != nil)
        #expect(svg.contains("arena peak \(result.memory.arenaBytes) B"))
        #expect(svg.contains("liveness bound \(result.memory.lowerBoundBytes) B"))
        // The live-bytes curve reaches the bound line and never rises above it.
        let curve = try #require(doc.elements.first { $0.attributes["class"] == "live" })
        let ys = curve.attributes["points"]!.split(separator: " ").map { Double($0.split(separator: ",")[1])! }
        #expect(abs(ys.min()! - bound.double("y1")) <= Self.rounding)
    }

    @Test("boxes that share an op never share an address", arguments: configurations)
    func noOverlaps(_ configuration: String) throws {
        let (_, _, doc) = try Self.render(configuration)
        let boxes = doc.buffers
        for (i, a) in boxes.enumerated() {
            for b in boxes[(i + 1)...] where a.int("data-first") <= b.int("data-last") && b.int("data-first") <= a.int("data-last") {
                let apart = a.int("data-offset") + a.int("data-bytes") <= b.int("data-offset") || b.int("data-offset") + b.int("data-bytes") <= a.int("data-offset")
                #expect(apart, "tensors \(a.int("data-tensor")) and \(b.int("data-tensor"))")
                // The drawing agrees with the numbers: overlapping columns, disjoint rows.
                let rowsApart = a.double("y") + a.double("height") <= b.double("y") + Self.rounding
                    || b.double("y") + b.double("height") <= a.double("y") + Self.rounding
                #expect(rowsApart, "boxes of tensors \(a.int("data-tensor")) and \(b.int("data-tensor"))")
            }
        }
    }

    @Test("the picture drawn from the plan file is the one drawn from the planner's program")
    func samePictureFromPlanFile() throws {
        let result = try Self.plan(Self.configurations[0])
        let loaded = try LoadedPlan(bytes: result.bytes, path: "mlp.hsplan")
        let fromFile = ArenaSVG.svg(loaded.program(), arenaBytes: loaded.plan.arenaBytes, title: "t")
        #expect(fromFile == ArenaSVG.svg(result.program, arenaBytes: result.memory.arenaBytes, title: "t"))
    }
}

/// The elements of an SVG document in order, with attributes and the text of each `<title>`
/// attached to its parent: enough to check a picture without a DOM (no `XMLDocument` on Linux).
struct SVGElements {
    struct Element {
        var name: String
        var attributes: [String: String]
        var title = ""

        func double(_ key: String) -> Double { Double(attributes[key] ?? "") ?? .nan }
        func int(_ key: String) -> Int { Int(attributes[key] ?? "") ?? -1 }
    }

    var elements: [Element] = []
    var buffers: [Element] { elements.filter { $0.name == "rect" && $0.attributes["class"] == "buffer" } }

    init(_ svg: String) throws {
        let delegate = Delegate()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = delegate
        guard parser.parse() else {
            throw SVGParseError(message: "line \(parser.lineNumber): \(parser.parserError.map { "\($0)" } ?? "parse failed")")
        }
        elements = delegate.elements
    }

    struct SVGParseError: Error { var message: String }

    final class Delegate: NSObject, XMLParserDelegate {
        var elements: [Element] = []
        var open: [Int] = []
        var text = ""

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            elements.append(Element(name: name, attributes: attributes))
            open.append(elements.count - 1)
            text = ""
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            open.removeLast()
            if name == "title", let parent = open.last { elements[parent].title = text }
            text = ""
        }
    }
}
