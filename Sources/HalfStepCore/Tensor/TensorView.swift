/// A typed window onto elements that live somewhere else (the arena or the flash image).
///
/// The view owns nothing and never allocates: it is a pointer and an element count. Every unsafe
/// pointer in the core is wrapped in one of these, so kernels index tensors and never do pointer
/// arithmetic themselves. Bounds are checked in debug builds only: the plan verifier proved every
/// operand fits before the first step ran, and the device cannot afford a check per element.
public struct TensorView<Scalar> {
    /// First element.
    public let base: UnsafeMutablePointer<Scalar>
    /// Number of elements (not bytes).
    public let count: Int

    /// Wraps `count` elements starting at `base`.
    @inlinable
    public init(base: UnsafeMutablePointer<Scalar>, count: Int) {
        self.base = base
        self.count = count
    }

    /// Element `i`; writing goes straight to the underlying memory (the view is a reference).
    @inlinable
    public subscript(i: Int) -> Scalar {
        @inline(__always) get {
            assert(i >= 0 && i < count, "tensor index out of range")
            return base[i]
        }
        @inline(__always) nonmutating set {
            assert(i >= 0 && i < count, "tensor index out of range")
            base[i] = newValue
        }
    }

    /// Sets every element to `value`.
    @inlinable
    public func fill(_ value: Scalar) {
        base.update(repeating: value, count: count)
    }

    /// The elements `start ..< start + length` as a view of their own.
    @inlinable
    public func slice(_ start: Int, _ length: Int) -> TensorView<Scalar> {
        assert(start >= 0 && length >= 0 && start + length <= count, "slice out of range")
        return TensorView(base: base + start, count: length)
    }
}

extension TensorView where Scalar == Float16 {
    /// Copies `source`'s elements over the first `source.count` of this view (the two must not
    /// overlap), 4 elements per two 32-bit words: `initialize(from:)` compiles to an element
    /// loop, `copyMemory` to a `memmove` whose backward case goes byte by byte. Word accesses
    /// need not be aligned on a Cortex-M3 and up (`widenedPair` relies on the same).
    @inlinable
    public func copy(from source: TensorView<Float16>) {
        assert(source.count <= count, "copy larger than the view")
        let d = UnsafeMutableRawPointer(base), s = UnsafeRawPointer(source.base)
        let bytes = source.count &* 2
        var b = 0
        while b &+ 8 <= bytes {
            let w0 = s.loadUnaligned(fromByteOffset: b, as: UInt32.self)
            let w1 = s.loadUnaligned(fromByteOffset: b &+ 4, as: UInt32.self)
            d.storeBytes(of: w0, toByteOffset: b, as: UInt32.self)
            d.storeBytes(of: w1, toByteOffset: b &+ 4, as: UInt32.self)
            b &+= 8
        }
        while b < bytes {
            d.storeBytes(of: s.loadUnaligned(fromByteOffset: b, as: UInt16.self), toByteOffset: b, as: UInt16.self)
            b &+= 2
        }
    }

    /// Elements `i` and `i + 1`, widened, read as one 32-bit word (little-endian: element `i` is
    /// the low half). On a Cortex-M4F LLVM still reaches the high half with a shift rather than
    /// `vcvtt`, so a pair costs what two single reads do; kernels use it where one loop trip per
    /// pair halves their loop overhead.
    @inlinable @inline(__always)
    public func widenedPair(_ i: Int) -> (Float, Float) {
        let word = pairBits(i)
        return (Float(Float16(bitPattern: UInt16(truncatingIfNeeded: word))),
                Float(Float16(bitPattern: UInt16(truncatingIfNeeded: word &>> 16))))
    }

    /// The bit patterns of elements `i` and `i + 1` as one 32-bit word, element `i` in the low half.
    @inlinable @inline(__always)
    public func pairBits(_ i: Int) -> UInt32 {
        assert(i >= 0 && i + 1 < count, "tensor index out of range")
        return UnsafeRawPointer(base + i).loadUnaligned(as: UInt32.self)
    }

    /// Sets elements `i` and `i + 1` to `u` and `v` rounded to fp16, as one 32-bit store.
    @inlinable @inline(__always)
    public func setRoundedPair(_ i: Int, _ u: Float, _ v: Float) {
        setPairBits(i, UInt32(Float16(u).bitPattern) | UInt32(Float16(v).bitPattern) &<< 16)
    }

    /// Writes the bit patterns of elements `i` and `i + 1` as one 32-bit word (`pairBits`' layout).
    @inlinable @inline(__always)
    public func setPairBits(_ i: Int, _ word: UInt32) {
        assert(i >= 0 && i + 1 < count, "tensor index out of range")
        UnsafeMutableRawPointer(base + i).storeBytes(of: word, as: UInt32.self)
    }
}

/// A storage element the compute kernels can read as an fp16 value.
///
/// Kernels compute on fp16 values with fp32 accumulation. Weights kept as fp32 master copies are
/// read through this protocol too, rounded to fp16 on the way in, so a layer computes exactly what
/// it would compute from an fp16 copy without the plan spending SRAM on one.
public protocol HalfComputable {
    /// The value as an fp16 number, widened to Float (exact).
    var computeValue: Float { get }
    /// Elements `i` and `i + 1` of `view` as compute sees them, read the cheapest way the
    /// storage allows.
    static func computePair(_ view: TensorView<Self>, _ i: Int) -> (Float, Float)
}

extension Float16: HalfComputable {
    @inlinable @inline(__always)
    public var computeValue: Float { Float(self) }

    /// One 32-bit load for both halves.
    @inlinable @inline(__always)
    public static func computePair(_ view: TensorView<Float16>, _ i: Int) -> (Float, Float) { view.widenedPair(i) }
}

extension Float: HalfComputable {
    @inlinable @inline(__always)
    public var computeValue: Float { Float(Float16(self)) }

    /// Two fp32 loads, each rounded to fp16: a pair costs what two singles do.
    @inlinable @inline(__always)
    public static func computePair(_ view: TensorView<Float>, _ i: Int) -> (Float, Float) {
        (view[i].computeValue, view[i &+ 1].computeValue)
    }
}

extension TensorView where Scalar: HalfComputable {
    /// Elements `i` and `i + 1` as compute sees them (`HalfComputable.computePair`).
    @inlinable @inline(__always)
    public func computePair(_ i: Int) -> (Float, Float) { Scalar.computePair(self, i) }
}
