/// What a running op reads besides its record: the plan and arena its tensors live in, the rows
/// of this run, and the step's scalars (loss scale, Adam's powers, the update counter).
public struct StepContext {
    /// The verified plan.
    public let plan: Plan
    /// The SRAM the plan runs in.
    public let arena: Arena
    /// Batch rows this run covers (at most the plan's batch).
    public var rows: Int
    /// What the loss op multiplies its logits gradient by (the loss scale, or a micro-batch's share).
    public var lossScale: Float = 1
    /// 1 / loss scale: what every update multiplies its gradient by.
    public var inverseScale: Float = 1
    /// β₁ᵗ and β₂ᵗ for Adam's bias correction.
    public var beta1Power: Float = 1
    public var beta2Power: Float = 1
    /// Steps applied so far: the counter of stochastic rounding.
    public var appliedSteps: Int = 0
    /// What the update ops of this run did.
    public var tally = UpdateTally()

    /// A context for `rows` rows of `plan` in `arena`.
    @inlinable
    public init(plan: Plan, arena: Arena, rows: Int) {
        self.plan = plan
        self.arena = arena
        self.rows = rows
    }

    /// Where tensor `i` lives in memory.
    @inlinable
    public func address(of i: Int) -> UnsafeMutableRawPointer {
        let t = plan.tensor(i)
        if t.region == .arena { return arena.base + Int(t.offset) }
        return UnsafeMutableRawPointer(mutating: plan.data(at: Int(t.offset)))
    }

    /// Tensor `i` as fp16 elements (the verifier checked its type where the plan uses it so).
    @inlinable
    public func half(_ i: Int) -> TensorView<Float16> {
        TensorView(base: address(of: i).assumingMemoryBound(to: Float16.self), count: Int(plan.tensor(i).bytes) / 2)
    }

    /// Tensor `i` as fp32 elements.
    @inlinable
    public func float(_ i: Int) -> TensorView<Float> {
        TensorView(base: address(of: i).assumingMemoryBound(to: Float.self), count: Int(plan.tensor(i).bytes) / 4)
    }

    /// Tensor `i` as int32 elements.
    @inlinable
    public func int(_ i: Int) -> TensorView<Int32> {
        TensorView(base: address(of: i).assumingMemoryBound(to: Int32.self), count: Int(plan.tensor(i).bytes) / 4)
    }

    /// Tensor `i` as raw 32-bit words (bit masks).
    @inlinable
    public func words(_ i: Int) -> TensorView<UInt32> {
        TensorView(base: address(of: i).assumingMemoryBound(to: UInt32.self), count: Int(plan.tensor(i).bytes) / 4)
    }

    /// Tensor `i` as a parameter, whichever its storage type.
    @inlinable
    public func parameter(_ i: Int) -> ParameterView {
        plan.tensor(i).dtype == .float32 ? .master(float(i)) : .half(half(i))
    }

    #if arch(x86_64) || arch(arm64)
    /// Host working memory for vectorised kernels: the arena's bytes past the plan's, from the
    /// next 64-byte boundary (`KernelScratch`), or nil when there are none. A host may hand the
    /// trainer a larger arena than the plan needs (`KernelScratch.bytes(for:)` says how much
    /// larger is useful); no tensor lives there, and a device build never looks.
    @inlinable
    public var scratch: KernelScratch? {
        let start = KernelScratch.start(of: plan)
        return arena.bytes > start ? KernelScratch(base: arena.base + start, bytes: arena.bytes - start) : nil
    }
    #endif

    /// An empty fp16 view at tensor `i`, for a kernel operand it never reads.
    @inlinable
    public func unread(at i: Int) -> TensorView<Float16> {
        TensorView(base: address(of: i).assumingMemoryBound(to: Float16.self), count: 0)
    }
}
