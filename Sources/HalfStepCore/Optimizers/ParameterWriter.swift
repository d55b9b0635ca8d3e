/// How an optimizer's fp32 update reaches a stored parameter: the update modes of a plan.
///
/// Optimizers compute `w + Δ` in fp32 and hand it to a writer, which rounds it into storage and
/// says whether the stored value changed (a nonzero update that did not is an update underflow).
public protocol ParameterWriter {
    /// Element `i` as the optimizer reads it (fp32).
    func read(_ i: Int) -> Float
    /// Stores `old + delta` for element `i` (`old` is `read(i)`); true when the stored value changed.
    mutating func write(_ i: Int, old: Float, delta: Float) -> Bool
}

/// `fp32-master` (Storage = Float) and `fp16` (Storage = Float16): round to nearest even.
public struct NearestWriter<Storage: UpdateStorage>: ParameterWriter {
    public let values: TensorView<Storage>

    @inlinable public init(_ values: TensorView<Storage>) { self.values = values }

    @inlinable @inline(__always)
    public func read(_ i: Int) -> Float { values[i].widened }

    @inlinable @inline(__always)
    public mutating func write(_ i: Int, old: Float, delta: Float) -> Bool {
        let updated = Storage(rounding: old + delta)
        values[i] = updated
        return updated.widened != old
    }
}

/// `fp16-stochastic`: rounds `w + Δ` up or down to a neighbouring fp16 value with probability
/// proportional to its distance, so updates smaller than half an fp16 step still move the weight
/// on average. The randomness is a counter-based hash of (seed, step, tensor, element): the same
/// on host and device, and reproducible run to run.
public struct StochasticWriter: ParameterWriter {
    public let values: TensorView<Float16>
    public let seed: UInt32
    public let step: UInt32
    public let tensor: UInt32

    @inlinable
    public init(_ values: TensorView<Float16>, seed: UInt32, step: UInt32, stream: UInt32) {
        self.values = values
        self.seed = seed
        self.step = step
        self.tensor = stream
    }

    @inlinable @inline(__always)
    public func read(_ i: Int) -> Float { Float(values[i]) }

    @inlinable
    public mutating func write(_ i: Int, old: Float, delta: Float) -> Bool {
        let target = old + delta
        let nearest = Float16(target)
        var result = nearest
        let n = Float(nearest)
        if n != target && nearest.isFinite {
            let below = n < target ? nearest : nearest.nextDown
            let above = n < target ? nearest.nextUp : nearest
            let low = Float(below), gap = Float(above) - low
            if gap.isFinite && gap > 0 {
                let u = CounterRandom.unit(seed: seed, step: step, stream: tensor, index: UInt32(truncatingIfNeeded: i))
                result = u < (target - low) / gap ? above : below
            }
        }
        let changed = result != values[i]
        values[i] = result
        return changed
    }
}

/// `fp16-kahan`: Kahan-compensated fp16 updates. A per-element fp16 compensation keeps the part of
/// each update that rounding lost and adds it back on the next, so small updates accumulate
/// instead of vanishing, for one extra fp16 buffer per tensor.
public struct KahanWriter: ParameterWriter {
    public let values: TensorView<Float16>
    public let compensation: TensorView<Float16>

    @inlinable
    public init(_ values: TensorView<Float16>, compensation: TensorView<Float16>) {
        self.values = values
        self.compensation = compensation
    }

    @inlinable @inline(__always)
    public func read(_ i: Int) -> Float { Float(values[i]) }

    @inlinable
    public mutating func write(_ i: Int, old: Float, delta: Float) -> Bool {
        let corrected = delta + Float(compensation[i])
        let updated = Float16(old + corrected)
        // What the rounding dropped: kept for the next update.
        compensation[i] = Float16(corrected - (Float(updated) - old))
        let changed = updated != values[i]
        values[i] = updated
        return changed
    }
}
