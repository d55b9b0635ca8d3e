/// A model parameter (weight or bias) as a kernel reads it: fp16 storage, or an fp32 master copy
/// that compute sees rounded to fp16 (`HalfComputable`).
///
/// Kernels switch on the case once per call and run a loop specialised for it, so the choice
/// costs nothing per element.
public enum ParameterView {
    case half(TensorView<Float16>)
    case master(TensorView<Float>)

    /// Element `i` as compute sees it (an fp16 value, widened).
    @inlinable
    public func computeValue(_ i: Int) -> Float {
        switch self {
        case .half(let v): return v[i].computeValue
        case .master(let v): return v[i].computeValue
        }
    }
}
