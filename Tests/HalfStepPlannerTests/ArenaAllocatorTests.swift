import Testing
@testable import HalfStepPlanner

/// The offline allocator's invariants on random liveness sets, and its quality against the bound.
struct ArenaAllocatorTests {
    /// `count` buffers with sizes 1 B ... 8 KiB and lifetimes inside `ops` op indices.
    func randomRequests(_ rng: inout SplitMix64, count: Int, ops: Int) -> [BufferRequest] {
        (0 ..< count).map { id in
            let first = Int(rng.next() % UInt64(ops))
            let length = Int(rng.next() % UInt64(max(1, ops / 3)))
            return BufferRequest(id: id, bytes: 1 + Int(rng.next() % 8192), firstUse: first, lastUse: min(ops - 1, first + length))
        }
    }

    @Test("on 300 random liveness sets no two simultaneously live buffers overlap, all fit and are aligned")
    func invariantsOnRandomSets() {
        var rng = SplitMix64(seed: 42)
        var worst = 1.0, total = 0.0
        for trial in 0 ..< 300 {
            let requests = randomRequests(&rng, count: 2 + trial % 40, ops: 5 + trial % 30)
            let alignment = [1, 4, 16, 64][trial % 4]
            let layout = ArenaAllocator.place(requests, alignment: alignment)
            #expect(layout.overlaps().isEmpty, "trial \(trial): \(layout.overlaps())")
            for r in requests {
                let offset = layout.offsets[r.id]!
                #expect(offset % alignment == 0)
                #expect(offset >= 0 && offset + r.bytes <= layout.peakBytes)
            }
            #expect(layout.peakBytes >= layout.lowerBoundBytes)
            let ratio = Double(layout.peakBytes) / Double(max(1, layout.lowerBoundBytes))
            worst = max(worst, ratio)
            total += ratio
        }
        // Greedy placement is not optimal, but on these sets it stays close to the bound.
        #expect(worst <= 1.5, "worst peak/lower-bound ratio \(worst), mean \(total / 300)")
    }

    @Test("buffers that are all live at once are stacked: the peak is the sum of their sizes")
    func allLiveStack() {
        let requests = (0 ..< 5).map { BufferRequest(id: $0, bytes: 100 * ($0 + 1), firstUse: 0, lastUse: 3) }
        let layout = ArenaAllocator.place(requests, alignment: 4)
        #expect(layout.peakBytes == 100 + 200 + 300 + 400 + 500)
        #expect(layout.peakBytes == layout.lowerBoundBytes)
    }

    @Test("buffers with disjoint lifetimes all share offset 0")
    func disjointShare() {
        let requests = (0 ..< 6).map { BufferRequest(id: $0, bytes: 64 * ($0 + 1), firstUse: $0, lastUse: $0) }
        let layout = ArenaAllocator.place(requests, alignment: 16)
        #expect(layout.offsets.values.allSatisfy { $0 == 0 })
        #expect(layout.peakBytes == 384)
    }

    @Test("a small buffer fills the hole a large one leaves: the known optimum is reached")
    func fillsHoles() {
        // A (0–1, 64) and B (2–3, 64) can share; C (0–3, 32) must sit beside them: optimum 96.
        let requests = [BufferRequest(id: 0, bytes: 64, firstUse: 0, lastUse: 1),
                        BufferRequest(id: 1, bytes: 64, firstUse: 2, lastUse: 3),
                        BufferRequest(id: 2, bytes: 32, firstUse: 0, lastUse: 3)]
        let layout = ArenaAllocator.place(requests, alignment: 16)
        #expect(layout.peakBytes == 96 && layout.lowerBoundBytes == 96)
    }

    @Test("the ASCII picture has one row per op")
    func picture() {
        let requests = [BufferRequest(id: 0, bytes: 64, firstUse: 0, lastUse: 1), BufferRequest(id: 1, bytes: 64, firstUse: 1, lastUse: 2)]
        let text = ArenaAllocator.place(requests).asciiPicture(columns: 8)
        #expect(text.split(separator: "\n").count == 3)
    }
}
