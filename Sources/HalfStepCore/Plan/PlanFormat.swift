/// The `.hsplan` binary format, version 1: every constant and record layout, defined once.
///
/// The host planner writes plans through these definitions and the core reads them in place, so
/// the two cannot drift apart. All integers are little-endian; floats are IEEE binary32 bits.
///
/// ```
/// offset  size  field
///      0    64  header          (PlanHeader)
///      …  48·T  tensor table    (TensorRecord × tensorCount)
///      …  48·O  step program    (OpRecord × opCount, ordered forward, loss, backward, update)
///      …  64|96 training config (TrainingConfig; 96 bytes when it uses the extension)
///      …     …  names           (UTF-8: source model path, tensor names, planner notes, then an
///                               optional provenance block; for host tools only)
///      …     …  data            (16-byte aligned: frozen weights, initial values of trainable tensors)
/// ```
/// The CRC-32 covers bytes `16 ..< fileBytes`, everything after the CRC field itself.
///
/// The names section may end with a provenance block (host-only): a NUL byte, the line
/// `halfstep-provenance 1`, then JSON saying which source-model initializer each tensor holds and
/// how it was transformed (transposed, BatchNorm folded), for `train --export`. It was added
/// without a version change: it comes after every name, so no `nameOffset` and no byte the device
/// reads moved, and the core never reads the names section beyond each tensor's name range. Plans
/// without it (earlier planners) are still version 1; `HalfStepPlanner.PlanProvenance` defines it.
///
/// Opcode 28 (`conv2dPanelForward`, the `--conv-panels` lever) was also added without a version
/// change: only plans that use it contain it, every other plan's bytes are unchanged, and a core
/// that predates it refuses such a plan at its op record (unknown opcode) before running anything.
///
/// The training config's 32-byte extension (loss kind, learning-rate schedule, warm-up, gradient
/// clipping, issue 16) was added the same way: a plan whose config keeps every default writes the
/// 64-byte config with unchanged bytes; one that uses any of them writes 96 bytes
/// (`configBytes` in the header says which) and contains opcode 29 or a field an older core
/// refuses at the header's config size, before running anything.
public enum PlanFormat {
    /// `"HSPL"` read as a little-endian UInt32.
    public static let magic: UInt32 = 0x4C50_5348
    /// The format version this core reads and the planner writes.
    public static let version: UInt16 = 1
    /// Header size in bytes.
    public static let headerBytes = 64
    /// Tensor record size in bytes.
    public static let tensorRecordBytes = 48
    /// Op record size in bytes.
    public static let opRecordBytes = 48
    /// Training config size in bytes, without the extension.
    public static let configBytes = 64
    /// Training config size in bytes with the extension (loss kind, schedule, clipping).
    public static let extendedConfigBytes = 96
    /// First byte covered by the CRC.
    public static let crcStart = 16
    /// Alignment of the data section and of every arena offset, in bytes.
    public static let alignment = 16
    /// Largest rank a tensor record holds.
    public static let maxRank = 4
    /// Operand slots per op record.
    public static let maxOperands = 8
    /// Parameter slots (UInt32) per op record.
    public static let maxParams = 7
    /// Operand value meaning "no tensor".
    public static let noTensor: UInt16 = 0xFFFF
    /// Largest element count, dimension, arena size (bytes) or integer parameter the core reads:
    /// 2^31 − 1, the largest `Int` of a 32-bit device. The verifier refuses anything larger, so
    /// every such field of a verified plan converts to `Int` without a trap on every word size.
    public static let maxElements = 0x7FFF_FFFF
}

/// Element type of a tensor.
public enum DType: UInt8, Sendable {
    case float16 = 1
    case float32 = 2
    case int32 = 3

    /// Bytes per element.
    @inlinable
    public var byteWidth: Int {
        switch self {
        case .float16: return 2
        case .float32, .int32: return 4
        }
    }
}

/// Where a tensor lives on the device.
public enum Region: UInt8, Sendable {
    /// In the SRAM arena, at an offset from the arena base.
    case arena = 1
    /// In the plan's data section (flash on a device), read-only.
    case flash = 2
}

