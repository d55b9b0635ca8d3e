import Testing
@testable import HalfStepCore

/// The record accessors the trainer and kernels call on plan fields: their answers do not depend
/// on the width of `Int`, so these host results hold on a 32-bit device too.
struct PlanRecordTests {
    func tensor(_ dims: [UInt32]) -> TensorRecord {
        var r = TensorRecord()
        r.rank = UInt8(dims.count)
        for (i, d) in dims.prefix(4).enumerated() { r.setDim(i, Int(d)) }
        return r
    }

    @Test("an element count is exact up to 2^31 - 1 and nil past it, on every word size")
    func elementCountBoundary() {
        #expect(tensor([0x7FFF_FFFF]).elementCount == 0x7FFF_FFFF)
        #expect(tensor([0x8000_0000]).elementCount == nil)
        #expect(tensor([0xFFFF_FFFF]).elementCount == nil)
        #expect(tensor([0x1_0000, 0x7FFF]).elementCount == 0x7FFF_0000)
        #expect(tensor([0x1_0000, 0x8000]).elementCount == nil)
        #expect(tensor([0x1_0000, 0x1_0000]).elementCount == nil)
        #expect(tensor([0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF]).elementCount == nil)
        #expect(tensor([3, 5, 7, 11]).elementCount == 1155)
    }

    @Test("a shape with a zero dimension has no elements, however large the others")
    func zeroDimension() {
        #expect(tensor([0xFFFF_FFFF, 0]).elementCount == 0)
        #expect(tensor([0, 0xFFFF_FFFF, 0xFFFF_FFFF]).elementCount == 0)
    }

    @Test("a rank past four has no element count and rank zero is a scalar")
    func rankBoundary() {
        var r = tensor([2, 3])
        r.rank = 5
        #expect(r.elementCount == nil)
        r.rank = 0
        #expect(r.elementCount == 1)
    }

    @Test("an integer parameter of 2^31 or more reads as 2^31 - 1, and its raw bits stay available")
    func parameterClamps() {
        var op = OpRecord()
        let values: [UInt32] = [0, 1, 0xFFFF, 0x1_0000, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF]
        for (slot, v) in values.enumerated() { op.setParamBits(slot, v) }
        #expect((0 ..< 7).map { op.param($0) } == [0, 1, 0xFFFF, 0x1_0000, 0x7FFF_FFFF, 0x7FFF_FFFF, 0x7FFF_FFFF])
        #expect((0 ..< 7).map { op.paramBits($0) } == values)
    }
}
