/// A small seeded generator for shuffling training data the same way on every machine.
///
/// SplitMix64 (Steele, Lea & Flood 2014): one 64-bit state, full period, passes BigCrush; enough
/// for data order, and identical run to run given the seed.
public struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Batches drawn from epochs of a seeded shuffle; the last partial batch of an epoch is dropped,
/// as PyTorch's `DataLoader(shuffle=True, drop_last=True)` does.
public struct EpochSampler {
    public let count: Int
    public let batch: Int
    var rng: SplitMix64
    var order: [Int] = []
    var cursor = 0
    /// Epochs started so far.
    public private(set) var epoch = 0

    /// `count` samples in batches of `batch` (requires count ≥ batch).
    public init(count: Int, batch: Int, seed: UInt64) {
        self.count = count
        self.batch = batch
        rng = SplitMix64(seed: seed)
    }

    /// Sample indices of the next batch.
    public mutating func next() -> ArraySlice<Int> {
        if order.isEmpty || cursor + batch > count {
            // Refilled in place: a new array per epoch made the host loop allocate as it ran.
            if order.count == count { for i in 0 ..< count { order[i] = i } } else { order = Array(0 ..< count) }
            // Fisher–Yates with our own generator so the order never depends on the platform.
            var i = count - 1
            while i > 0 {
                let j = Int(rng.next() % UInt64(i + 1))
                order.swapAt(i, j)
                i -= 1
            }
            cursor = 0
            epoch += 1
        }
        defer { cursor += batch }
        return order[cursor ..< cursor + batch]
    }
}
