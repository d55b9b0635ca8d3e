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
    /// 1 / loss scale, times the clipping factor when the gradients' norm is clipped: what every
    /// update multiplies its gradient by.
    public var inverseScale: Float = 1
    /// This step's learning rate (`LearningRateSchedule`; the config's without a schedule).
    public var learningRate: Float
    /// β₁ᵗ and β₂ᵗ for Adam's bias correction.
    public var beta1Power: Float = 1
    public var beta2Power: Float = 1
    /// Steps applied so far: the counter of stochastic rounding.
    public var appliedSteps: Int = 0
    /// What the update ops of this run did.
    public var tally = UpdateTally()

    /// The plan's tensor table and data section, kept so an op's views are read straight from
    /// its tensors' records: `plan.tensor(i)` decodes a whole record, and calling it through an
    /// op's `inout` context copied the whole `Plan` first (on the M4F a few hundred instructions
    /// per operand).
    @usableFromInline let tensorTable: UnsafeRawPointer, dataSection: UnsafeRawPointer

    /// A context for `rows` rows of `plan` in `arena`.
    @inlinable
    public init(plan: Plan, arena: Arena, rows: Int) {
        self.plan = plan
        self.arena = arena
        self.rows = rows
        learningRate = plan.config.learningRate
        tensorTable = plan.bytes.baseAddress! + Int(plan.header.tensorTableOffset)
        dataSection = plan.data(at: 0)
    }

    /// Tensor `i`'s record.
    @inlinable @inline(__always)
    func record(_ i: Int) -> UnsafeRawPointer { tensorTable + i &* PlanFormat.tensorRecordBytes }

    /// Where tensor `i` lives in memory, and its size in bytes.
    @inlinable @inline(__always)
    func place(_ i: Int) -> (UnsafeMutableRawPointer, bytes: Int) {
        let t = TensorRecord.placement(at: record(i))
        return (t.inArena ? arena.base + t.offset : UnsafeMutableRawPointer(mutating: dataSection + t.offset), t.bytes)
    }

    /// Where tensor `i` lives in memory.
    @inlinable @inline(__always)
    public func address(of i: Int) -> UnsafeMutableRawPointer { place(i).0 }

    /// Tensor `i` as fp16 elements (the verifier checked its type where the plan uses it so).
    @inlinable @inline(__always)
    public func half(_ i: Int) -> TensorView<Float16> {
        let (p, bytes) = place(i)
        return TensorView(base: p.assumingMemoryBound(to: Float16.self), count: bytes / 2)
    }

    /// Tensor `i` as fp32 elements.
    @inlinable @inline(__always)
    public func float(_ i: Int) -> TensorView<Float> {
        let (p, bytes) = place(i)
        return TensorView(base: p.assumingMemoryBound(to: Float.self), count: bytes / 4)
    }

    /// Tensor `i` as int32 elements.
    @inlinable @inline(__always)
    public func int(_ i: Int) -> TensorView<Int32> {
        let (p, bytes) = place(i)
        return TensorView(base: p.assumingMemoryBound(to: Int32.self), count: bytes / 4)
    }

    /// Tensor `i` as raw 32-bit words (bit masks).
    @inlinable @inline(__always)
    public func words(_ i: Int) -> TensorView<UInt32> {
        let (p, bytes) = place(i)
        return TensorView(base: p.assumingMemoryBound(to: UInt32.self), count: bytes / 4)
    }

    /// Tensor `i` as a parameter, whichever its storage type.
    @inlinable @inline(__always)
    public func parameter(_ i: Int) -> ParameterView {
        TensorRecord.isFloat32(at: record(i)) ? .master(float(i)) : .half(half(i))
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
    @inlinable @inline(__always)
    public func unread(at i: Int) -> TensorView<Float16> {
        TensorView(base: address(of: i).assumingMemoryBound(to: Float16.self), count: 0)
    }
}
