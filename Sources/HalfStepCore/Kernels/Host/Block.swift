#if arch(x86_64) || arch(arm64)
/// A host kernel block's size as a type: a block function generic over it specialises to
/// straight-line code per size. A constant argument was not enough: a dozen call sites of one
/// large `@inline(__always)` function left it out of line, testing the size at every tap.
protocol BlockCount { static var count: Int { get } }

/// 8 lanes (one vector) or 16 (two).
protocol BlockWidth { static var wide: Bool { get } }

/// The sizes host kernels use.
enum Block {
    enum One: BlockCount { static var count: Int { 1 } }
    enum Two: BlockCount { static var count: Int { 2 } }
    enum Three: BlockCount { static var count: Int { 3 } }
    enum Four: BlockCount { static var count: Int { 4 } }
    enum Five: BlockCount { static var count: Int { 5 } }
    enum Six: BlockCount { static var count: Int { 6 } }
    enum Narrow: BlockWidth { static var wide: Bool { false } }
    enum Wide: BlockWidth { static var wide: Bool { true } }
}
#endif
