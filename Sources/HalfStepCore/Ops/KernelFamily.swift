/// The inner loop an op's time goes to, as the cost model prices it: ops of one family share a
/// kernel's blocking and so cost about the same instructions per unit of work, while families
/// differ by up to 30× per MAC (a blocked Dense GEMM against a depthwise window on a 4×4 plane).
///
/// Each op names its family in its own file (`StepOp.family`); a convolution picks it from its
/// window, since 1×1, depthwise and general windows run different loops.
public enum KernelFamily: UInt8, Sendable {
    /// Dense forward (register-blocked GEMM).
    case denseForward
    /// Dense backward: input gradient and weight gradient GEMMs.
    case denseBackward
    /// Convolution forward with a window other than 1×1, not depthwise (3×3, strided, grouped).
    case convolutionForward
    /// The gradients of such a convolution.
    case convolutionBackward
    /// Convolution forward through an im2col panel (`--conv-panels`): a register-blocked product
    /// over contiguous taps, plus the panel copy.
    case convolutionPanel
    /// 1×1 convolution forward (a matrix product per sample).
    case pointwiseForward
    /// 1×1 convolution gradients.
    case pointwiseBackward
    /// Depthwise convolution forward (one input channel per output).
    case depthwiseForward
    /// Depthwise convolution gradients.
    case depthwiseBackward
    /// The fused 1×1 expansion + depthwise forward of a frozen inverted-residual block.
    case expandDepthwise
    /// Max, average and global average pooling, both directions.
    case pooling
    /// Activations, masks, BatchNorm, adds, scaling and copies: one pass over fp16 elements.
    case elementwise
    /// Softmax cross-entropy (exp and log per logit).
    case loss
    /// Optimizer updates (SGD, Adam) over parameters and their state.
    case update

    /// The family of a convolution with `window`, forward or backward.
    public static func convolution(_ window: Window2D, backward: Bool) -> KernelFamily {
        if window.group == window.channels && window.channelsPerGroup == 1 && window.outputs == window.channels {
            return backward ? .depthwiseBackward : .depthwiseForward
        }
        if window.kernelHeight == 1 && window.kernelWidth == 1 {
            return backward ? .pointwiseBackward : .pointwiseForward
        }
        return backward ? .convolutionBackward : .convolutionForward
    }
}
