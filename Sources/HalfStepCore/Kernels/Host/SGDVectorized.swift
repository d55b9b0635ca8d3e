#if arch(x86_64) || arch(arm64)
/// `SGD.update` with round-to-nearest storage (`fp32-master` and `fp16` modes) for 64-bit hosts,
/// eight elements at a time: the same results and the same tally, bit for bit.
///
/// Shapes: E elements. param [E] fp32 or fp16, grad [E] fp16 (scaled), momentum [E] fp16 or fp32
/// (absent when μ = 0).
///
/// Every element goes through the scalar loop's operations in its order — `g·s + λw`, then
/// `μv + g` rounded into the momentum's storage, then `Δ = −η·g`, then `w + Δ` rounded into the
/// parameter's — each a separately rounded fp32 operation on its own lane. Where Δ is 0 the
/// parameter's bits are kept (the scalar loop skips the write: `−0 + 0` would store `+0`);
/// the tally counts the lanes with Δ ≠ 0 and, among them, those whose stored value did not change.
/// Elements past the last multiple of 8 run the scalar loop itself.
public enum SGDVectorized {
    /// `SGD.update(param:grad:momentum:…)` (round-to-nearest storage), bit for bit.
    public static func update<P: UpdateLanes, S: UpdateLanes>(
        param: TensorView<P>, grad: TensorView<Float16>, momentum: TensorView<S>?, count: Int,
        learningRate: Float, momentumFactor: Float, weightDecay: Float, inverseScale: Float
    ) -> UpdateTally {
        var nonzero = 0, unchanged = 0
        let rate = -learningRate
        var i = 0
        while i &+ 8 <= count {
            let stored = P.load(param, i)
            let w = P.widened(stored)
            var g = Conv2DVectorized.widened(grad.row8(i)) * inverseScale + weightDecay * w
            if let momentum {
                let v = S.rounded(momentumFactor * S.widened(S.load(momentum, i)) + g)
                S.store(v, momentum, i)
                g = S.widened(v)
            }
            let delta = rate * g
            let moved = delta .!= 0
            if any(moved) {
                let updated = P.rounded(w + delta)
                P.store(P.select(updated, else: stored, where: moved), param, i)
                nonzero &+= lanes(in: moved)
                unchanged &+= lanes(in: moved .& (P.widened(updated) .== w))
            }
            i &+= 8
        }
        var tally = UpdateTally()
        if i < count {
            tally = SGD.update(param: param.slice(i, count &- i), grad: grad.slice(i, count &- i),
                               momentum: momentum.map { $0.slice(i, count &- i) }, count: count &- i,
                               learningRate: learningRate, momentumFactor: momentumFactor,
                               weightDecay: weightDecay, inverseScale: inverseScale)
        }
        tally.nonzeroUpdates += nonzero
        tally.underflows += unchanged
        return tally
    }

    /// Lanes set in `mask`.
    @inline(__always)
    static func lanes(in mask: SIMDMask<SIMD8<Int32>>) -> Int {
        Int(-unsafeBitCast(mask, to: SIMD8<Int32>.self).wrappedSum())
    }
}

/// A storage type the vectorised update reads and writes eight elements at a time.
public protocol UpdateLanes: UpdateStorage {
    /// Eight stored elements, as stored.
    associatedtype Lanes
    static func load(_ v: TensorView<Self>, _ i: Int) -> Lanes
    static func store(_ lanes: Lanes, _ v: TensorView<Self>, _ i: Int)
    /// The stored values widened to fp32 (exact), as `widened` does one.
    static func widened(_ lanes: Lanes) -> SIMD8<Float>
    /// `values` rounded into storage (nearest even), as `init(rounding:)` does one.
    static func rounded(_ values: SIMD8<Float>) -> Lanes
    /// `new` where `mask` is set, `old` (its bits) elsewhere.
    static func select(_ new: Lanes, else old: Lanes, where mask: SIMDMask<SIMD8<Int32>>) -> Lanes
}

extension Float: UpdateLanes {
    public static func load(_ v: TensorView<Float>, _ i: Int) -> SIMD8<Float> { v.vector8(i) }
    public static func store(_ lanes: SIMD8<Float>, _ v: TensorView<Float>, _ i: Int) { v.store8(lanes, at: i) }
    public static func widened(_ lanes: SIMD8<Float>) -> SIMD8<Float> { lanes }
    public static func rounded(_ values: SIMD8<Float>) -> SIMD8<Float> { values }
    public static func select(_ new: SIMD8<Float>, else old: SIMD8<Float>, where mask: SIMDMask<SIMD8<Int32>>) -> SIMD8<Float> {
        old.replacing(with: new, where: mask)
    }
}

extension Float16: UpdateLanes {
    /// fp16 bit patterns.
    public static func load(_ v: TensorView<Float16>, _ i: Int) -> SIMD8<UInt16> { v.row8(i) }
    public static func store(_ lanes: SIMD8<UInt16>, _ v: TensorView<Float16>, _ i: Int) { v.storeRow8(lanes, at: i) }
    public static func widened(_ lanes: SIMD8<UInt16>) -> SIMD8<Float> { Conv2DVectorized.widened(lanes) }
    public static func rounded(_ values: SIMD8<Float>) -> SIMD8<UInt16> {
        unsafeBitCast(DenseVectorized.rounded(values), to: SIMD8<UInt16>.self)
    }
    public static func select(_ new: SIMD8<UInt16>, else old: SIMD8<UInt16>, where mask: SIMDMask<SIMD8<Int32>>) -> SIMD8<UInt16> {
        let lanes = SIMD8<Int16>(truncatingIfNeeded: unsafeBitCast(mask, to: SIMD8<Int32>.self))
        return old.replacing(with: new, where: lanes .!= 0)
    }
}
#endif
