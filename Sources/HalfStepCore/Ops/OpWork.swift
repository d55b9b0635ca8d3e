/// The work one op does, counted from its shapes the way its kernel loops: the input of a
/// per-core cost model (cycles ≈ Σ count × cost per kind). Each op's `work(rows:)` counts its own.
///
/// Counts are those of the one-output-at-a-time reference loops (every fp16 operand read is a load
/// plus an fp16→fp32 conversion, every stored result a conversion plus a store, every multiply-add
/// one MAC); the blocked kernels share operands across several outputs, which the cost model's
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
    /// exp and log evaluations: software routines on every Cortex-M (a square root is one FPU
    /// instruction where there is an FPU, and counts as `other`).
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

    /// One pass over `elements` fp16 elements reading `reads` operands and writing one: each
    /// read a load and a conversion, the result a conversion and a store, `other` operations
    /// per element.
    public static func elementwise(_ elements: Int, reads: Int, other: Int = 1) -> OpWork {
        var w = OpWork()
        w.loads = reads * elements
        w.conversions = (reads + 1) * elements
        w.stores = elements
        w.other = other * elements
        return w
    }

    /// Loads, conversions, stores and other operations beyond those of the multiply-accumulates:
    /// each MAC's two operand loads and conversions belong to its inner loop, so only the rest
    /// (bias adds, output stores and conversions, elementwise passes) counts here.
    public var elementwiseOperations: Int {
        max(0, loads - 2 * macs) + max(0, conversions - 2 * macs) + stores + other
    }

    /// The work of `op` on `rows` batch rows (nothing for an unknown opcode).
    public static func of(_ op: OpRecord, rows: Int) -> OpWork { op.work(rows: rows) }
}
