/// 3×3 convolutions with 4 or more output channels per group (the digits CNN's first layer, 1
/// channel to 8, is the case they were written for): the forward blocks `Conv2D` takes at column
/// stride 1 and 2, and the weight gradient rows it streams at column stride 1.
///
/// Shapes: x [N, C, H, W] · W [M, C/G, 3, 3] → y [N, M, OH, OW].
///
/// Why: the 4 pixels of a forward block read 6 consecutive inputs per kernel row at column stride
/// 1 (9 at stride 2), so each input is loaded once for all the kernel columns that use it (12
/// loads of the general 4×4 block become 6, or 9) and serves 4 output channels, while the kernel
/// row's 12 weights stay in registers: per kernel row 6 input loads and 12 weight loads feed 48
/// multiply-accumulates (an fp16 input or an fp16/fp32-master weight costs 3 instructions to bring
/// into an FPU register on a Cortex-M4F). Blocks at a row's ends are handled in place (the first
/// pixel may miss kernel column 0, the last kernel column 2), so a narrow plane such as 8×8 with
/// padding 1 runs in blocks throughout, not in the one-pixel border loop.
///
/// The summation order of every element is the general loops' (forward: channel, kernel row,
/// kernel column, padding taps skipped; weight gradient: sample, output row, output column), so
/// both give the same bits (pinned by Conv2DTests). Index arithmetic wraps (`&+`, `&*`): every
/// index is a sum of in-range offsets the verifier has checked, and checked arithmetic would add a
/// compare and branch to every load.
extension Conv2D {
    /// The output columns a 3×3 window of column stride 1 or 2 runs in blocks of 4 pixels:
    /// `blocks` blocks from column `first`, each block's only padding taps the first pixel's kernel
    /// column 0 (in the first block, when `skipFirst`) and the last pixel's kernel column 2 (in the
    /// last block, when `skipLast`). No blocks for other windows.
    @usableFromInline
    struct Strip3x3 {
        @usableFromInline var first: Int, blocks: Int, skipFirst: Bool, skipLast: Bool

        @inlinable
        init(_ g: Window2D) {
            // A block at ow reads input columns i0 ... i0 + 3s + 2 (i0 = s·ow − padLeft, column
            // stride s): all inside but the first and the last, i0 ≥ −1 and i0 + 3s + 2 ≤ width.
            let s = g.strideWidth
            first = max(0, (g.padLeft - 1 + s - 1) / s)
            let room = g.width + g.padLeft - 3 * s - 2
            let last = room < 0 ? -1 : min(g.outWidth - 4, room / s)
            let supported = g.kernelHeight == 3 && g.kernelWidth == 3 && (s == 1 || s == 2)
            blocks = supported && last >= first ? (last - first) / 4 + 1 : 0
            skipFirst = s * first - g.padLeft < 0
            skipLast = s * (first + 4 * (blocks - 1)) - g.padLeft + 3 * s + 2 == g.width
        }
    }

    // MARK: Forward

    /// Outputs `m ..< m+4` (one group) at the strip's blocks of every output row. `xAt`: the
    /// group's first input channel of the sample; `wAt`: output m's first weight; `yAt`: output
    /// m's plane. Not inlined: inside the general loop's frame its 16 accumulators spill.
    @inlinable @inline(never)
    static func plane3x3<W: HalfComputable>(y: TensorView<Float16>, x: TensorView<Float16>, w: TensorView<W>,
                                            b: SIMD4<Float>, xAt: Int, wAt: Int, yAt: Int, cg: Int, wpo: Int,
                                            _ strip: Strip3x3, _ g: Window2D) {
        planeRows3x3(y: y, x: x, w: w, b: b, xAt: xAt, wAt: wAt, yAt: yAt, cg: cg, wpo: wpo, strip, g, stride2: false)
    }

