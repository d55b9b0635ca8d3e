/// The work one op does, counted from its shapes the way its kernel loops: the input of a
/// per-core cost model (cycles ≈ Σ count × cost per kind).
///
/// Counts are those of the one-output-at-a-time reference loops (every fp16 operand read is a load
/// plus an fp16→fp32 conversion, every stored result a conversion plus a store, every multiply-add
/// one MAC); the blocked kernels share operands across 4 × 4 outputs, which the cost model's
/// per-MAC instruction figure (calibrated on QEMU) accounts for.
public struct OpWork: Equatable, Sendable {
    /// Multiply-accumulates (fp32).
    public var macs: Int = 0
    /// fp16↔fp32 conversions.
    public var conversions: Int = 0
    /// Element loads from memory.
    public var loads: Int = 0
    /// Element stores to memory.
    public var stores: Int = 0
    /// exp, log and square-root evaluations.
    public var transcendentals: Int = 0
    /// Other arithmetic (adds, compares, scaling) per element.
    public var other: Int = 0

    public init() {}

    public static func + (a: OpWork, b: OpWork) -> OpWork {
        var s = a
        s.macs += b.macs
        s.conversions += b.conversions
        s.loads += b.loads
        s.stores += b.stores
        s.transcendentals += b.transcendentals
        s.other += b.other
        return s
    }
}

extension OpWork {
    /// The work of `op` on `rows` batch rows.
    public static func of(_ op: OpRecord, rows: Int, plan: Plan) -> OpWork {
        var w = OpWork()
        guard let code = op.opcode else { return w }
        switch code {
        case .denseForward:
            let k = op.param(1), m = op.param(2)
            let macs = rows * k * m
            w.macs = macs
            w.loads = 2 * macs + (op.operand(2) != nil ? rows * m : 0)
            w.conversions = 2 * macs + rows * m
            w.stores = rows * m
            w.other = rows * m * 2
        case .denseBackward:
            let k = op.param(1), m = op.param(2)
            if op.operand(3) != nil {
                w.macs += rows * k * m
                w.loads += 2 * rows * k * m
                w.conversions += 2 * rows * k * m + rows * k
                w.stores += rows * k
            }
            if op.operand(4) != nil {
                let t = op.param(5) == 0 ? m : op.param(5)
                w.macs += rows * k * t
                w.loads += 2 * rows * k * t
                w.conversions += 2 * rows * k * t + k * t
                w.stores += k * t
            }
            if op.operand(5) != nil {
                w.loads += rows * m
                w.conversions += rows * m + m
                w.other += rows * m
                w.stores += m
            }
        case .reluForward:
            let n = rows * op.param(1)
            w.loads = n
            w.stores = n
            w.other = n
        case .reluBackward:
            let n = rows * op.param(1)
            w.loads = 2 * n
            w.stores = n
            w.other = n
        case .softmaxCrossEntropy:
            let c = op.param(1)
            w.loads = 3 * rows * c + rows
            w.conversions = 4 * rows * c
            w.transcendentals = 2 * rows * c + rows
            w.stores = rows * c + 1
            w.other = 4 * rows * c
        case .sgdUpdate, .adamUpdate:
            let n = op.param(0)
            let states = (op.operand(2) != nil ? 1 : 0) + (op.operand(3) != nil ? 1 : 0) + (op.operand(4) != nil ? 1 : 0)
            w.loads = n * (2 + states)
            w.stores = n * (1 + states)
            w.conversions = n * (2 + 2 * states)
            w.other = n * (code == .adamUpdate ? 14 : 5)
            w.transcendentals = code == .adamUpdate ? 2 * n : 0
        default:
            w = spatial(op, code, rows: rows)
        }
        return w
    }

    /// The work of the convolutional-network ops.
    static func spatial(_ op: OpRecord, _ code: OpCode, rows: Int) -> OpWork {
        var w = OpWork()
        switch code {
        case .conv2dForward, .conv2dBackward:
            let g = Window2D(op)
            let macsPerOutput = g.weightsPerOutput
            let outputs = rows * g.outputElements
            var macs = 0, stores = 0
            if code == .conv2dForward {
                macs = outputs * macsPerOutput
                stores = outputs
            } else {
                if op.operand(3) != nil { macs += outputs * macsPerOutput; stores += rows * g.inputElements }
                if op.operand(4) != nil {
                    macs += rows * g.trainedOutputs * g.outHeight * g.outWidth * macsPerOutput
                    stores += g.trainedOutputs * macsPerOutput
                }
                if op.operand(5) != nil { w.other += outputs; stores += g.outputs }
            }
            w.macs = macs
            w.loads = 2 * macs
            w.conversions = 2 * macs + stores
            w.stores = stores
            w.other += code == .conv2dForward ? outputs : 0
        case .expandDepthwiseForward:
            let g = Window2D(op)
            let c = Int(op.paramBits(6) & 0xFFFF)
            w.macs = rows * g.channels * (g.height * g.width * c + g.outHeight * g.outWidth * g.kernelHeight * g.kernelWidth)
            w.loads = 2 * w.macs
            w.conversions = 2 * w.macs + rows * g.channels * (g.height * g.width + g.outHeight * g.outWidth)
            w.stores = rows * g.channels * (g.height * g.width + g.outHeight * g.outWidth)
            w.other = w.stores * 2
        case .maxPoolForward, .maxPoolBackward, .averagePoolForward, .averagePoolBackward:
            let g = Window2D(op)
            let windows = rows * g.outputElements * g.kernelHeight * g.kernelWidth
            w.loads = windows
            w.conversions = windows
            w.other = windows
            w.stores = code == .maxPoolForward || code == .averagePoolForward ? rows * g.outputElements : rows * g.inputElements
        default:
            // Elementwise and copy ops: one pass over their elements.
            let e: Int
            switch code {
            case .globalAveragePoolForward, .globalAveragePoolBackward, .channelScale, .batchNormForward, .batchNormBackward:
                e = rows * op.param(1) * op.param(2)
            case .accumulateGradient:
                e = op.param(1)
            default:
                e = rows * op.param(1)
            }
            let reads = code == .add || code == .accumulate || code == .accumulateGradient || code == .activationBackward || code == .batchNormBackward ? 2 : 1
            w.loads = reads * e
            w.conversions = (reads + 1) * e
            w.stores = e
            w.other = code == .batchNormForward || code == .batchNormBackward ? 3 * e : e
            if code == .activationForward && op.paramBits(2) == Activation.Kind.sigmoid.rawValue { w.transcendentals = e }
        }
        return w
    }
}
