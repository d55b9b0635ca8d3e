import Foundation
import Testing
@testable import HalfStepCore

/// The core's own exp/log, which must give the same bits on host and device, against libm.
struct ElementaryTests {
    func ulps(_ a: Float, _ b: Double) -> Double {
        let reference = Float(b)
        return abs(Double(a) - b) / Double(reference.ulp)
    }

    @Test("exp is within 4 ulp of libm over the whole range softmax can reach")
    func expAccuracy() {
        var worst = 0.0
        var x: Float = -87
        while x < 88.5 {
            worst = max(worst, ulps(Elementary.exp(x), Foundation.exp(Double(x))))
            x += 0.0137
        }
        #expect(worst <= 4, "worst error \(worst) ulp")
    }

    @Test("log is within 4 ulp of libm from subnormals to the largest Float")
    func logAccuracy() {
        var worst = 0.0
        // Every 4099th bit pattern from the smallest subnormal to the largest finite Float.
        for bits in stride(from: UInt32(1), to: 0x7F80_0000, by: 4099) {
            let x = Float(bitPattern: bits)
            worst = max(worst, ulps(Elementary.log(x), Foundation.log(Double(x))))
        }
        for i in 1 ... 20000 {
            let v = Float(i) / 1000
            worst = max(worst, ulps(Elementary.log(v), Foundation.log(Double(v))))
        }
        #expect(worst <= 4, "worst error \(worst) ulp")
    }

    @Test("exp and log handle their edge cases like IEEE libm")
    func edgeCases() {
        #expect(Elementary.exp(0) == 1)
        #expect(Elementary.exp(-100) == 0)
        #expect(Elementary.exp(100) == .infinity)
        #expect(Elementary.exp(.nan).isNaN)
        #expect(Elementary.log(1) == 0)
        #expect(Elementary.log(0) == -.infinity)
        #expect(Elementary.log(-1).isNaN)
        #expect(Elementary.log(.infinity) == .infinity)
    }
}
