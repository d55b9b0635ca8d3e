import HalfStepCore

extension Window2D {
    /// Slots 1 ... 6, or nil when a field does not fit its bits.
    public var encoded: [UInt32]? {
        let sixteen = [channels, outputs, height, width, outHeight, outWidth, padTop, padLeft, group, trainedOutputs]
        let eight = [kernelHeight, kernelWidth, strideHeight, strideWidth]
        if sixteen.contains(where: { $0 < 0 || $0 > 0xFFFF }) || eight.contains(where: { $0 < 0 || $0 > 0xFF }) { return nil }
        func pack(_ lo: Int, _ hi: Int) -> UInt32 { UInt32(lo) | UInt32(hi) << 16 }
        return [pack(channels, outputs), pack(height, width), pack(outHeight, outWidth),
                UInt32(kernelHeight) | UInt32(kernelWidth) << 8 | UInt32(strideHeight) << 16 | UInt32(strideWidth) << 24,
                pack(padTop, padLeft), pack(group, trainedOutputs)]
    }
}
