import CHeapCounter
import Testing

/// The allocation counter the "a step allocates nothing" test relies on must itself see
/// allocations, or that test could not fail.
struct HeapCounterTests {
    final class Box { var value = 0 }

    @Test("creating a class instance is counted")
    func countsObjects() {
        hs_heap_counting_begin()
        let box = Box()
        box.value = 1
        let n = hs_heap_counting_end()
        withExtendedLifetime(box) {}
        #expect(n >= 1)
    }

    @Test("growing an array is counted")
    func countsArrays() {
        hs_heap_counting_begin()
        var a: [Int] = []
        for i in 0 ..< 100 { a.append(i) }
        let n = hs_heap_counting_end()
        #expect(n >= 1 && a.count == 100)
    }

    @Test("integer arithmetic counts nothing")
    func arithmeticIsFree() {
        var x = 1
        hs_heap_counting_begin()
        for i in 0 ..< 1000 { x = x &* 31 &+ i }
        let n = hs_heap_counting_end()
        #expect(n == 0 && x != 0)
    }
}