    /// `plane3x3` at column stride 2 (its own copy: a stride tested per block cost the stride-1
    /// loop more than the test).
    @inlinable @inline(never)
    static func plane3x3Stride2<W: HalfComputable>(y: TensorView<Float16>, x: TensorView<Float16>, w: TensorView<W>,
                                                   b: SIMD4<Float>, xAt: Int, wAt: Int, yAt: Int, cg: Int, wpo: Int,
                                                   _ strip: Strip3x3, _ g: Window2D) {
        planeRows3x3(y: y, x: x, w: w, b: b, xAt: xAt, wAt: wAt, yAt: yAt, cg: cg, wpo: wpo, strip, g, stride2: true)
    }

    @inlinable @inline(__always)
    static func planeRows3x3<W: HalfComputable>(y: TensorView<Float16>, x: TensorView<Float16>, w: TensorView<W>,
                                                b: SIMD4<Float>, xAt: Int, wAt: Int, yAt: Int, cg: Int, wpo: Int,
                                                _ strip: Strip3x3, _ g: Window2D, stride2: Bool) {
        var oh = 0
        while oh < g.outHeight {
            let ih0 = oh &* g.strideHeight &- g.padTop
            // Kernel rows inside the input.
            let khLo = max(0, 0 &- ih0), khHi = min(3, g.height &- ih0)
            let xRow = xAt &+ (ih0 &+ khLo) &* g.width &- g.padLeft, wRow = wAt &+ khLo &* 3
            let yRow = yAt &+ oh &* g.outWidth
            var k = 0, ow = strip.first
            while k < strip.blocks {
                let skipFirst = k == 0 && strip.skipFirst, skipLast = k &+ 1 == strip.blocks && strip.skipLast
                if stride2 {
                    block3x3Stride2(y: y, x: x, w: w, b: b, xAt: xRow &+ 2 &* ow, wAt: wRow, yAt: yRow &+ ow, cg: cg, wpo: wpo,
                                    kernelRows: khHi &- khLo, skipFirst: skipFirst, skipLast: skipLast, g)
                } else {
                    block3x3(y: y, x: x, w: w, b: b, xAt: xRow &+ ow, wAt: wRow, yAt: yRow &+ ow, cg: cg, wpo: wpo,
                             kernelRows: khHi &- khLo, skipFirst: skipFirst, skipLast: skipLast, g)
                }
                ow &+= 4
                k &+= 1
            }
            oh &+= 1
        }
    }

