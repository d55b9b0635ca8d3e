import HalfStepCore

/// Everything that shapes a plan's memory and numerics, decided at plan time.
///
/// `train` only runs a plan; batch size, what trains, optimizer, update mode and loss scaling are
/// all fixed here so the memory they need is known before anything runs.
public struct PlanOptions: Sendable, Equatable {
    /// Which parameters train.
    public enum TrainSelection: Sendable, Equatable, CustomStringConvertible {
        /// Every weight and bias.
        case all
        /// The weights and biases of the last `k` parameterised layers.
        case last(Int)
        /// Biases only (weights frozen in flash).
        case biases
        /// The named layers (ONNX node names) or parameters (initializer names).
        case layers([String])
        /// Nothing trains (inference plan; useful for eval and memory studies).
        case none

        public var description: String {
            switch self {
            case .all: return "all"
            case .last(let k): return "last:\(k)"
            case .biases: return "biases"
            case .layers(let names): return "layers:" + names.joined(separator: ",")
            case .none: return "none"
            }
        }
    }

    /// Element type of optimizer state (momentum, Adam moments). fp16 by default: SGD momentum
    /// has the gradient's range, and Adam's second moment is stored as its square root so it does
    /// too (see `Adam`), so fp16 state does not collapse; fp32 is there for a user's comparison.
    public enum StateType: String, Sendable, Equatable {
        case fp16
        case fp32
    }

    /// Loss scaling policy.
    public enum LossScaling: Sendable, Equatable, CustomStringConvertible {
        case none
        case fixed(Float)
        /// PyTorch GradScaler defaults unless overridden: initial 2¹⁶, ×2 every 2000 clean steps, ×0.5 on overflow.
        case dynamic(initial: Float, growthInterval: Int)

        public var description: String {
            switch self {
            case .none: return "none"
            case .fixed(let s): return "static:\(formatScale(s))"
            case .dynamic(let initial, let interval): return "dynamic (initial \(formatScale(initial)), grow ×2 every \(interval) clean steps, ×0.5 on overflow)"
            }
        }
    }

    /// The loss (`--loss`): how the output is compared with labels or targets.
    public enum Loss: Sendable, Equatable, CustomStringConvertible {
        case crossEntropy
        case mse
        case l1
        /// Huber with this delta (> 0; PyTorch's default 1).
        case huber(Float)

        public var kind: LossKind {
            switch self {
            case .crossEntropy: return .crossEntropy
            case .mse: return .mse
            case .l1: return .l1
            case .huber: return .huber
            }
        }

        public var description: String {
            switch self {
            case .crossEntropy: return "cross-entropy"
            case .mse: return "mse"
            case .l1: return "l1"
            case .huber(let d): return "huber:\(d)"
            }
        }
    }

    /// The learning-rate schedule (`--lr-schedule`, see `LearningRateSchedule`).
    public enum Schedule: Sendable, Equatable, CustomStringConvertible {
        case constant
        /// × gamma every `every` steps.
        case step(every: Int, gamma: Float)
        /// Cosine down to `minimum` over `steps` steps, then held.
        case cosine(steps: Int, minimum: Float)

        public var description: String {
            switch self {
            case .constant: return "constant"
            case .step(let e, let g): return "step:\(e):\(g)"
            case .cosine(let s, let m): return m == 0 ? "cosine:\(s)" : "cosine:\(s):\(m)"
            }
        }
    }

    public var batch: Int = 32
    /// The loss (default cross-entropy against class labels).
    public var loss: Loss = .crossEntropy
    /// The learning-rate schedule (default constant).
    public var schedule: Schedule = .constant
    /// Steps of linear warm-up (0: none).
    public var warmupSteps: Int = 0
    /// Largest global L2 norm of the gradients; nil: no clipping (`--clip-grad-norm`).
    public var clipGradNorm: Float? = nil
    public var train: TrainSelection = .all
    public var optimizer: OptimizerKind = .sgd
    public var learningRate: Float = 0.01
    /// SGD momentum, or Adam β₁ (default 0.9 for Adam when left at nil).
    public var momentum: Float? = nil
    public var weightDecay: Float = 0
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8
    /// The update mode of every trainable tensor not named in `updateOverrides`.
    public var update: UpdateMode = .fp32Master
    /// Per-tensor update modes, by initializer name or layer (node) name, e.g. fp32 master copies
    /// for the classifier only.
    public var updateOverrides: [String: UpdateMode] = [:]
    public var lossScale: LossScaling = .dynamic(initial: 65536, growthInterval: 2000)
    public var state: StateType = .fp16
    public var seed: UInt32 = 0
    /// Accumulate dot products in fp16 instead of fp32 (for cores with fp16 arithmetic).
    public var accumulateHalf = false
    /// SRAM budget in bytes (nil: unchecked).
    public var sramBudget: Int? = nil
    /// Flash budget in bytes (nil: unchecked).
    public var flashBudget: Int? = nil
    /// Arena alignment in bytes.
    public var alignment: Int = PlanFormat.alignment
    /// Lever: each parameter's update runs right after the backward op that produced its gradient,
    /// so weight gradients never all live at once (`--fuse-updates`).
    public var fuseUpdates = false
    /// Lever: the fraction of each trainable weight's output channels (rows) that train, the first
    /// ⌈f·M⌉ of them (`--train-channels F`, 0 < F ≤ 1). Biases train whole.
    public var trainedChannelFraction: Double = 1
    /// Lever: fold every BatchNormalization into the convolution before it, freezing γ
    /// (`--fold-batchnorm`). Without it, a BatchNormalization is folded exactly when its γ is frozen.
    public var foldBatchNorm = false
    /// Lever: run each step as micro-batches of this many samples, their weight gradients summed
    /// before one update (`--micro-batch M`; `batch` must be a multiple of M). Activations are
    /// planned for M samples; every trainable tensor gains a gradient sum. nil: one micro-batch.
    public var microBatch: Int? = nil
    /// Lever: a ReLU or Clip (ReLU6) whose output nothing else in backward reads keeps a 1-bit
    /// mask of where its gradient passes instead of its fp16 output (`--relu-masks`).
    public var activationMasks = false
    /// Lever: a MaxPool or HardSwish output that backward reads is computed again there from the
    /// input its own backward keeps anyway, instead of being kept since the forward pass
    /// (`--recompute`).
    public var recompute = false
    /// Speed lever: each convolution with a window other than 1×1 and not depthwise runs its
    /// forward pass through an im2col panel (`Conv2DPanel`), a planned scratch of a few output
    /// pixels' taps, instead of the direct kernel (`--conv-panels on`). Costs that scratch in SRAM
    /// where a panel is live at the peak; same results for finite weights.
    public var convPanels = false
    /// Run each frozen expansion + depthwise pair of an inverted residual block as one op, one
    /// hidden channel at a time, so its expanded activation never exists (on by default; off
    /// only to measure what it saves).
    public var fuseFrozenBlocks = true