/// What a tensor is for; drives memory accounting and which checks the verifier applies.
public enum TensorRole: UInt8, Sendable {
    case input = 1
    case labels = 2
    case activation = 3
    case activationGradient = 4
    /// A model weight or bias as compute reads it (fp16, or fp32 when it is the master copy).
    case weight = 5
    case weightGradient = 6
    /// An fp32 master copy of a trainable weight (compute reads it rounded to fp16).
    case masterWeight = 7
    case optimizerState = 8
    case loss = 9
    case scratch = 10
    /// The sum of a weight gradient over a step's micro-batches (fp16; zeroed by the trainer at
    /// the start of each step, read by the update).
    case gradientSum = 11
}

/// Phase of the step program an op belongs to.
public enum Phase: UInt8, Sendable {
    case forward = 0
    case loss = 1
    case backward = 2
    case update = 3
}

/// The operations of a step program: the format's opcode table, with each opcode's operand and
/// parameter slots (a summary: each op's file under `Ops/` defines them, and a test checks this
/// table's operand lists against those files). `OpCode.visit` maps each opcode to its op type.
public enum OpCode: UInt16, Sendable {
    /// operands `[x, W, b?, y]`; params `[N, K, M, alpha bits, beta bits]`.
    case denseForward = 1
    /// operands `[dy, x, W, dx?, dW?, db?]`; params `[N, K, M, alpha bits, beta bits]`.
    case denseBackward = 2
    /// operands `[x, y]` (may be the same tensor); params `[N, elements per sample]`.
    case reluForward = 3
    /// operands `[dy, y, dx]` (`dx` may be `dy`); params `[N, elements per sample]`.
    case reluBackward = 4
    /// operands `[logits, labels, loss, dlogits]`; params `[N, classes]`.
    case softmaxCrossEntropy = 5
    /// operands `[param, grad, momentum?, -, compensation?]`; params `[elements, UpdateMode, stream]`.
    /// `compensation` is present exactly for `fp16Kahan`; `stream` numbers the tensor for
    /// stochastic rounding.
    case sgdUpdate = 6
    /// operands `[param, grad, m, r, compensation?]`; params `[elements, UpdateMode, stream]`.
    case adamUpdate = 7
    /// operands `[x, W, b?, y]`; params `[N, Window2D slots 1 ... 6]`.
    case conv2dForward = 8
    /// operands `[dy, x, W, dx?, dW?, db?]`; params as `conv2dForward`. `dW` holds the first
    /// `trainedOutputs` output channels.
    case conv2dBackward = 9
    /// operands `[x, y]`; params `[N, Window2D slots]` (M = C).
    case maxPoolForward = 10
    /// operands `[dy, x, dx]`; params as `maxPoolForward`.
    case maxPoolBackward = 11
    /// operands `[x, y]`; params `[N, Window2D slots]` (M = C; group 1: padding counts).
    case averagePoolForward = 12
    /// operands `[dy, dx]`; params as `averagePoolForward`.
    case averagePoolBackward = 13
    /// operands `[x, y]`; params `[N, C, plane elements]`.
    case globalAveragePoolForward = 14
    /// operands `[dy, dx]`; params as `globalAveragePoolForward`.
    case globalAveragePoolBackward = 15
    /// operands `[a, b, y]` (y may be a or b); params `[N, elements per sample]`.
    case elementwiseAdd = 16
    /// operands `[g, other]`: `g += other` where branches' gradients meet; params `[N, elements per sample]`.
    case accumulateActivationGradient = 17
    /// operands `[x, y]` (may be the same); params `[N, elements per sample, Activation.Kind, a bits, b bits]`.
    case activationForward = 18
    /// operands `[dy, saved, dx]` (`dx` may be `dy`); params as `activationForward`.
    case activationBackward = 19
    /// operands `[x, s, y]`: `y = x · s[c]` (forward, and backward with dy, dx); params `[N, C, plane]`,
    /// `s` holds 1 or C elements.
    case channelScale = 20
    /// operands `[x, γ, β, mean, invStd, y]`; params `[N, C, plane]`.
    case batchNormForward = 21
    /// operands `[dy, x, γ, mean, invStd, dx?, dγ?, dβ?]`; params `[N, C, plane]`.
    case batchNormBackward = 22
    /// operands `[x, y]`; params `[N, length, x row stride, x offset, y row stride, y offset]` (elements).
    case copyRows = 23
    /// operands `[x, We, be?, Wd, bd?, y, scratch]`; params `[N, depthwise Window2D slots 1 ... 5,
    /// C | first activation << 16 | second << 24]` (`ExpandDepthwise`).
    case expandDepthwiseForward = 24
    /// operands `[sum, g]`; params `[N, count]` (count in elements): `sum += g`, a weight gradient added to
    /// its sum over micro-batches (not scaled by the rows run).
    case accumulateGradient = 25
    /// operands `[y, mask]`; params `[N, E, low bits, high bits]`: bit i of the int32-word mask
    /// [⌈N·E/32⌉] set where `low < y[i] < high` (`ActivationMask`; high NaN: no upper limit).
    case activationMaskForward = 26
    /// operands `[dy, mask, dx]`; params `[N, E]`: `dx = dy` where the mask bit is set, else 0.
    case activationMaskBackward = 27
    /// operands `[x, W, b?, y, panel]`; params as `conv2dForward`: the forward pass through an
    /// im2col panel of T pixels × K taps (`Conv2DPanel`; T = the panel's elements / K).
    case conv2dPanelForward = 28
    /// operands `[output, targets, loss, doutput]`; params `[N, outputs per sample]`: the config's
    /// regression loss (`LossKind`: MSE, L1 or Huber) against fp16 targets, fused with its gradient.
    case regressionLoss = 29
}