    /// Outputs `m ..< m+4` (one group) at pixels `ow ..< ow+4` of one output row: `kernelRows`
    /// kernel rows from the first inside the input, pixel 0 without its kernel column 0 when
    /// `skipFirst`, pixel 3 without kernel column 2 when `skipLast` (those taps lie in the
    /// padding). `xAt`: the input index of the group's first channel, first kernel row, kernel
    /// column 0 of pixel 0 (one before the row when `skipFirst`; never read then); `wAt`: output
    /// m's weight index of channel 0 at that kernel row; `yAt`: output m's pixel 0; `b`: the 4
    /// outputs' bias terms (0 without a bias); `cg`, `wpo`: channels per group and weights per
    /// output (passed in: under -Osize `Window2D`'s computed sizes stay calls).
    @inlinable @inline(__always)
    static func block3x3<W: HalfComputable>(y: TensorView<Float16>, x: TensorView<Float16>, w: TensorView<W>,
                                            b: SIMD4<Float>, xAt: Int, wAt: Int, yAt: Int, cg: Int, wpo: Int,
                                            kernelRows: Int, skipFirst: Bool, skipLast: Bool, _ g: Window2D) {
        let plane = g.height &* g.width, width = g.width
        // a<channel><pixel>
        var a00: Float = 0, a01: Float = 0, a02: Float = 0, a03: Float = 0
        var a10: Float = 0, a11: Float = 0, a12: Float = 0, a13: Float = 0
        var a20: Float = 0, a21: Float = 0, a22: Float = 0, a23: Float = 0
        var a30: Float = 0, a31: Float = 0, a32: Float = 0, a33: Float = 0
        var xc = xAt, wc = wAt
        // A group has a channel and an output row a kernel row inside the input: both loops run
        // at least once (as repeat-while, the sums are zeroed once, not again in a loop guard).
        var c = 0
        repeat {
            var xi = xc, w0 = wc
            var r = 0
            repeat {
                // The kernel row's 12 weights stay in registers while its 6 inputs stream past:
                // input k serves pixel j's kernel column k − j, so every sum still takes its
                // kernel columns in order.
                let w1 = w0 &+ wpo, w2 = w1 &+ wpo, w3 = w2 &+ wpo
                let u0 = w[w0].computeValue, u1 = w[w1].computeValue, u2 = w[w2].computeValue, u3 = w[w3].computeValue
                let v0 = w[w0 &+ 1].computeValue, v1 = w[w1 &+ 1].computeValue
                let v2 = w[w2 &+ 1].computeValue, v3 = w[w3 &+ 1].computeValue
                let t0 = w[w0 &+ 2].computeValue, t1 = w[w1 &+ 2].computeValue
                let t2 = w[w2 &+ 2].computeValue, t3 = w[w3 &+ 2].computeValue
                if !skipFirst {
                    let x0 = Float(x[xi])
                    a00 += x0 * u0; a10 += x0 * u1; a20 += x0 * u2; a30 += x0 * u3
                }
                let x1 = Float(x[xi &+ 1])
                a00 += x1 * v0; a10 += x1 * v1; a20 += x1 * v2; a30 += x1 * v3
                a01 += x1 * u0; a11 += x1 * u1; a21 += x1 * u2; a31 += x1 * u3
                let x2 = Float(x[xi &+ 2])
                a00 += x2 * t0; a10 += x2 * t1; a20 += x2 * t2; a30 += x2 * t3
                a01 += x2 * v0; a11 += x2 * v1; a21 += x2 * v2; a31 += x2 * v3
                a02 += x2 * u0; a12 += x2 * u1; a22 += x2 * u2; a32 += x2 * u3
                let x3 = Float(x[xi &+ 3])
                a01 += x3 * t0; a11 += x3 * t1; a21 += x3 * t2; a31 += x3 * t3
                a02 += x3 * v0; a12 += x3 * v1; a22 += x3 * v2; a32 += x3 * v3
                a03 += x3 * u0; a13 += x3 * u1; a23 += x3 * u2; a33 += x3 * u3
                let x4 = Float(x[xi &+ 4])
                a02 += x4 * t0; a12 += x4 * t1; a22 += x4 * t2; a32 += x4 * t3
                a03 += x4 * v0; a13 += x4 * v1; a23 += x4 * v2; a33 += x4 * v3
                if !skipLast {
                    let x5 = Float(x[xi &+ 5])
                    a03 += x5 * t0; a13 += x5 * t1; a23 += x5 * t2; a33 += x5 * t3
                }
                xi &+= width
                w0 &+= 3
                r &+= 1
            } while r < kernelRows
            xc &+= plane
            wc &+= 9
            c &+= 1
        } while c < cg
        let outPlane = g.outHeight &* g.outWidth
        store4(y, yAt, a00, a01, a02, a03, b[0])
        let y1 = yAt &+ outPlane
        store4(y, y1, a10, a11, a12, a13, b[1])
        let y2 = y1 &+ outPlane
        store4(y, y2, a20, a21, a22, a23, b[2])
        store4(y, y2 &+ outPlane, a30, a31, a32, a33, b[3])
    }

