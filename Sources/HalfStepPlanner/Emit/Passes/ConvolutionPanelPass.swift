import HalfStepCore

/// The `--conv-panels` speed lever: a convolution whose window is neither 1×1 nor depthwise runs
/// its forward pass through an im2col panel (`Conv2DPanelForward`), a scratch tensor of a few
/// output pixels' taps planned in the arena like any other. 1×1 convolutions are already a matrix
/// product over contiguous channels, and a depthwise output reads each panel row once, so neither
/// gains from one.
struct ConvolutionPanelPass {
    /// Output pixels per panel: four blocks of the kernel's four pixels, enough to spread the
    /// per-panel setup, few enough to keep a panel small (K·16 fp16 elements).
    static let pixels = 16

    /// Convolutions given a panel, and each panel's bytes.
    var convolutions: [(name: String, bytes: Int)] = []

    var note: String? {
        guard !convolutions.isEmpty else { return nil }
        let list = convolutions.map { "\($0.name) (\($0.bytes) B)" }.joined(separator: ", ")
        return "runs \(convolutions.count) convolution\(convolutions.count == 1 ? "" : "s") forward through an im2col panel of up to \(Self.pixels) output pixels' taps (scratch, live during its op only): \(list)"
    }

    /// Whether `window` is one the lever gives a panel.
    static func applies(to window: Window2D) -> Bool {
        KernelFamily.convolution(window, backward: false) == .convolutionForward
    }
}

extension Lowering {
    /// The panel scratch tensor for the forward op of convolution `node`, or nil when the lever is
    /// off or the window does not gain from one.
    mutating func convolutionPanel(_ window: Window2D, node: Graph.Node) -> Int? {
        guard options.convPanels, ConvolutionPanelPass.applies(to: window) else { return nil }
        let pixels = min(ConvolutionPanelPass.pixels, window.outHeight * window.outWidth)
        let elements = pixels * window.weightsPerOutput
        let panel = add(node.name + ".panel", floatType, .scratch, shape: [elements])
        panels.convolutions.append((node.name, 2 * elements))
        return panel
    }
}
