import Foundation

/// A buffer to place: its size and the op indices (inclusive) during which it must stay intact.
public struct BufferRequest: Sendable, Equatable {
    /// Caller's identifier (the planner uses the tensor index).
    public var id: Int
    /// Size in bytes.
    public var bytes: Int
    /// First op index at which the buffer is live.
    public var firstUse: Int
    /// Last op index at which the buffer is live.
    public var lastUse: Int

    public init(id: Int, bytes: Int, firstUse: Int, lastUse: Int) {
        self.id = id
        self.bytes = bytes
        self.firstUse = firstUse
        self.lastUse = lastUse
    }

    /// True when the two buffers are live at some common op.
    public func overlapsInTime(_ other: BufferRequest) -> Bool {
        firstUse <= other.lastUse && other.firstUse <= lastUse
    }
}

/// Where every buffer went, and how good that is.
public struct ArenaLayout: Sendable, Equatable {
    /// Byte offset of each buffer, by request id.
    public var offsets: [Int: Int]
    /// Arena size the placement needs, bytes.
    public var peakBytes: Int
    /// The largest total of (aligned) buffers live at one op: no placement can need less, bytes.
    public var lowerBoundBytes: Int
    /// The requests placed (aligned sizes), for checks and pictures.
    public var requests: [BufferRequest]

    /// Pairs of request ids that are live at a common op and share bytes: must be empty. The
    /// test aid TensorFlow Lite Micro's planner also offers.
    public func overlaps() -> [(Int, Int)] {
        var found: [(Int, Int)] = []
        for (i, a) in requests.enumerated() {
            for b in requests[(i + 1)...] where a.overlapsInTime(b) {
                let oa = offsets[a.id]!, ob = offsets[b.id]!
                if oa < ob + b.bytes && ob < oa + a.bytes && a.bytes > 0 && b.bytes > 0 { found.append((a.id, b.id)) }
            }
        }
        return found
    }

    /// One row per op index, one column per `columns` bytes of arena: the letter of the buffer
    /// occupying it (a–z, then A–Z, cycling), `.` where free. For reading a plan at a glance.
    public func asciiPicture(columns: Int = 64) -> String {
        guard peakBytes > 0, let lastOp = requests.map(\.lastUse).max() else { return "(empty arena)\n" }
        let letters = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
        let bytesPerColumn = max(1, (peakBytes + columns - 1) / columns)
        var out = ""
        for op in 0 ... lastOp {
            var row = [Character](repeating: ".", count: columns)
            for (n, r) in requests.enumerated() where r.firstUse <= op && op <= r.lastUse && r.bytes > 0 {
                let start = offsets[r.id]! / bytesPerColumn
                let end = min(columns - 1, (offsets[r.id]! + r.bytes - 1) / bytesPerColumn)
                if start <= end { for c in start ... end { row[c] = letters[n % letters.count] } }
            }
            out += String(format: "%4d ", op) + String(row) + "\n"
        }
        return out
    }
}