    /// `block3x3` at column stride 2: pixel j reads inputs 2j ... 2j + 2 of the 9 a kernel row
    /// spans, so input k serves pixel j = k/2 with kernel column k mod 2 and, when k is even and
    /// nonzero, pixel k/2 − 1 with kernel column 2 (in that order per sum). `xAt`: pixel 0's
    /// kernel column 0; pixel 3's kernel column 2 (input 8) is skipped when `skipLast`.
    @inlinable @inline(__always)
    static func block3x3Stride2<W: HalfComputable>(y: TensorView<Float16>, x: TensorView<Float16>, w: TensorView<W>,
                                                   b: SIMD4<Float>, xAt: Int, wAt: Int, yAt: Int, cg: Int, wpo: Int,
                                                   kernelRows: Int, skipFirst: Bool, skipLast: Bool, _ g: Window2D) {
        let plane = g.height &* g.width, width = g.width
        var a00: Float = 0, a01: Float = 0, a02: Float = 0, a03: Float = 0
        var a10: Float = 0, a11: Float = 0, a12: Float = 0, a13: Float = 0
        var a20: Float = 0, a21: Float = 0, a22: Float = 0, a23: Float = 0
        var a30: Float = 0, a31: Float = 0, a32: Float = 0, a33: Float = 0
        var xc = xAt, wc = wAt
        // A group has a channel and an output row a kernel row inside the input: both loops run
        // at least once (as repeat-while, the sums are zeroed once, not again in a loop guard).
        var c = 0
        repeat {
            var xi = xc, w0 = wc
            var r = 0
            repeat {
                let w1 = w0 &+ wpo, w2 = w1 &+ wpo, w3 = w2 &+ wpo
                let u0 = w[w0].computeValue, u1 = w[w1].computeValue, u2 = w[w2].computeValue, u3 = w[w3].computeValue
                let v0 = w[w0 &+ 1].computeValue, v1 = w[w1 &+ 1].computeValue
                let v2 = w[w2 &+ 1].computeValue, v3 = w[w3 &+ 1].computeValue
                let t0 = w[w0 &+ 2].computeValue, t1 = w[w1 &+ 2].computeValue
                let t2 = w[w2 &+ 2].computeValue, t3 = w[w3 &+ 2].computeValue
                if !skipFirst {
                    let x0 = Float(x[xi])
                    a00 += x0 * u0; a10 += x0 * u1; a20 += x0 * u2; a30 += x0 * u3
                }
                let x1 = Float(x[xi &+ 1])
                a00 += x1 * v0; a10 += x1 * v1; a20 += x1 * v2; a30 += x1 * v3
                let x2 = Float(x[xi &+ 2])
                a00 += x2 * t0; a10 += x2 * t1; a20 += x2 * t2; a30 += x2 * t3
                a01 += x2 * u0; a11 += x2 * u1; a21 += x2 * u2; a31 += x2 * u3
                let x3 = Float(x[xi &+ 3])
                a01 += x3 * v0; a11 += x3 * v1; a21 += x3 * v2; a31 += x3 * v3
                let x4 = Float(x[xi &+ 4])
                a01 += x4 * t0; a11 += x4 * t1; a21 += x4 * t2; a31 += x4 * t3
                a02 += x4 * u0; a12 += x4 * u1; a22 += x4 * u2; a32 += x4 * u3
                let x5 = Float(x[xi &+ 5])
                a02 += x5 * v0; a12 += x5 * v1; a22 += x5 * v2; a32 += x5 * v3
                let x6 = Float(x[xi &+ 6])
                a02 += x6 * t0; a12 += x6 * t1; a22 += x6 * t2; a32 += x6 * t3
                a03 += x6 * u0; a13 += x6 * u1; a23 += x6 * u2; a33 += x6 * u3
                let x7 = Float(x[xi &+ 7])
                a03 += x7 * v0; a13 += x7 * v1; a23 += x7 * v2; a33 += x7 * v3
                if !skipLast {
                    let x8 = Float(x[xi &+ 8])
                    a03 += x8 * t0; a13 += x8 * t1; a23 += x8 * t2; a33 += x8 * t3
                }
                xi &+= width
                w0 &+= 3
                r &+= 1
            } while r < kernelRows
            xc &+= plane
            wc &+= 9
            c &+= 1
        } while c < cg
        let outPlane = g.outHeight &* g.outWidth
        store4(y, yAt, a00, a01, a02, a03, b[0])
        let y1 = yAt &+ outPlane
        store4(y, y1, a10, a11, a12, a13, b[1])
        let y2 = y1 &+ outPlane
        store4(y, y2, a20, a21, a22, a23, b[2])
        store4(y, y2 &+ outPlane, a30, a31, a32, a33, b[3])
    }

