/// The geometry of a 2-D sliding-window op (convolution or pooling) on NCHW tensors, as it is
/// packed into op parameter slots 1 ... 6.
///
/// Slot layout: 1 `C | M << 16`, 2 `H | W << 16`, 3 `OH | OW << 16`,
/// 4 `KH | KW << 8 | SH << 16 | SW << 24`, 5 `padTop | padLeft << 16`, 6 `group | trained << 16`.
/// Padding at the bottom and right is implied by the output size: window positions outside the
/// input read as zero (convolution) or are skipped (pooling).
public struct Window2D: Equatable, Sendable {
    /// Input channels (C) and output channels (M; equal to C for pooling).
    public var channels: Int, outputs: Int
    /// Input height and width, elements.
    public var height: Int, width: Int
    /// Output height and width, elements.
    public var outHeight: Int, outWidth: Int
    public var kernelHeight: Int, kernelWidth: Int
    public var strideHeight: Int, strideWidth: Int
    public var padTop: Int, padLeft: Int
    /// Convolution groups (1: dense, C: depthwise). For pooling: 1 when padding counts towards an average.
    public var group: Int
    /// Output channels whose weights receive gradients (the first ones); `outputs` when all train.
    public var trainedOutputs: Int

    public init(channels: Int, outputs: Int, height: Int, width: Int, outHeight: Int, outWidth: Int,
                kernelHeight: Int, kernelWidth: Int, strideHeight: Int, strideWidth: Int,
                padTop: Int, padLeft: Int, group: Int, trainedOutputs: Int) {
        self.channels = channels; self.outputs = outputs
        self.height = height; self.width = width
        self.outHeight = outHeight; self.outWidth = outWidth
        self.kernelHeight = kernelHeight; self.kernelWidth = kernelWidth
        self.strideHeight = strideHeight; self.strideWidth = strideWidth
        self.padTop = padTop; self.padLeft = padLeft
        self.group = group; self.trainedOutputs = trainedOutputs
    }

    /// Decodes slots 1 ... 6 of `op`.
    @inlinable
    public init(_ op: OpRecord) {
        let a = op.paramBits(1), b = op.paramBits(2), c = op.paramBits(3), k = op.paramBits(4)
        let p = op.paramBits(5), g = op.paramBits(6)
        channels = Int(a & 0xFFFF); outputs = Int(a >> 16)
        height = Int(b & 0xFFFF); width = Int(b >> 16)
        outHeight = Int(c & 0xFFFF); outWidth = Int(c >> 16)
        kernelHeight = Int(k & 0xFF); kernelWidth = Int((k >> 8) & 0xFF)
        strideHeight = Int((k >> 16) & 0xFF); strideWidth = Int(k >> 24)
        padTop = Int(p & 0xFFFF); padLeft = Int(p >> 16)
        group = Int(g & 0xFFFF); trainedOutputs = Int(g >> 16)
    }

    /// True when every field fits its bits in slots 1 ... 6 (16 bits; kernel and stride 8).
    public var fitsFormat: Bool {
        func fits(_ v: Int, _ bits: Int) -> Bool { v >= 0 && v < 1 << bits }
        return fits(channels, 16) && fits(outputs, 16) && fits(height, 16) && fits(width, 16)
            && fits(outHeight, 16) && fits(outWidth, 16) && fits(padTop, 16) && fits(padLeft, 16)
            && fits(group, 16) && fits(trainedOutputs, 16) && fits(kernelHeight, 8) && fits(kernelWidth, 8)
            && fits(strideHeight, 8) && fits(strideWidth, 8)
    }

    /// Encodes into slots 1 ... 6 of `op` (the fields must fit: `fitsFormat`).
    public func store(into op: inout OpRecord) {
        func pack(_ lo: Int, _ hi: Int) -> UInt32 { UInt32(truncatingIfNeeded: lo) | UInt32(truncatingIfNeeded: hi) << 16 }
        op.setParamBits(1, pack(channels, outputs))
        op.setParamBits(2, pack(height, width))
        op.setParamBits(3, pack(outHeight, outWidth))
        op.setParamBits(4, UInt32(truncatingIfNeeded: kernelHeight) | UInt32(truncatingIfNeeded: kernelWidth) << 8
                           | UInt32(truncatingIfNeeded: strideHeight) << 16 | UInt32(truncatingIfNeeded: strideWidth) << 24)
        op.setParamBits(5, pack(padTop, padLeft))
        op.setParamBits(6, pack(group, trainedOutputs))
    }

    /// The element counts a window implies, computed with overflow checks (on a 32-bit device a
    /// product of two 16-bit fields already overflows `Int`).
    public struct Sizes: Sendable {
        /// C·H·W, M·OH·OW, H·W, OH·OW, KH·KW.
        public var inputElements: Int, outputElements: Int, plane: Int, outPlane: Int, taps: Int
        /// (C / group)·KH·KW and M·(C / group)·KH·KW.
        public var weightsPerOutput: Int, weights: Int
        /// trained outputs · (C / group)·KH·KW.
        public var trainedWeights: Int
    }