    public init() {}

    /// The momentum (or β₁) the plan will use.
    /// Checks the options on their own (what needs the model is checked while planning): the one
    /// check the CLI, `--fit` and library callers all go through.
    public func validate() throws(PlannerError) {
        guard batch >= 1 && batch <= 65535 else { throw .badOption(name: "--batch", value: "\(batch)", expected: "1 ... 65535") }
        if let m = microBatch {
            guard m >= 1 && m <= batch && batch % m == 0 else {
                throw .badOption(name: "--micro-batch", value: "\(m)", expected: "a divisor of --batch \(batch) (1 ... \(batch))")
            }
            if fuseUpdates && m < batch {
                throw .badOption(name: "--fuse-updates", value: "with --micro-batch \(m)", expected: "one of the two: a fused update would run before the other micro-batches' gradients exist")
            }
        }
        guard trainedChannelFraction > 0 && trainedChannelFraction <= 1 else {
            throw .badOption(name: "--train-channels", value: "\(trainedChannelFraction)", expected: "a fraction 0 < F ≤ 1")
        }
        if accumulateHalf && trainedChannelFraction < 1 {
            throw .badOption(name: "--train-channels", value: "\(trainedChannelFraction)", expected: "1 with --accumulate fp16 (the fp16-accumulation kernels train whole layers)")
        }
        if let m = momentum, !(m >= 0 && m < 1) { throw .badOption(name: "--momentum", value: "\(m)", expected: "a number in [0, 1)") }
        guard beta2 >= 0 && beta2 < 1 else { throw .badOption(name: "--beta2", value: "\(beta2)", expected: "a number in [0, 1)") }
        guard learningRate.isFinite && learningRate >= 0 else { throw .badOption(name: "--lr", value: "\(learningRate)", expected: "a finite number ≥ 0") }
        guard weightDecay.isFinite && weightDecay >= 0 else { throw .badOption(name: "--weight-decay", value: "\(weightDecay)", expected: "a finite number ≥ 0") }
        guard epsilon.isFinite && epsilon >= 0 else { throw .badOption(name: "--eps", value: "\(epsilon)", expected: "a finite number ≥ 0") }
        if case .huber(let d) = loss, !(d.isFinite && d > 0) { throw .badOption(name: "--loss", value: "huber:\(d)", expected: "huber:DELTA with a finite DELTA > 0") }
        switch schedule {
        case .constant: break
        case .step(let every, let gamma):
            guard every >= 1 && every <= PlanFormat.maxElements && gamma.isFinite && gamma > 0 && gamma <= 1 else {
                throw .badOption(name: "--lr-schedule", value: schedule.description, expected: "step:EVERY:GAMMA with EVERY ≥ 1 steps and 0 < GAMMA ≤ 1")
            }
        case .cosine(let steps, let minimum):
            guard steps >= 1 && steps <= PlanFormat.maxElements && minimum.isFinite && minimum >= 0 && minimum <= learningRate else {
                throw .badOption(name: "--lr-schedule", value: schedule.description, expected: "cosine:STEPS[:MIN_LR] with STEPS ≥ 1 and 0 ≤ MIN_LR ≤ --lr \(learningRate)")
            }
        }
        guard warmupSteps >= 0 && warmupSteps <= PlanFormat.maxElements else { throw .badOption(name: "--warmup", value: "\(warmupSteps)", expected: "0 ... \(PlanFormat.maxElements) steps") }
        if let c = clipGradNorm {
            guard c.isFinite && c > 0 else { throw .badOption(name: "--clip-grad-norm", value: "\(c)", expected: "a finite number > 0") }
            if fuseUpdates {
                throw .badOption(name: "--fuse-updates", value: "with --clip-grad-norm", expected: "one of the two: clipping needs every gradient's norm before the first update, a fused update runs before the rest exist")
            }
        }
    }

    public var effectiveMomentum: Float { momentum ?? (optimizer == .sgd ? 0 : 0.9) }

    /// The optimizer-state element type the plan will use.
    public var effectiveStateType: DType {
        state == .fp16 ? .float16 : .float32
    }
}

func formatScale(_ s: Float) -> String {
    if s >= 1, s == s.rounded(), s < 1e9 { return String(Int(s)) }
    return "\(s)"
}