    /// `y[at + j] = fp16(a_j)` for j = 0 ..< 4.
    @inlinable @inline(__always)
    static func store4(_ y: TensorView<Float16>, _ at: Int, _ a0: Float, _ a1: Float, _ a2: Float, _ a3: Float) {
        y[at] = Float16(a0)
        y[at &+ 1] = Float16(a1)
        y[at &+ 2] = Float16(a2)
        y[at &+ 3] = Float16(a3)
    }

    /// `y[at + j] = fp16(a_j + b)` for j = 0 ..< 4.
    @inlinable @inline(__always)
    static func store4(_ y: TensorView<Float16>, _ at: Int, _ a0: Float, _ a1: Float, _ a2: Float, _ a3: Float, _ b: Float) {
        y[at] = Float16(a0 + b)
        y[at &+ 1] = Float16(a1 + b)
        y[at &+ 2] = Float16(a2 + b)
        y[at &+ 3] = Float16(a3 + b)
    }
}

extension Conv2D {
    // MARK: Weight gradient

    /// The output columns a 3×3, column-stride-1 weight gradient streams: true when only output
    /// column 0 can miss kernel column 0 (`firstFull` false) and only the last column kernel column
    /// 2 (`lastFull` false), so a row streams with each input loaded once.
    @usableFromInline
    struct Stream3x3 {
        @usableFromInline var streams: Bool, firstFull: Bool, lastFull: Bool

        @inlinable
        init(_ g: Window2D) {
            // Kernel column kw of output column ow reads input column ow − padLeft + kw.
            streams = g.kernelHeight == 3 && g.kernelWidth == 3 && g.strideWidth == 1 && g.outWidth >= 2
                && g.padLeft <= 1 && g.outWidth <= g.width + g.padLeft - 1
            firstFull = g.padLeft == 0
            lastFull = g.outWidth <= g.width + g.padLeft - 2
        }
    }

