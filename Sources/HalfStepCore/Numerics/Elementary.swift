/// `exp`, `log` and `cos` for Float, written out so that the host and every device compute the
/// same bits.
///
/// Embedded Swift has no libm binding, and libm implementations differ between the host and
/// newlib; a plan must produce identical losses (and learning rates) on both, so the core carries
/// its own. Each uses range reduction plus a short series; error is within 2 ulp over the ranges
/// softmax and the cosine schedule need.
public enum Elementary {
    /// ln 2 split in a high part exact in Float and a low correction.
    @usableFromInline static let ln2High: Float = 0.693_145_751_953_125
    @usableFromInline static let ln2Low: Float = 1.428_606_765_330_187e-06
    @usableFromInline static let log2e: Float = 1.442_695_040_888_963_4

    /// e raised to `x`. Returns 0 below -87.3 (where the result would be subnormal) and +inf above 88.7.
    @inlinable
    public static func exp(_ x: Float) -> Float {
        if x.isNaN { return x }
        if x > 88.72 { return .infinity }
        if x < -87.33 { return 0 }
        // x = k·ln2 + r with |r| ≤ ln2/2, so e^x = 2^k · e^r.
        let t = x * log2e
        let k = Int(t >= 0 ? t + 0.5 : t - 0.5)
        let kf = Float(k)
        let r = (x - kf * ln2High) - kf * ln2Low
        // Taylor series to r^7: truncation error below 2^-27 relative for |r| ≤ 0.347.
        var p: Float = 1.0 / 5040
        p = p * r + 1.0 / 720
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        // k ∈ [-126, 128]; build 2^k in two halves so k = 128 does not overflow the exponent field.
        let half = k / 2
        let s1 = Float(bitPattern: UInt32(truncatingIfNeeded: half + 127) << 23)
        let s2 = Float(bitPattern: UInt32(truncatingIfNeeded: k - half + 127) << 23)
        return p * s1 * s2
    }

    /// Natural logarithm of `x`. Returns -inf for 0, NaN for negative input, +inf for +inf.
    @inlinable
    public static func log(_ x: Float) -> Float {
        if x.isNaN || x < 0 { return .nan }
        if x == 0 { return -.infinity }
        if x == .infinity { return x }
        var bits = x.bitPattern
        var e = 0
        if bits < 0x0080_0000 {          // subnormal: scale into the normal range first
            let scaled = x * 16_777_216  // 2^24
            bits = scaled.bitPattern
            e = -24
        }
        e += Int((bits >> 23) & 0xFF) - 127
        // Mantissa m ∈ [1, 2); fold into [√½, √2) so the series argument stays small.
        var m = Float(bitPattern: (bits & 0x007F_FFFF) | 0x3F80_0000)
        if m > 1.414_213_5 {
            m *= 0.5
            e += 1
        }
        // log m = 2·atanh(s), s = (m−1)/(m+1), |s| ≤ 0.1716.
        let s = (m - 1) / (m + 1)
        let s2 = s * s
        var p: Float = 1.0 / 11
        p = p * s2 + 1.0 / 9
        p = p * s2 + 1.0 / 7
        p = p * s2 + 1.0 / 5
        p = p * s2 + 1.0 / 3
        p = p * s2 + 1
        let ef = Float(e)
        return (ef * ln2High + 2 * s * p) + ef * ln2Low
    }

    /// π/2 split in a high part exact in Float and a low correction.
    @usableFromInline static let halfPiHigh: Float = 1.570_796_251_296_997
    @usableFromInline static let halfPiLow: Float = 7.549_789_415_861_596e-08

    /// Cosine of `x` for `x` in [0, π] (the cosine schedule's range); `x` outside it is clamped.
    @inlinable
    public static func cos(_ x: Float) -> Float {
        if x.isNaN { return x }
        let t = min(max(x, 0), 2 * halfPiHigh)
        // cos x = sin(π/2 − x), and |π/2 − x| ≤ π/2.
        let y = (halfPiHigh - t) + halfPiLow
        let y2 = y * y
        // Taylor series of sin to y^13: truncation error below 7e-10 for |y| ≤ π/2.
        var p: Float = 1.0 / 6_227_020_800
        p = p * y2 - 1.0 / 39_916_800
        p = p * y2 + 1.0 / 362_880
        p = p * y2 - 1.0 / 5040
        p = p * y2 + 1.0 / 120
        p = p * y2 - 1.0 / 6
        return y + y * y2 * p
    }
}