    /// The sizes, or nil when one overflows `Int` (or `group` is 0).
    public var sizes: Sizes? {
        func mul(_ a: Int, _ b: Int) -> Int? {
            let (p, o) = a.multipliedReportingOverflow(by: b)
            return o ? nil : p
        }
        guard group > 0, let plane = mul(height, width), let outPlane = mul(outHeight, outWidth),
              let taps = mul(kernelHeight, kernelWidth), let input = mul(channels, plane),
              let output = mul(outputs, outPlane), let perOutput = mul(channels / group, taps),
              let weights = mul(outputs, perOutput), let trained = mul(trainedOutputs, perOutput) else { return nil }
        return Sizes(inputElements: input, outputElements: output, plane: plane, outPlane: outPlane, taps: taps,
                     weightsPerOutput: perOutput, weights: weights, trainedWeights: trained)
    }

    /// Input elements per sample (C·H·W).
    @inlinable public var inputElements: Int { channels * height * width }
    /// Output elements per sample (M·OH·OW).
    @inlinable public var outputElements: Int { outputs * outHeight * outWidth }
    /// Input channels each output channel reads (C / group).
    @inlinable public var channelsPerGroup: Int { channels / group }
    /// Weight elements per output channel ((C / group)·KH·KW).
    @inlinable public var weightsPerOutput: Int { channelsPerGroup * kernelHeight * kernelWidth }
    /// True for a 1×1, stride-1, unpadded, ungrouped convolution: a matrix product per sample.
    @inlinable public var isPointwise: Bool {
        kernelHeight == 1 && kernelWidth == 1 && strideHeight == 1 && strideWidth == 1
            && padTop == 0 && padLeft == 0 && group == 1 && outHeight == height && outWidth == width
    }

    /// True for 2×2 windows at stride 2 without padding that all lie inside the input (floor
    /// mode): pooling's common halving, whose windows tile the input (bar an odd last row or
    /// column) and never overlap.
    @inlinable public var tilesPairs: Bool {
        kernelHeight == 2 && kernelWidth == 2 && strideHeight == 2 && strideWidth == 2 && padTop == 0 && padLeft == 0
            && outHeight &* 2 <= height && outWidth &* 2 <= width
    }

    /// True when the fields describe a window the kernels can run: sizes non-zero, channels
    /// divisible by the groups, and every window starting inside the padded input.
    public var isConsistent: Bool {
        if channels == 0 || outputs == 0 || height == 0 || width == 0 || outHeight == 0 || outWidth == 0 { return false }
        if kernelHeight == 0 || kernelWidth == 0 || strideHeight == 0 || strideWidth == 0 || group == 0 { return false }
        if channels % group != 0 || outputs % group != 0 || trainedOutputs > outputs { return false }
        if padTop >= kernelHeight || padLeft >= kernelWidth { return false }
        // The last window must start inside the input (or its top/left padding).
        if (outHeight - 1) * strideHeight >= height + padTop || (outWidth - 1) * strideWidth >= width + padLeft { return false }
        return true
    }
}

/// How the `Window2D.tilesPairs` loops step through the input: a row of windows reads input rows
/// 2·oh and 2·oh + 1 from column 0, one window per 2 columns, and outputs follow in order.
@usableFromInline
struct PairWalk {
    /// Elements from where a row of windows ends to where the next starts: the rest of its first
    /// row (an odd last column) and its second row.
    @usableFromInline let rowSkip: Int
    /// Elements a plane holds below its last row of windows (an odd last row).
    @usableFromInline let planeSkip: Int
    /// Planes walked one after the other, and rows of windows in each: all planes as one when
    /// no row lies between them (even height), so the loop over planes runs once.
    @usableFromInline let planes: Int, windowRows: Int
    @usableFromInline let outWidth: Int

    @inlinable
    init(_ g: Window2D, rows: Int) {
        rowSkip = g.width &* 2 &- g.outWidth &* 2
        planeSkip = (g.height &- g.outHeight &* 2) &* g.width
        planes = planeSkip == 0 ? 1 : rows &* g.channels
        windowRows = planeSkip == 0 ? rows &* g.channels &* g.outHeight : g.outHeight
        outWidth = g.outWidth
    }

    /// True when the windows cover every input element (even height and width).
    @inlinable var coversInput: Bool { rowSkip == outWidth &* 2 && planeSkip == 0 }

    /// Calls `body(i, o)` for every window in output order: `i` its top-left input element, `o` its output.
    @inlinable @inline(__always)
    func forEach(_ body: (_ i: Int, _ o: Int) -> Void) {
        var i = 0, o = 0, p = planes
        while p > 0 {
            var r = windowRows
            while r > 0 {
                let end = o &+ outWidth
                while o < end {
                    body(i, o)
                    i &+= 2
                    o &+= 1
                }
                i &+= rowSkip
                r &-= 1
            }
            i &+= planeSkip
            p &-= 1
        }
    }
}
