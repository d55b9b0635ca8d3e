import HalfStepCore

/// How one graph operator becomes plan ops: its forward op, its backward op, and what that
/// backward keeps from the forward pass.
///
/// One rule per operator, in its own file (`<Operator>Lowering.swift`); `Graph.Operator.rule` below
/// is the only place that lists the operators. Lever passes (`Passes/`) ask rules the questions
/// here instead of matching operators themselves.
protocol LoweringRule {
    /// Graph parameters the node reads (weights, biases, statistics, constants).
    var parameters: [Int] { get }

    /// False when a later node must not write its output over this node's output: the node's
    /// backward reads its own output (ReLU, the activations), or the output aliases its input
    /// (Reshape).
    var outputMayBeOverwritten: Bool { get }

    /// True when `--accumulate fp16` has kernels for this operator.
    var supportsHalfAccumulation: Bool { get }

    /// Emits the forward op(s) of `node` (graph node `index`) and records the tensor of its output.
    func forward(_ node: Graph.Node, index: Int, _ l: inout Lowering) throws(PlannerError)

    /// Emits the backward op(s) of `node`, whose output gradient is `dy`, and hands each input that
    /// needs one its gradient (`Lowering.deliver`). Returns the parameters it wrote gradients for.
    func backward(_ node: Graph.Node, dy: Int, _ l: inout Lowering) throws(PlannerError) -> [Int]

    /// What the backward keeps: true when it reads the node's input value itself (not only its
    /// gradient), so that value must survive from the forward pass.
    func backwardReadsInput(_ node: Graph.Node, _ l: Lowering) -> Bool

    /// The recompute lever: emits, in backward, the op that computes the node's output `y` again
    /// from its input tensor `xt`, and returns the new tensor; nil when the operator is not cheap
    /// enough to recompute.
    func recompute(_ node: Graph.Node, from xt: Int, _ l: inout Lowering) throws(PlannerError) -> Int?
}

extension LoweringRule {
    var parameters: [Int] { [] }
    var outputMayBeOverwritten: Bool { true }
    var supportsHalfAccumulation: Bool { false }
    func backwardReadsInput(_ node: Graph.Node, _ l: Lowering) -> Bool { false }
    func recompute(_ node: Graph.Node, from xt: Int, _ l: inout Lowering) throws(PlannerError) -> Int? { nil }
}

extension Graph.Operator {
    /// The lowering rule of this operator: one line per operator, into its rule's file.
    var rule: any LoweringRule {
        switch self {
        case .dense(let w, let b, let alpha, let beta): return DenseLowering(weight: w, bias: b, alpha: alpha, beta: beta)
        case .relu: return ReLULowering()
        case .conv(let w, let b, let window): return ConvLowering(weight: w, bias: b, window: window)
        case .batchNorm(let g, let b, let m, let v, let eps): return BatchNormLowering(gamma: g, beta: b, mean: m, variance: v, epsilon: eps)
        case .maxPool(let window): return MaxPoolLowering(window: window)
        case .averagePool(let window): return AveragePoolLowering(window: window)
        case .globalAveragePool: return GlobalAveragePoolLowering()
        case .add: return AddLowering()
        case .activation(let kind, let a, let b): return ActivationLowering(kind: kind, a: a, b: b)
        case .scale(let c): return ScaleLowering(constant: c)
        case .concat: return ConcatLowering()
        case .reshape: return ReshapeLowering()
        }
    }
}