/// The loss a plan trains with (config byte 64).
public enum LossKind: UInt8, Sendable {
    /// Softmax cross-entropy against int32 class labels (PyTorch `CrossEntropyLoss`).
    case crossEntropy = 0
    /// Mean squared error against fp16 targets (PyTorch `MSELoss`, mean over batch and outputs).
    case mse = 1
    /// Mean absolute error (PyTorch `L1Loss`).
    case l1 = 2
    /// Huber loss with the config's delta (PyTorch `HuberLoss`).
    case huber = 3

    /// True for the losses against float targets.
    public var isRegression: Bool { self != .crossEntropy }
}

/// How the learning rate changes over the steps (config byte 65; `LearningRateSchedule`).
public enum ScheduleKind: UInt8, Sendable {
    /// The config's learning rate at every step.
    case constant = 0
    /// Multiplied by `scheduleFactor` every `scheduleSteps` steps (PyTorch `StepLR`).
    case step = 1
    /// Cosine from the learning rate down to `scheduleFactor` over `scheduleSteps` steps, then
    /// held there (PyTorch `CosineAnnealingLR` for its first half-period).
    case cosine = 2
}

/// How a trainable tensor absorbs its update.
public enum UpdateMode: UInt8, Sendable {
    /// The parameter tensor is an fp32 master copy; compute reads it rounded to fp16.
    case fp32Master = 1
    /// The parameter tensor is fp16; each update rounds to nearest.
    case fp16 = 2
    /// fp16, each update rounded stochastically (counter-based randomness from the plan's seed).
    case fp16Stochastic = 3
    /// fp16 with an fp16 Kahan compensation buffer (update op operand 4).
    case fp16Kahan = 4
}

/// The optimizer a plan trains with.
public enum OptimizerKind: UInt8, Sendable {
    /// SGD with optional momentum and L2 weight decay (PyTorch `torch.optim.SGD`).
    case sgd = 1
    /// Adam with L2 weight decay added to the gradient (PyTorch `torch.optim.Adam`).
    case adam = 2
    /// Adam with decoupled weight decay (PyTorch `torch.optim.AdamW`).
    case adamW = 3
}

/// How the loss is scaled before backward.
public enum LossScaleMode: UInt8, Sendable {
    case none = 0
    /// A fixed scale, `TrainingConfig.initialLossScale`.
    case fixed = 1
    /// PyTorch `GradScaler` behaviour: grow after `growthInterval` clean steps, back off on overflow.
    case dynamic = 2
}
