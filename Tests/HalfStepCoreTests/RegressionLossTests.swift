import Testing
import HalfStepCore

/// `RegressionLoss`: the mean losses and the scaled gradient, element by element, against the
/// formulas of PyTorch's MSELoss, L1Loss and HuberLoss.
struct RegressionLossTests {
    let output: [Float16] = [0.5, -1, 2, 0, 0.25, 3]
    let target: [Float16] = [0, 1, 2, 0.5, 0.25, -1]

    func run(_ kind: LossKind, delta: Float = 0, scale: Float = 1) -> (loss: Float, grad: [Float]) {
        var y = output, t = target
        var g = [Float16](repeating: 0, count: 6)
        var loss: [Float] = [0]
        y.withUnsafeMutableBufferPointer { yb in
            t.withUnsafeMutableBufferPointer { tb in
                g.withUnsafeMutableBufferPointer { gb in
                    loss.withUnsafeMutableBufferPointer { lb in
                        RegressionLoss.forwardBackward(loss: TensorView(base: lb.baseAddress!, count: 1),
                                                       doutput: TensorView(base: gb.baseAddress!, count: 6),
                                                       output: TensorView(base: yb.baseAddress!, count: 6),
                                                       targets: TensorView(base: tb.baseAddress!, count: 6),
                                                       rows: 2, outputs: 3, kind: kind, delta: delta, scale: scale)
                    }
                }
            }
        }
        return (loss[0], g.map(Float.init))
    }

    @Test("MSE is the mean of squared differences over rows and outputs; its gradient 2·d/(N·E) times the loss scale")
    func mse() {
        let r = run(.mse, scale: 4)
        let expected: Float = (0.25 + 4 + 0 + 0.25 + 0 + 16) / 6
        #expect(r.loss == expected)
        let d: [Float] = [0.5, -2, 0, -0.5, 0, 4]
        #expect(r.grad == d.map { Float(Float16(2 * $0 / 6 * 4)) })
    }

    @Test("L1 is the mean absolute difference; its gradient sign(d)/(N·E), 0 where d is 0")
    func l1() {
        let r = run(.l1)
        let expected: Float = (0.5 + 2 + 0 + 0.5 + 0 + 4) / 6
        #expect(abs(r.loss - expected) < 2e-7)
        let sign: [Float] = [1, -1, 0, -1, 0, 1]
        #expect(r.grad == sign.map { Float(Float16($0 / 6)) })
    }

    @Test("Huber is quadratic within delta and linear beyond, with a clipped gradient")
    func huber() {
        let r = run(.huber, delta: 1)
        // d = 0.5, -2, 0, -0.5, 0, 4 → 0.125, 1.5, 0, 0.125, 0, 3.5
        let expected: Float = (0.125 + 1.5 + 0.125 + 3.5) / 6
        #expect(abs(r.loss - expected) < 1e-7)
        let clipped: [Float] = [0.5, -1, 0, -0.5, 0, 1]
        #expect(r.grad == clipped.map { Float(Float16($0 / 6)) })
    }

    @Test("a row's own loss is the mean over its outputs")
    func rowLoss() {
        var y = output, t = target
        let l = y.withUnsafeMutableBufferPointer { yb in
            t.withUnsafeMutableBufferPointer { tb in
                RegressionLoss.rowLoss(output: TensorView(base: yb.baseAddress!, count: 6), targets: TensorView(base: tb.baseAddress!, count: 6),
                                       row: 1, outputs: 3, kind: .mse, delta: 0)
            }
        }
        let expected: Float = (0.25 + 0 + 16) / 3
        #expect(l == expected)
    }
}
