#if arch(x86_64) || arch(arm64)
import Testing
import HalfStepTestSupport
@testable import HalfStepCore

/// ReLUVectorized against the portable loops on every fp16 bit pattern (65,536 of them, so the
/// test is exhaustive), in lengths that leave every tail size, out of place and in place.
struct ReLUVectorizedTests {
    /// Every bit pattern once, then `extra` more, so the vector loop's tail sees 0 ... 7 elements.
    static func allPatterns(_ extra: Int) -> [Float16] {
        (0 ..< 65_536 + extra).map { Float16(bitPattern: UInt16(truncatingIfNeeded: $0 &* 40_503)) }
    }

    @Test("forward gives the portable loop's bits on every fp16 pattern, in and out of place", arguments: 0 ..< 8)
    func forwardEveryPattern(_ extra: Int) {
        let x = Self.allPatterns(extra)
        let expected = Buffer(repeating: Float16(bitPattern: 0x5A5A), count: x.count)
        ReLU.portableForward(y: expected.view, x: Buffer(x).view, count: x.count)
        let got = Buffer(repeating: Float16(bitPattern: 0x5A5A), count: x.count)
        ReLUVectorized.forward(y: got.view, x: Buffer(x).view, count: x.count)
        #expect(got.array.map(\.bitPattern) == expected.array.map(\.bitPattern))
        let inPlace = Buffer(x)
        ReLUVectorized.forward(y: inPlace.view, x: inPlace.view, count: x.count)
        #expect(inPlace.array.map(\.bitPattern) == expected.array.map(\.bitPattern))
    }

    @Test("backward gives the portable loop's bits for every y pattern, in and out of place", arguments: 0 ..< 8)
    func backwardEveryPattern(_ extra: Int) {
        let y = Self.allPatterns(extra)
        var rng = TestRandom(77 + UInt64(extra))
        let dy = rng.halves(y.count, -8, 8)
        let expected = Buffer(repeating: Float16(bitPattern: 0x5A5A), count: y.count)
        ReLU.portableBackward(dx: expected.view, dy: Buffer(dy).view, y: Buffer(y).view, count: y.count)
        let got = Buffer(repeating: Float16(bitPattern: 0x5A5A), count: y.count)
        ReLUVectorized.backward(dx: got.view, dy: Buffer(dy).view, y: Buffer(y).view, count: y.count)
        #expect(got.array.map(\.bitPattern) == expected.array.map(\.bitPattern))
        let inPlace = Buffer(dy)
        ReLUVectorized.backward(dx: inPlace.view, dy: inPlace.view, y: Buffer(y).view, count: y.count)
        #expect(inPlace.array.map(\.bitPattern) == expected.array.map(\.bitPattern))
    }
}
#endif
