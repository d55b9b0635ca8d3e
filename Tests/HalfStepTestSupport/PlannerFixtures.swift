import HalfStepCore
import HalfStepPlanner
import Synchronization
import Testing

/// A small MLP graph built in code: Dense → ReLU → … → Dense, with seeded random parameters.
public func makeMLP(_ sizes: [Int], seed: UInt64 = 1, scale: Double = 0.5) -> Graph {
    var rng = SplitMix64(seed: seed)
    func uniform() -> Float { Float((Double(rng.next() >> 11) / Double(1 << 53) * 2 - 1) * scale) }
    var g = Graph()
    g.source = "synthetic"
    g.sourceOpset = 17
    g.inputName = "input"
    g.values.append(.init(name: "input", shape: [sizes[0]]))
    for layer in 0 ..< sizes.count - 1 {
        let k = sizes[layer], m = sizes[layer + 1]
        g.parameters.append(.init(name: "fc\(layer).weight", shape: [m, k], values: (0 ..< m * k).map { _ in uniform() }))
        g.parameters.append(.init(name: "fc\(layer).bias", shape: [m], values: (0 ..< m).map { _ in uniform() }))
        let x = g.values.count - 1
        g.values.append(.init(name: "fc\(layer)", shape: [m]))
        g.nodes.append(.init(name: "/fc\(layer)/Gemm", op: .dense(weight: 2 * layer, bias: 2 * layer + 1, alpha: 1, beta: 1),
                             inputs: [x], outputs: [x + 1]))
        if layer < sizes.count - 2 {
            g.values.append(.init(name: "relu\(layer)", shape: [m]))
            g.nodes.append(.init(name: "/relu\(layer)/Relu", op: .relu, inputs: [x + 1], outputs: [x + 2]))
        }
    }
    g.input = 0
    g.output = g.values.count - 1
    g.outputName = g.values[g.output].name
    return g
}

/// Options for small test plans.
public func options(batch: Int = 8, train: PlanOptions.TrainSelection = .all, update: UpdateMode = .fp32Master,
             optimizer: OptimizerKind = .sgd, momentum: Float? = 0.9, lr: Float = 0.05,
             lossScale: PlanOptions.LossScaling = .dynamic(initial: 65536, growthInterval: 2000)) -> PlanOptions {
    var o = PlanOptions()
    o.batch = batch
    o.train = train
    o.update = update
    o.optimizer = optimizer
    o.momentum = momentum
    o.learningRate = lr
    o.lossScale = lossScale
    return o
}

/// A synthetic classification set: class = argmax of a fixed random linear map of the input.
public func syntheticData(count: Int, features: Int, classes: Int, seed: UInt64) -> Dataset {
    var rng = SplitMix64(seed: seed)
    func uniform() -> Float { Float(Double(rng.next() >> 11) / Double(1 << 53) * 2 - 1) }
    var teacher = SplitMix64(seed: 99)
    let w = (0 ..< features * classes).map { _ in Float(Double(teacher.next() >> 11) / Double(1 << 53) * 2 - 1) }
    var inputs: [Float16] = [], labels: [Int32] = []
    for _ in 0 ..< count {
        let x = (0 ..< features).map { _ in uniform() }
        var best = 0, bestScore = -Float.infinity
        for c in 0 ..< classes {
            var s: Float = 0
            for f in 0 ..< features { s += x[f] * w[c * features + f] }
            if s > bestScore { bestScore = s; best = c }
        }
        inputs += x.map { Float16($0) }
        labels.append(Int32(best))
    }
    return Dataset(inputs: inputs, labels: labels, count: count, features: features)
}

/// The repository's root directory (this file is Tests/HalfStepTestSupport/PlannerFixtures.swift).
public let repositoryRoot: String = {
    var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/")
}()

/// Path of a committed fixture, relative to the repository root.
public func fixture(_ relative: String) -> String { repositoryRoot + "/" + relative }

/// Expects `body` to throw an error that satisfies `check` (which sees the error as a value, so
/// `"\($0)"` is its one-line description).
public func expectError(_ body: () throws -> Void, throws check: (Any) -> Bool,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        try body()
        Issue.record("expected an error, none was thrown", sourceLocation: sourceLocation)
    } catch {
        #expect(check(error), "unexpected error: \(error)", sourceLocation: sourceLocation)
    }
}

/// The graph of a committed example model (`ONNXImporter.importGraph(path:)`), imported once per
/// test run: MobileNetV2's 1.7 MB import takes seconds in a debug build and half a dozen tests
/// plan it. `Graph` is a value, so a test that changes its copy changes nothing else. Only for
/// files that do not change during the run (the examples and fixtures), never for files a test writes.
public func importedGraph(path: String) throws -> Graph {
    if let graph = importedGraphs.withLock({ $0[path] }) { return graph }
    let graph = try ONNXImporter.importGraph(path: path)
    importedGraphs.withLock { $0[path] = graph }
    return graph
}

private let importedGraphs = Mutex<[String: Graph]>([:])
