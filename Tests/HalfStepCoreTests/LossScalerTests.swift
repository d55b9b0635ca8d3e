import Testing
@testable import HalfStepCore

struct LossScalerTests {
    @Test("a dynamic scale halves on overflow and doubles after the growth interval of clean steps")
    func dynamicScaleFollowsGradScaler() {
        var s = LossScaler(mode: .dynamic, initialScale: 65536, growthFactor: 2, backoffFactor: 0.5, growthInterval: 3)
        s.record(overflow: true)
        #expect(s.scale == 32768)
        s.record(overflow: false); s.record(overflow: false)
        #expect(s.scale == 32768)
        s.record(overflow: false)
        #expect(s.scale == 65536)
        s.record(overflow: false); s.record(overflow: true)
        #expect(s.scale == 32768 && s.cleanSteps == 0)
    }

    @Test("static and no scaling never change the scale")
    func staticScaleIsFixed() {
        var s = LossScaler(mode: .fixed, initialScale: 1024, growthFactor: 2, backoffFactor: 0.5, growthInterval: 1)
        var none = LossScaler(mode: .none, initialScale: 1024, growthFactor: 2, backoffFactor: 0.5, growthInterval: 1)
        for o in [true, false, false, true] { s.record(overflow: o); none.record(overflow: o) }
        #expect(s.scale == 1024)
        #expect(none.scale == 1)
    }

    @Test("the scale never reaches zero however many overflows in a row")
    func scaleHasAFloor() {
        var s = LossScaler(mode: .dynamic, initialScale: 1, growthFactor: 2, backoffFactor: 0.5, growthInterval: 10)
        for _ in 0 ..< 300 { s.record(overflow: true) }
        #expect(s.scale == LossScaler.floor)
    }
}