/// Offline placement of a training step's buffers in one arena.
///
/// The approach of TensorFlow Lite Micro's greedy memory planner, in a few bullets:
/// - Sort buffers by size, largest first (ties: earlier first use, then id), so big buffers claim
///   low addresses and small ones fill the gaps they leave.
/// - Place each at an offset where it does not collide with any already-placed buffer whose
///   lifetime overlaps its own; buffers never live at the same time may share bytes.
/// - Two gap rules are tried, first fit (lowest gap that fits, as TFLM does) and best fit
///   (smallest gap that fits); the placement with the lower peak is kept.
///
/// Where it falls short: optimal placement is NP-complete (it is a dynamic storage allocation
/// problem), and a greedy order can leave holes a cleverer order would fill. The result is
/// always at least `lowerBoundBytes`; how far above is reported with every plan.
public enum ArenaAllocator {
    /// Places `requests`; every offset is a multiple of `alignment` and sizes are rounded up to it.
    public static func place(_ requests: [BufferRequest], alignment: Int = 16) -> ArenaLayout {
        let a = max(1, alignment)
        let aligned = requests.map { r in
            BufferRequest(id: r.id, bytes: (max(0, r.bytes) + a - 1) / a * a, firstUse: r.firstUse, lastUse: min(max(r.lastUse, r.firstUse), Int.max))
        }
        // Greedy placement depends on the order; no one order wins on every graph. Largest first
        // suits plans where a few activations dominate; longest-lived first keeps persistent state
        // (weights, optimizer state) packed at the bottom so short activations reuse the space above
        // them, which suits deep chains (CNNs). Take the best of a few orders and both fits.
        let bound = lowerBound(aligned)
        let orders: [[BufferRequest]] = [
            aligned.sorted { ($0.bytes, -$0.firstUse, -$0.id) > ($1.bytes, -$1.firstUse, -$1.id) },
            aligned.sorted { ($0.lastUse - $0.firstUse, $0.bytes, -$0.id) > ($1.lastUse - $1.firstUse, $1.bytes, -$1.id) },
            aligned.sorted { ($0.bytes * ($0.lastUse - $0.firstUse + 1), -$0.id) > ($1.bytes * ($1.lastUse - $1.firstUse + 1), -$1.id) },
        ]
        var chosen = greedy(orders[0], bestFit: false)
        var chosenOrder = orders[0], chosenFit = false
        search: for order in orders {
            for bestFit in [false, true] {
                if chosen.peak == bound { break search }
                let candidate = greedy(order, bestFit: bestFit)
                if candidate.peak < chosen.peak { (chosen, chosenOrder, chosenFit) = (candidate, order, bestFit) }
            }
        }
        // Still above the bound: a short deterministic local search over the order (swap two
        // buffers, keep the swap when the peak does not grow). Greedy-by-size fails on chains where
        // a large buffer's best place depends on a smaller neighbour placed after it.
        // Skipped within 0.5% of the bound: each pass re-runs the whole greedy placement, which
        // costs seconds on a MobileNet-sized plan for a few bytes at most.
        if chosen.peak - bound > bound / 200 && aligned.count > 1 {
            var rng = SplitMix64(seed: 0x4841_4C46)
            var order = chosenOrder
            for _ in 0 ..< min(400, 8 * aligned.count) {
                if chosen.peak == bound { break }
                let i = Int(rng.next() % UInt64(order.count)), j = Int(rng.next() % UInt64(order.count))
                if i == j { continue }
                order.swapAt(i, j)
                let candidate = greedy(order, bestFit: chosenFit)
                if candidate.peak <= chosen.peak { chosen = candidate } else { order.swapAt(i, j) }
            }
        }
        return ArenaLayout(offsets: chosen.offsets, peakBytes: chosen.peak, lowerBoundBytes: bound, requests: aligned)
    }

    static func greedy(_ order: [BufferRequest], bestFit: Bool) -> (offsets: [Int: Int], peak: Int) {
        var placed: [(request: BufferRequest, offset: Int)] = []
        var offsets: [Int: Int] = [:]
        var peak = 0
        for r in order {
            let neighbours = placed.filter { $0.request.overlapsInTime(r) && $0.request.bytes > 0 }
                .sorted { $0.offset < $1.offset }
            var candidate = 0
            var chosen: Int? = nil
            var chosenGap = Int.max
            for n in neighbours {
                let gap = n.offset - candidate
                if gap >= r.bytes {
                    if !bestFit { chosen = candidate; break }
                    if gap < chosenGap { chosen = candidate; chosenGap = gap }
                }
                candidate = max(candidate, n.offset + n.request.bytes)
            }
            let offset = chosen ?? candidate
            offsets[r.id] = offset
            placed.append((r, offset))
            peak = max(peak, offset + r.bytes)
        }
        return (offsets, peak)
    }

    /// Largest sum of sizes live at one op index.
    static func lowerBound(_ requests: [BufferRequest]) -> Int {
        // Sweep over lifetime endpoints instead of every op index: O(n log n) in the buffer count.
        var events: [(at: Int, delta: Int)] = []
        for r in requests {
            events.append((r.firstUse, r.bytes))
            events.append((r.lastUse + 1, -r.bytes))
        }
        events.sort { ($0.at, $0.delta) < ($1.at, $1.delta) }
        var live = 0, best = 0
        for e in events {
            live += e.delta
            best = max(best, live)
        }
        return best
    }
}
