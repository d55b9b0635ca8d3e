/// Working memory a host's vectorised kernels may use during a step: weights repacked so eight
/// lanes load as one vector, a gradient transposed. It is not part of the plan: it is the part of
/// the arena past the plan's bytes, which a host caller makes `bytes(for:)` larger than the
/// plan needs (no tensor lives there, and nothing in it outlives an op). A device never has it,
/// and every kernel also runs without it (or with too little), with the same results bit for bit.
public struct KernelScratch {
    /// First byte.
    public let base: UnsafeMutableRawPointer
    /// Size in bytes.
    public let bytes: Int

    /// Wraps `bytes` bytes starting at `base`.
    public init(base: UnsafeMutableRawPointer, bytes: Int) {
        self.base = base
        self.bytes = bytes
    }

    /// Where the scratch starts in an arena for `plan`: the plan's bytes rounded up to 64.
    @inlinable
    public static func start(of plan: Plan) -> Int { (plan.arenaBytes + 63) & ~63 }

    /// Bytes of scratch the host kernels use for the largest op of `plan` (0 on a device, and
    /// when none of its ops has a path that uses scratch): an arena of `start(of:)` plus these
    /// bytes gives every op its scratch.
    public static func bytes(for plan: Plan) -> Int {
        var floats = 0
        var i = 0
        while i < plan.opCount {
            floats = max(floats, plan.op(i).scratchFloats)
            i += 1
        }
        return floats * 4
    }

    /// The first `count` fp32 elements, or nil when the scratch holds fewer.
    @inlinable
    public func floats(_ count: Int) -> TensorView<Float>? {
        count * 4 <= bytes ? TensorView(base: base.assumingMemoryBound(to: Float.self), count: count) : nil
    }
}
