import HalfStepCore

/// One training step as the planner builds it, before it becomes bytes: every buffer a step
/// touches and every op, in execution order.
public struct TrainingProgram: Sendable {
    /// A buffer of the step: an activation, a gradient, a parameter, optimizer state, …
    public struct Tensor: Sendable, Equatable {
        public var name: String
        public var dtype: DType
        public var role: TensorRole
        public var region: Region
        /// Full shape including the batch dimension where `batchMajor`.
        public var shape: [Int]
        public var trainable: Bool
        public var batchMajor: Bool
        /// Little-endian initial contents (frozen weights in flash, initial values of trainable ones).
        public var initial: [UInt8]?
        /// Index into `Graph.parameters` when the tensor holds a parameter's values (weight or master).
        public var parameter: Int?
        /// The source-model initializer the tensor holds (a transform of), for export; nil for
        /// everything not read from the model.
        public var source: TensorSource? = nil
        /// Arena byte offset (region arena) once placed.
        public var offset: Int = 0

        public var elementCount: Int { shape.reduce(1, *) }
        public var bytes: Int { elementCount * dtype.byteWidth }

        /// The category `inspect` and budget errors account the tensor under.
        public var category: MemoryCategory { MemoryCategory(role: role) }
    }

    /// One op of the step program.
    public struct Op: Sendable, Equatable {
        public var opcode: OpCode
        public var phase: Phase
        /// Tensor indices per operand slot (nil: absent), as `OpCode` documents.
        public var operands: [Int?]
        /// Raw parameter slots.
        public var params: [UInt32]
        /// The graph node this op comes from (for reports), if any.
        public var node: String

        public init(opcode: OpCode, phase: Phase, operands: [Int?], params: [UInt32], node: String) {
            self.opcode = opcode
            self.phase = phase
            self.operands = operands
            self.params = params
            self.node = node
        }

        /// The op `op` in `phase`: its slots as its op file encodes them.
        public init<O: StepOp>(_ op: O, phase: Phase, node: String) {
            self.init(op.record(phase: phase), node: node)
        }

        /// A record's op (its opcode must be known).
        public init(_ r: OpRecord, node: String) {
            self.init(opcode: r.opcode!, phase: r.phase!, operands: (0 ..< min(Int(r.operandCount), PlanFormat.maxOperands)).map { r.operand($0) },
                      params: (0 ..< PlanFormat.maxParams).map { r.paramBits($0) }, node: node)
        }

        /// The op as a plan record.
        public var record: OpRecord {
            var r = OpRecord()
            r.opcodeRaw = opcode.rawValue
            r.phaseRaw = phase.rawValue
            r.operandCount = UInt8(operands.count)
            for (s, t) in operands.enumerated() { r.setOperand(s, t) }
            for (s, p) in params.enumerated() where s < PlanFormat.maxParams { r.setParamBits(s, p) }
            return r
        }
    }

    public var tensors: [Tensor] = []
    public var ops: [Op] = []
    public var config = TrainingConfig()
    /// Graph parameters that train, by index into the graph the builder planned (BatchNormalization
    /// folding appends parameters, so these may lie past the imported graph's).
    public var trainableParameters: [Int] = []
    /// Parameter elements that receive updates (a partly trained weight counts its trained rows).
    public var trainedElements: Int {
        ops.filter { $0.phase == .update }.reduce(0) { $0 + Int($1.params[0]) }
    }
    /// Human-readable choices the planner made, with their reasons.
    public var notes: [String] = []

    /// The same program with fp32 storage everywhere: the what-if behind the fp16 memory claim.
    /// fp32-master parameters need no separate copy in an fp32 plan: they already are fp32.
    public func widenedToFP32() -> TrainingProgram {
        var wide = self
        for i in wide.tensors.indices where wide.tensors[i].dtype == .float16 {
            wide.tensors[i].dtype = .float32
            if let initial = wide.tensors[i].initial {
                wide.tensors[i].initial = [UInt8](repeating: 0, count: initial.count * 2)
            }
        }
        for i in wide.tensors.indices where wide.tensors[i].role == .masterWeight {
            wide.tensors[i].role = .weight
        }
        return wide
    }
}

/// What memory is spent on, as `inspect` totals it.
public enum MemoryCategory: String, Sendable, CaseIterable, Comparable {
    case weights = "weights"
    case masterCopies = "master copies"
    case optimizerState = "optimizer state"
    case activations = "activations"
    case gradients = "gradients"
    case scratch = "scratch"
    case inputBatch = "input batch"

    public init(role: TensorRole) {
        switch role {
        case .input, .labels: self = .inputBatch
        case .activation: self = .activations
        case .activationGradient, .weightGradient, .gradientSum: self = .gradients
        case .weight: self = .weights
        case .masterWeight: self = .masterCopies
        case .optimizerState: self = .optimizerState
        case .loss, .scratch: self = .scratch
        }
    }

    public static func < (a: MemoryCategory, b: MemoryCategory) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}
