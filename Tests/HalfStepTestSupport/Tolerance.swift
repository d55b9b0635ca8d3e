import Testing

/// How far a computed value may be from its reference: `|actual − expected| ≤ absolute +
/// relative·|expected|`. The relative part covers fp16's rounding (a stored value is off by up to
/// 2⁻¹¹ ≈ 4.9e-4 of itself); the absolute part covers results near zero, where a relative bound
/// means nothing, and the error a finite difference of a Double reference carries.
///
/// Every tolerance the tests use is named here with the reason for its value, so a loosened one
/// shows up in review. A wrong index, layout or sign gives errors of the values' own size, far
/// outside all of them.
public struct Tolerance: Sendable, CustomStringConvertible {
    /// Bound on the error near zero (same units as the values).
    public var absolute: Double
    /// Bound on the error as a fraction of the expected value's magnitude.
    public var relative: Double

    public init(absolute: Double, relative: Double = 0) {
        self.absolute = absolute
        self.relative = relative
    }

    /// The largest difference allowed against `expected`.
    public func bound(_ expected: Double) -> Double { absolute + relative * abs(expected) }

    /// Whether `actual` is within this tolerance of `expected` (a NaN is never close).
    public func allows(_ actual: Double, _ expected: Double) -> Bool { abs(actual - expected) <= bound(expected) }

    public var description: String { "\(absolute) + \(relative)·|expected|" }

    /// Bit for bit (for values compared as floats; NaNs never match).
    public static let exact = Tolerance(absolute: 0)

    // MARK: - Kernels against Double references (HalfStepCoreTests)

    /// A Dense output or gradient: fp32 accumulation of fp16 products, rounded once to fp16 on the
    /// store. 1e-3 relative is two of those roundings; 1e-4 absolute covers outputs near zero and
    /// the finite differences of the Double reference (step 1e-3 on a bilinear loss).
    public static let dense = Tolerance(absolute: 1e-4, relative: 1e-3)

    /// Dense with fp16 accumulators (`--accumulate fp16`) against the fp32-accumulating kernel:
    /// every partial sum rounds to fp16, so over a dozen products of values in [-1, 1] the two
    /// differ by several fp16 ulps of the sum's magnitude (~4): 0.02 absolute.
    public static let halfAccumulation = Tolerance(absolute: 0.02)

    /// A convolution's output or gradient: as `dense`, but sums over up to a few hundred products
    /// of a window whose fp16 inputs each carry their own rounding, and finite differences taken
    /// through padded windows: 2e-3 relative and absolute.
    public static let convolution = Tolerance(absolute: 2e-3, relative: 2e-3)

    /// BatchNorm forward with frozen statistics: x·γ·invStd + (β − mean·γ·invStd) with its scale
    /// and shift stored in fp16 (two roundings before the output's own): 2e-3 relative, 1e-3 absolute.
    public static let batchNorm = Tolerance(absolute: 1e-3, relative: 2e-3)

    /// BatchNorm's dγ, dβ and dx against central finite differences (step 1e-3) of the Double loss:
    /// the difference quotient itself carries ~1e-3 of error, hence 2e-3 absolute.
    public static let batchNormGradient = Tolerance(absolute: 2e-3, relative: 2e-3)

    /// Max, average and global average pooling and their gradients: a mean of fp16 values rounded
    /// once to fp16, and finite differences with a small step: 2e-3 relative, 1e-3 absolute.
    public static let pooling = Tolerance(absolute: 1e-3, relative: 2e-3)

    /// An activation's forward value (Clip, HardSigmoid, HardSwish, Sigmoid) computed in fp32 from
    /// an fp16 input and rounded to fp16: 1e-3 relative (two roundings), 1e-3 absolute for outputs
    /// near zero (Sigmoid's far tail, HardSwish around its minimum).
    public static let activation = Tolerance(absolute: 1e-3, relative: 1e-3)

    /// An activation's input gradient dy·f′(x) against a central difference of f with step 1e-4
    /// around an input at least 0.05 from any kink: the product of two fp16 values and the
    /// difference quotient's error, 4e-3 relative and 2e-3 absolute.
    public static let activationGradient = Tolerance(absolute: 2e-3, relative: 4e-3)

    /// Softmax cross-entropy's dlogits against central finite differences of the Double loss: the
    /// gradients are small (≤ 1/rows), so the absolute part is 2e-5; 1e-3 relative is two fp16 roundings.
    public static let softmaxGradient = Tolerance(absolute: 2e-5, relative: 1e-3)

    // MARK: - Whole models against onnxruntime (HalfStepPlannerTests)

    /// The digits MLP's logits against onnxruntime's fp32 ones: fp16 storage of inputs, weights and
    /// every activation, compounded over three layers and logits up to ~26 in magnitude. 0.05
    /// absolute + 1% relative bounds that; a wrong layout or transposition errs by 1–10.
    public static let mlpLogits = Tolerance(absolute: 0.05, relative: 0.01)

    /// fp16 storage of every activation through up to ~50 convolutional layers: each stored value
    /// carries a relative error up to 2⁻¹¹ and those compound; 2% relative bounds that, plus an
    /// absolute part of a few percent of the model's largest logit (`cnnLogits(absolute:)`).
    public static func cnnLogits(absolute: Double) -> Tolerance { Tolerance(absolute: absolute, relative: 0.02) }

    /// The digits CNN's logits (up to a few units): 0.05 absolute.
    public static let digitsCNNLogits = cnnLogits(absolute: 0.05)

    /// MobileNetV2's logits: its random classifier gives logits of at most 0.07, so 0.002 absolute.
    public static let mobileNetLogits = cnnLogits(absolute: 0.002)

    /// The operator-coverage model's logits (`Tests/Fixtures/cnn/ops.onnx`) and a folded
    /// BatchNormalization against the unfolded one (the fold rounds γ·invStd into fp16 weights): 0.02.
    public static let smallCNNLogits = cnnLogits(absolute: 0.02)
}

/// Expects every element of `actual` within `tolerance` of the element of `expected` at the same
/// index, and the two to have the same count. A failure names the count of mismatches, the first
/// few with their index, both values and the difference, and the worst one.
public func expectClose<A: BinaryFloatingPoint, E: BinaryFloatingPoint>(
    _ actual: some Collection<A>, _ expected: some Collection<E>, tolerance: Tolerance, _ label: String = "",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let prefix = label.isEmpty ? "" : label + ": "
    #expect(actual.count == expected.count, "\(prefix)\(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
    var mismatches: [String] = []
    var count = 0
    var worst: (index: Int, excess: Double)? = nil
    for (index, (a, e)) in zip(actual, expected).enumerated() {
        let x = Double(a), y = Double(e)
        guard !tolerance.allows(x, y) else { continue }
        count += 1
        let excess = abs(x - y) / max(tolerance.bound(y), .leastNonzeroMagnitude)
        if worst == nil || !(excess <= worst!.excess) { worst = (index, excess) }
        if mismatches.count < 5 { mismatches.append("[\(index)] \(a) vs \(e) (off by \(abs(x - y)), allowed \(tolerance.bound(y)))") }
    }
    if count > 0 {
        var message = "\(prefix)\(count) of \(min(actual.count, expected.count)) values differ by more than \(tolerance): "
        message += mismatches.joined(separator: ", ")
        if count > mismatches.count { message += ", ..." }
        if let worst { message += "; worst at [\(worst.index)], \(worst.excess)× the allowed difference" }
        Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation)
    }
}
