import Testing
import HalfStepTestSupport
@testable import HalfStepCore

/// A 1-bit mask must pass exactly the gradients `ReLU.backward` and `Activation.backward(.clip)`
/// pass from the saved output: checked on every one of the 65,536 fp16 bit patterns.
struct ActivationMaskTests {
    /// Every fp16 bit pattern, NaNs included (a NaN output passes no gradient either way).
    static let allHalves: [Float16] = (0 ... UInt16.max).map { Float16(bitPattern: $0) }

    func gradients(_ count: Int) -> [Float16] {
        var rng = TestRandom(41)
        return rng.halves(count, -4, 4).map { $0 == 0 ? 1 : $0 }
    }

    @Test("over all 65,536 fp16 outputs the ReLU mask passes the gradient exactly where ReLU.backward does")
    func reluMaskMatchesReLUBackward() {
        let y = Buffer(Self.allHalves), count = Self.allHalves.count
        let dy = Buffer(gradients(count))
        let mask = Buffer(repeating: UInt32(0xDEAD_BEEF), count: ActivationMask.words(count))
        ActivationMask.forward(mask: mask.view, y: y.view, count: count, low: 0, high: .nan)
        let viaMask = Buffer(repeating: Float16(0), count: count), viaOutput = Buffer(repeating: Float16(0), count: count)
        ActivationMask.backward(dx: viaMask.view, dy: dy.view, mask: mask.view, count: count)
        ReLU.backward(dx: viaOutput.view, dy: dy.view, y: y.view, count: count)
        #expect(viaMask.array.map(\.bitPattern) == viaOutput.array.map(\.bitPattern))
    }

    @Test("over all 65,536 fp16 outputs the ReLU6 mask passes the gradient exactly where Clip's backward does")
    func relu6MaskMatchesClipBackward() {
        let y = Buffer(Self.allHalves), count = Self.allHalves.count
        let dy = Buffer(gradients(count))
        let mask = Buffer(repeating: UInt32(0), count: ActivationMask.words(count))
        ActivationMask.forward(mask: mask.view, y: y.view, count: count, low: 0, high: 6)
        let viaMask = Buffer(repeating: Float16(0), count: count), viaOutput = Buffer(repeating: Float16(0), count: count)
        ActivationMask.backward(dx: viaMask.view, dy: dy.view, mask: mask.view, count: count)
        Activation.backward(.clip, dx: viaOutput.view, dy: dy.view, saved: y.view, count: count, a: 0, b: 6)
        #expect(viaMask.array.map(\.bitPattern) == viaOutput.array.map(\.bitPattern))
    }

    @Test("a mask of a count that is not a multiple of 32 clears the bits past the count and writes no word beyond its own")
    func partialLastWord() {
        let count = 37
        let y = Buffer([Float16](repeating: 1, count: count))
        let mask = Buffer(repeating: UInt32.max, count: 3)
        ActivationMask.forward(mask: TensorView(base: mask.pointer, count: 2), y: y.view, count: count, low: 0, high: .nan)
        #expect(mask.array == [UInt32.max, (1 << 5) - 1, UInt32.max])
    }

    @Test("backward may run in place over dy")
    func inPlace() {
        let y = Buffer([Float16(-1), 2, 0, 7, 3]), dy = Buffer([Float16(1), 2, 3, 4, 5])
        let mask = Buffer(repeating: UInt32(0), count: 1)
        ActivationMask.forward(mask: mask.view, y: y.view, count: 5, low: 0, high: 6)
        ActivationMask.backward(dx: dy.view, dy: dy.view, mask: mask.view, count: 5)
        #expect(dy.array == [0, 2, 0, 0, 5])
    }
}