    /// `dW[m + j, c, kh, kw]` for j = 0 ..< 4 (one group) and kw = 0 ..< 3: each sums
    /// `dy[n, m + j, oh, ow] · x[n, channel, oh·sh − padTop + kh, ow − padLeft + kw]` over samples,
    /// output rows `ohLo ..< ohHi` and output columns, in that order. 12 sums in registers; per
    /// output column the 4 dy values and one new input serve 12 multiply-accumulates. `at`: dW
    /// index of (m, c, kh, 0); `channel`: c's index in x.
    @inlinable @inline(never)
    static func weightRows3x3(dW: TensorView<Float16>, dy: TensorView<Float16>, x: TensorView<Float16>, rows: Int,
                              m: Int, channel: Int, kh: Int, ohLo: Int, ohHi: Int, at: Int, wpo: Int,
                              _ s: Stream3x3, _ g: Window2D) {
        let outWidth = g.outWidth, outPlane = g.outHeight &* outWidth, plane = g.height &* g.width
        let xRowStep = g.strideHeight &* g.width
        // a<output j><kernel column>
        var a00: Float = 0, a01: Float = 0, a02: Float = 0
        var a10: Float = 0, a11: Float = 0, a12: Float = 0
        var a20: Float = 0, a21: Float = 0, a22: Float = 0
        var a30: Float = 0, a31: Float = 0, a32: Float = 0
        var n = 0
        while n < rows {
            var dr = (n &* g.outputs &+ m) &* outPlane &+ ohLo &* outWidth
            // x index of kernel column 0 of output column 0.
            var xr = (n &* g.channels &+ channel) &* plane &+ (ohLo &* g.strideHeight &- g.padTop &+ kh) &* g.width &- g.padLeft
            var oh = ohLo
            while oh < ohHi {
                let d1 = dr &+ outPlane, d2 = d1 &+ outPlane, d3 = d2 &+ outPlane
                // Column 0; p, q: the inputs of kernel columns 0 and 1 at the next column.
                var e0 = Float(dy[dr]), e1 = Float(dy[d1]), e2 = Float(dy[d2]), e3 = Float(dy[d3])
                if s.firstFull {
                    let v = Float(x[xr])
                    a00 += e0 * v; a10 += e1 * v; a20 += e2 * v; a30 += e3 * v
                }
                var p = Float(x[xr &+ 1]), q = Float(x[xr &+ 2])
                a01 += e0 * p; a11 += e1 * p; a21 += e2 * p; a31 += e3 * p
                a02 += e0 * q; a12 += e1 * q; a22 += e2 * q; a32 += e3 * q
                let last = outWidth &- 1
                var ow = 1
                while ow &+ 1 < last {
                    // Two columns a trip, so p, q, r, s rotate without register moves.
                    let r = Float(x[xr &+ ow &+ 2]), t = Float(x[xr &+ ow &+ 3])
                    e0 = Float(dy[dr &+ ow]); e1 = Float(dy[d1 &+ ow]); e2 = Float(dy[d2 &+ ow]); e3 = Float(dy[d3 &+ ow])
                    a00 += e0 * p; a10 += e1 * p; a20 += e2 * p; a30 += e3 * p
                    a01 += e0 * q; a11 += e1 * q; a21 += e2 * q; a31 += e3 * q
                    a02 += e0 * r; a12 += e1 * r; a22 += e2 * r; a32 += e3 * r
                    let o1 = ow &+ 1
                    e0 = Float(dy[dr &+ o1]); e1 = Float(dy[d1 &+ o1]); e2 = Float(dy[d2 &+ o1]); e3 = Float(dy[d3 &+ o1])
                    a00 += e0 * q; a10 += e1 * q; a20 += e2 * q; a30 += e3 * q
                    a01 += e0 * r; a11 += e1 * r; a21 += e2 * r; a31 += e3 * r
                    a02 += e0 * t; a12 += e1 * t; a22 += e2 * t; a32 += e3 * t
                    p = r
                    q = t
                    ow &+= 2
                }
                if ow < last {
                    let r = Float(x[xr &+ ow &+ 2])
                    e0 = Float(dy[dr &+ ow]); e1 = Float(dy[d1 &+ ow]); e2 = Float(dy[d2 &+ ow]); e3 = Float(dy[d3 &+ ow])
                    a00 += e0 * p; a10 += e1 * p; a20 += e2 * p; a30 += e3 * p
                    a01 += e0 * q; a11 += e1 * q; a21 += e2 * q; a31 += e3 * q
                    a02 += e0 * r; a12 += e1 * r; a22 += e2 * r; a32 += e3 * r
                    p = q
                    q = r
                }
                // The last column: kernel column 2 only when it lies inside.
                e0 = Float(dy[dr &+ last]); e1 = Float(dy[d1 &+ last]); e2 = Float(dy[d2 &+ last]); e3 = Float(dy[d3 &+ last])
                a00 += e0 * p; a10 += e1 * p; a20 += e2 * p; a30 += e3 * p
                a01 += e0 * q; a11 += e1 * q; a21 += e2 * q; a31 += e3 * q
                if s.lastFull {
                    let v = Float(x[xr &+ last &+ 2])
                    a02 += e0 * v; a12 += e1 * v; a22 += e2 * v; a32 += e3 * v
                }
                dr &+= outWidth
                xr &+= xRowStep
                oh &+= 1
            }
            n &+= 1
        }
        dW[at] = Float16(a00); dW[at &+ 1] = Float16(a01); dW[at &+ 2] = Float16(a02)
        let at1 = at &+ wpo
        dW[at1] = Float16(a10); dW[at1 &+ 1] = Float16(a11); dW[at1 &+ 2] = Float16(a12)
        let at2 = at1 &+ wpo
        dW[at2] = Float16(a20); dW[at2 &+ 1] = Float16(a21); dW[at2 &+ 2] = Float16(a22)
        let at3 = at2 &+ wpo
        dW[at3] = Float16(a30); dW[at3 &+ 1] = Float16(a31); dW[at3 &+ 2] = Float16(a32)
    }
}
