#if arch(x86_64) || arch(arm64)
import Testing
import HalfStepTestSupport
@testable import HalfStepCore

/// Conv2DVectorized against the portable kernels the device runs, bit for bit: every output, and
/// every element a kernel must not write, compared as fp16 bit patterns. No tolerance: the vector
/// kernels promise the same operations in the same order. (A NaN's sign and payload are the one
/// exception, as in `DenseVectorizedTests.same`: which of two meeting NaNs survives is the
/// compiler's operand order, in either kernel.) Every comparison runs with and without host
/// working memory (`KernelScratch`), which switches on the repacked paths.
struct Conv2DVectorizedTests {
    struct Case: CustomStringConvertible {
        var name: String
        var window: Window2D
        var description: String { name }
    }

    /// A window with symmetric padding; the output size follows (floor, as ONNX and PyTorch).
    static func window(_ c: Int, _ m: Int, _ h: Int, _ w: Int, kernel: (Int, Int), stride: (Int, Int) = (1, 1),
                       pad: (Int, Int), group: Int = 1, trained: Int? = nil) -> Window2D {
        Window2D(channels: c, outputs: m, height: h, width: w,
                 outHeight: (h + 2 * pad.0 - kernel.0) / stride.0 + 1, outWidth: (w + 2 * pad.1 - kernel.1) / stride.1 + 1,
                 kernelHeight: kernel.0, kernelWidth: kernel.1, strideHeight: stride.0, strideWidth: stride.1,
                 padTop: pad.0, padLeft: pad.1, group: group, trainedOutputs: trained ?? m)
    }

    /// Every path and edge: the digits CNN's four layers; vector-filling and ragged planes (4×4 is
    /// two vectors, 3×3 one and a tail, 2×2 only a tail); odd sizes; 1×3, 5×5 and 1×1 windows;
    /// strided and shrinking windows (portable forward and dx, vector dW); groups of 8, 10 (8 lanes
    /// and 2) and 6 outputs (portable dW); depthwise; a partly trained layer; a wide layer. The
    /// last ones reach the scratch paths' edges: 16 lanes and a remainder, partly trained 16-lane
    /// dW, windows all inside, mostly padding, or wider than the input.
    static let cases: [Case] = [
        Case(name: "digits conv1: 1->8, 3x3 pad 1, 8x8", window: window(1, 8, 8, 8, kernel: (3, 3), pad: (1, 1))),
        Case(name: "digits dw: depthwise 8, 3x3 pad 1, 4x4", window: window(8, 8, 4, 4, kernel: (3, 3), pad: (1, 1), group: 8)),
        Case(name: "digits pw: 1x1 8->8, 4x4", window: window(8, 8, 4, 4, kernel: (1, 1), pad: (0, 0))),
        Case(name: "digits expand: 1x1 8->16, 4x4", window: window(8, 16, 4, 4, kernel: (1, 1), pad: (0, 0))),
        Case(name: "3->5, 3x3 pad 1, 7x5 (odd)", window: window(3, 5, 7, 5, kernel: (3, 3), pad: (1, 1))),
        Case(name: "2->9, 3x3 pad 1, 5x7 (9 outputs: a block of 8 and 1)", window: window(2, 9, 5, 7, kernel: (3, 3), pad: (1, 1))),
        Case(name: "2->12, 5x5 pad 2, 6x6", window: window(2, 12, 6, 6, kernel: (5, 5), pad: (2, 2))),
        Case(name: "3->8, 1x3 pad (0, 1), 3x9", window: window(3, 8, 3, 9, kernel: (1, 3), pad: (0, 1))),
        Case(name: "4->8, 3x3 pad 1, 3x3 (a vector and a tail)", window: window(4, 8, 3, 3, kernel: (3, 3), pad: (1, 1))),
        Case(name: "4->8, 3x3 pad 1, 2x2 (a tail only)", window: window(4, 8, 2, 2, kernel: (3, 3), pad: (1, 1))),
        Case(name: "3->8, 3x3 stride 2 pad 1, 9x9", window: window(3, 8, 9, 9, kernel: (3, 3), stride: (2, 2), pad: (1, 1))),
        Case(name: "16->16, 3x3 stride 2 pad 1, 8x8", window: window(16, 16, 8, 8, kernel: (3, 3), stride: (2, 2), pad: (1, 1))),
        Case(name: "3->8, 3x2 stride (2, 1) pad (1, 0), 7x6", window: window(3, 8, 7, 6, kernel: (3, 2), stride: (2, 1), pad: (1, 0))),
        Case(name: "3->10, 3x3 no padding, 6x7 (shrinking)", window: window(3, 10, 6, 7, kernel: (3, 3), pad: (0, 0))),
        Case(name: "4->16, 2 groups of 8, 3x3 pad 1, 6x6", window: window(4, 16, 6, 6, kernel: (3, 3), pad: (1, 1), group: 2)),
        Case(name: "4->20, 2 groups of 10, 3x3 pad 1, 5x5", window: window(4, 20, 5, 5, kernel: (3, 3), pad: (1, 1), group: 2)),
        Case(name: "6->18, 3 groups of 6, 3x3 pad 1, 4x5", window: window(6, 18, 4, 5, kernel: (3, 3), pad: (1, 1), group: 3)),
        Case(name: "depthwise 8, 3x3 stride 2 pad 1, 8x8", window: window(8, 8, 8, 8, kernel: (3, 3), stride: (2, 2), pad: (1, 1), group: 8)),
        Case(name: "depthwise 6, 3x3 pad 1, 5x5", window: window(6, 6, 5, 5, kernel: (3, 3), pad: (1, 1), group: 6)),
        Case(name: "1x1 stride 2, 8->8, 5x5", window: window(8, 8, 5, 5, kernel: (1, 1), stride: (2, 2), pad: (0, 0))),
        Case(name: "1x1 grouped, 8->8 in 2 groups, 3x5", window: window(8, 8, 3, 5, kernel: (1, 1), pad: (0, 0), group: 2)),
        Case(name: "1x1 7->5, 3x3 (pointwise, ragged)", window: window(7, 5, 3, 3, kernel: (1, 1), pad: (0, 0))),
        Case(name: "3->16, 3x3 pad 1, 6x6, first 5 outputs trained", window: window(3, 16, 6, 6, kernel: (3, 3), pad: (1, 1), trained: 5)),
        Case(name: "3->16, 3x3 pad 1, 6x6, first 13 outputs trained", window: window(3, 16, 6, 6, kernel: (3, 3), pad: (1, 1), trained: 13)),
        Case(name: "16->32, 3x3 pad 1, 12x12 (wide)", window: window(16, 32, 12, 12, kernel: (3, 3), pad: (1, 1))),
        Case(name: "issue 13's strided layer: 16->32, 3x3 stride 2 pad 1, 8x8", window: window(16, 32, 8, 8, kernel: (3, 3), stride: (2, 2), pad: (1, 1))),
        Case(name: "12->9, 3x3 stride 2 pad 1, 7x9 (8 channels and 4, 8 outputs and 1)", window: window(12, 9, 7, 9, kernel: (3, 3), stride: (2, 2), pad: (1, 1))),
        Case(name: "8->8, 5x5 stride 3 pad 2, 11x10", window: window(8, 8, 11, 10, kernel: (5, 5), stride: (3, 3), pad: (2, 2))),
        Case(name: "8->8, 3x3 no padding, 6x7 (shrinking, channel-lane dx)", window: window(8, 8, 6, 7, kernel: (3, 3), pad: (0, 0))),
        Case(name: "16->16 in 2 groups, 3x3 stride 2 pad 1, 20x19 (wide rows)", window: window(16, 16, 20, 19, kernel: (3, 3), stride: (2, 2), pad: (1, 1), group: 2)),
        Case(name: "9->17, 3x3 stride 2 pad 1, 10x10 (dy planes of 3 transposed blocks and a tail; 8+1 channels, 8+8+1 outputs)", window: window(9, 17, 10, 10, kernel: (3, 3), stride: (2, 2), pad: (1, 1))),
        Case(name: "8->16, 3x3 no padding, 5x11 (3x3 dW rows at the tensor's end)", window: window(8, 16, 5, 11, kernel: (3, 3), pad: (0, 0))),
        Case(name: "8->12, 3x3 stride 2 pad 1, 9x16 (8 columns per stride class: single-sample dx blocks)", window: window(8, 12, 9, 16, kernel: (3, 3), stride: (2, 2), pad: (1, 1))),
        Case(name: "8->24, 3x3 stride 2 pad 1, 9x9, first 21 trained (16 + 8 outputs, 16 + 5 dW lanes)", window: window(8, 24, 9, 9, kernel: (3, 3), stride: (2, 2), pad: (1, 1), trained: 21)),
        Case(name: "20->20, 3x3 stride 2 pad 1, 7x7 (16 + 4 channels and outputs)", window: window(20, 20, 7, 7, kernel: (3, 3), stride: (2, 2), pad: (1, 1))),
        Case(name: "4->16, 3x3 pad 1, 5x5, first 13 outputs trained (4 channels: transposed-dy dW)", window: window(4, 16, 5, 5, kernel: (3, 3), pad: (1, 1), trained: 13)),
        Case(name: "6->16, 2x2 stride 2 no padding, 6x6 (every pixel inside)", window: window(6, 16, 6, 6, kernel: (2, 2), stride: (2, 2), pad: (0, 0))),
        Case(name: "16->16, 3x3 stride 2 pad 1, 1x1 (one tap inside)", window: window(16, 16, 1, 1, kernel: (3, 3), stride: (2, 2), pad: (1, 1))),
        Case(name: "8->8, 5x5 pad 1, 3x3 (a window wider than the input)", window: window(8, 8, 3, 3, kernel: (5, 5), pad: (1, 1))),
        Case(name: "16->32 in 2 groups, 3x3 stride 2 pad 1, 6x5 (16 lanes per group)", window: window(16, 32, 6, 5, kernel: (3, 3), stride: (2, 2), pad: (1, 1), group: 2)),
    ]

    static let sentinel = Float16(bitPattern: 0x5A5A)

    /// Operands for one case; with `specials`, infinities, NaN, signed zeros, subnormals and
    /// values whose products overflow fp16 (but not fp32) replace some elements of x, W, b and dy,
    /// so a dropped skip of a padded tap (0 · inf = NaN), a changed order or a product rounded to
    /// fp16 would show.
    struct Operands {
        var x: [Float16], w16: [Float16], w32: [Float], b16: [Float16], b32: [Float], dy: [Float16]

        init(_ g: Window2D, rows: Int, seed: UInt64, specials: Bool) {
            var rng = TestRandom(seed)
            x = rng.halves(rows * g.inputElements, -4, 4)
            w16 = rng.halves(g.outputs * g.weightsPerOutput, -2, 2)
            w32 = (0 ..< g.outputs * g.weightsPerOutput).map { _ in Float(rng.uniform(-2, 2)) }
            b16 = rng.halves(g.outputs, -1, 1)
            b32 = (0 ..< g.outputs).map { _ in Float(rng.uniform(-1, 1)) }
            dy = rng.halves(rows * g.outputElements, -4, 4)
            guard specials else { return }
            let values: [Float16] = [.infinity, -.infinity, .nan, -0.0, 0.0, 60000, -60000, Float16(bitPattern: 0x0001), -Float16.leastNormalMagnitude]
            func sprinkle(_ a: inout [Float16], _ step: Int) {
                guard !a.isEmpty else { return }
                for (k, v) in values.enumerated() { a[(k * step + 3) % a.count] = v }
            }
            sprinkle(&x, 37)
            sprinkle(&dy, 29)
            // Weights: one infinity and one NaN only, so most outputs stay finite and comparable.
            if w16.count > 4 { w16[1] = .infinity; w16[w16.count - 2] = .nan; w32[1] = .infinity; w32[w32.count - 2] = .nan }
            sprinkle(&b16, 5)
        }
    }

    enum Storage: CaseIterable { case half, master }

    static func weight(_ o: Operands, _ s: Storage) -> ParameterView {
        s == .half ? .half(Buffer(o.w16).view) : .master(Buffer(o.w32).view)
    }

    static func bias(_ o: Operands, _ s: Storage) -> ParameterView {
        s == .half ? .half(Buffer(o.b16).view) : .master(Buffer(o.b32).view)
    }

    /// A sentinel-filled output; its bit patterns after `body` wrote into it.
    static func output(_ count: Int, _ body: (TensorView<Float16>) -> Void) -> [UInt16] {
        let b = Buffer(repeating: sentinel, count: count)
        body(b.view)
        return b.array.map(\.bitPattern)
    }

    /// Equal bit patterns, or both NaN.
    static func same(_ a: UInt16, _ b: UInt16) -> Bool {
        a == b || (Float16(bitPattern: a).isNaN && Float16(bitPattern: b).isNaN)
    }

    /// Where the two results differ, for the failure message; nil when identical.
    static func firstDifference(_ name: String, _ got: [UInt16], _ expected: [UInt16]) -> String? {
        guard got.count == expected.count else { return "\(name): \(got.count) elements vs \(expected.count)" }
        guard let i = got.indices.first(where: { !same(got[$0], expected[$0]) }) else { return nil }
        let count = zip(got, expected).filter { !same($0, $1) }.count
        return "\(name)[\(i)]: 0x\(String(got[i], radix: 16)) vs portable 0x\(String(expected[i], radix: 16)) (\(count) differ)"
    }

    /// Runs `body` with the host working memory the scratch paths ask for (`shortBy` elements
    /// less), filled with NaN so a read of an element no path wrote would show; nil without `scratch`.
    static func withScratch<R>(_ g: Window2D, rows: Int, _ scratch: Bool, shortBy: Int = 0, _ body: (KernelScratch?) -> R) -> R {
        guard scratch else { return body(nil) }
        let floats = max(Conv2DVectorized.scratchFloats(rows: rows, window: g) - shortBy, 1)
        let memory = Buffer<Float>(repeating: .nan, count: floats)
        return withExtendedLifetime(memory) { body(KernelScratch(base: UnsafeMutableRawPointer(memory.pointer), bytes: floats * 4)) }
    }

    /// nil when forward matches the portable kernel, else the first difference. With `scratch`,
    /// the vectorised kernel gets host working memory (the repacked paths).
    static func forwardDifference(_ c: Case, rows: Int, storage: Storage, withBias: Bool, specials: Bool, seed: UInt64,
                                  scratch: Bool = false, shortBy: Int = 0) -> String? {
        let g = c.window
        let o = Operands(g, rows: rows, seed: seed, specials: specials)
        let x = Buffer(o.x).view, w = weight(o, storage), b = withBias ? bias(o, storage) : nil
        let expected = output(rows * g.outputElements) { Conv2D.portableForward(y: $0, x: x, weight: w, bias: b, rows: rows, window: g) }
        let got = output(rows * g.outputElements) { y in
            withScratch(g, rows: rows, scratch, shortBy: shortBy) { s in
                Conv2DVectorized.forward(y: y, x: x, weight: w, bias: b, rows: rows, window: g, scratch: s)
            }
        }
        return firstDifference("y", got, expected).map {
            "\(c), rows \(rows), \(storage), bias \(withBias), specials \(specials), scratch \(scratch): \($0)"
        }
    }

    /// Which gradients a backward call asks for.
    struct Outputs { var dx = true, dW = true, db = true }

    /// nil when backward matches the portable kernel, else the first difference.
    static func backwardDifference(_ c: Case, rows: Int, storage: Storage, specials: Bool, seed: UInt64,
                                   outputs: Outputs = Outputs(), scratch: Bool = false, shortBy: Int = 0) -> String? {
        let g = c.window
        let o = Operands(g, rows: rows, seed: seed, specials: specials)
        let x = Buffer(o.x).view, dy = Buffer(o.dy).view, w = weight(o, storage)
        func run(_ vectorized: Bool) -> [[UInt16]] {
            var dWBits: [UInt16] = [], dbBits: [UInt16] = []
            let dxBits = output(rows * g.inputElements) { dx in
                dWBits = output(g.outputs * g.weightsPerOutput) { dW in
                    dbBits = output(g.outputs) { db in
                        let dxv = outputs.dx ? dx : nil, dWv = outputs.dW ? dW : nil, dbv = outputs.db ? db : nil
                        if vectorized {
                            withScratch(g, rows: rows, scratch, shortBy: shortBy) { s in
                                Conv2DVectorized.backward(dx: dxv, dW: dWv, db: dbv, dy: dy, x: x, weight: w, rows: rows, window: g, scratch: s)
                            }
                        } else {
                            Conv2D.portableBackward(dx: dxv, dW: dWv, db: dbv, dy: dy, x: x, weight: w, rows: rows, window: g)
                        }
                    }
                }
            }
            return [dxBits, dWBits, dbBits]
        }
        let got = run(true), expected = run(false)
        for (name, (a, e)) in zip(["dx", "dW", "db"], zip(got, expected)) {
            if let d = firstDifference(name, a, e) { return "\(c), rows \(rows), \(storage), specials \(specials), scratch \(scratch): \(d)" }
        }
        return nil
    }

    static let rowCounts = [1, 2, 3]

    @Test("forward matches the portable kernel bit for bit, fp16 and fp32 master weights, with and without bias", arguments: cases)
    func forwardIsBitExact(_ c: Case) {
        var seed: UInt64 = 1000
        for rows in Self.rowCounts {
            for storage in Storage.allCases {
                for withBias in [true, false] {
                    seed += 1
                    for scratch in [false, true] {
                        let d = Self.forwardDifference(c, rows: rows, storage: storage, withBias: withBias, specials: false, seed: seed, scratch: scratch)
                        #expect(d == nil, "\(d ?? "")")
                    }
                }
            }
        }
    }

    @Test("forward matches bit for bit on infinities, NaN, signed zeros, subnormals and fp16-overflowing products", arguments: cases)
    func forwardSpecialValues(_ c: Case) {
        var seed: UInt64 = 2000
        for rows in Self.rowCounts {
            for storage in Storage.allCases {
                seed += 1
                for scratch in [false, true] {
                    let d = Self.forwardDifference(c, rows: rows, storage: storage, withBias: true, specials: true, seed: seed, scratch: scratch)
                    #expect(d == nil, "\(d ?? "")")
                }
            }
        }
    }

    @Test("backward gives the portable kernel's dx, dW and db bit for bit, fp16 and fp32 master weights", arguments: cases)
    func backwardIsBitExact(_ c: Case) {
        var seed: UInt64 = 3000
        for rows in Self.rowCounts {
            for storage in Storage.allCases {
                seed += 1
                for scratch in [false, true] {
                    let d = Self.backwardDifference(c, rows: rows, storage: storage, specials: false, seed: seed, scratch: scratch)
                    #expect(d == nil, "\(d ?? "")")
                }
            }
        }
    }

    @Test("backward matches bit for bit on infinities, NaN, signed zeros, subnormals and fp16-overflowing products", arguments: cases)
    func backwardSpecialValues(_ c: Case) {
        var seed: UInt64 = 4000
        for rows in Self.rowCounts {
            for storage in Storage.allCases {
                seed += 1
                for scratch in [false, true] {
                    let d = Self.backwardDifference(c, rows: rows, storage: storage, specials: true, seed: seed, scratch: scratch)
                    #expect(d == nil, "\(d ?? "")")
                }
            }
        }
    }

    @Test("backward leaves every gradient it is not given untouched and still matches the ones it is", arguments: [
        Outputs(dx: true, dW: false, db: false), Outputs(dx: false, dW: true, db: false), Outputs(dx: false, dW: false, db: true),
        Outputs(dx: false, dW: true, db: true),
    ])
    func backwardWithMissingGradients(_ outputs: Outputs) {
        for (k, c) in Self.cases.enumerated() {
            for scratch in [false, true] {
                let d = Self.backwardDifference(c, rows: 2, storage: .half, specials: false, seed: 5000 + UInt64(k), outputs: outputs, scratch: scratch)
                #expect(d == nil, "\(d ?? "")")
            }
        }
    }

    @Test("a scratch one element too small is left unused, and the results still match", arguments: cases)
    func scratchTooSmall(_ c: Case) {
        let f = Self.forwardDifference(c, rows: 2, storage: .master, withBias: true, specials: false, seed: 5500, scratch: true, shortBy: 1)
        #expect(f == nil, "\(f ?? "")")
        let b = Self.backwardDifference(c, rows: 2, storage: .master, specials: false, seed: 5600, scratch: true, shortBy: 1)
        #expect(b == nil, "\(b ?? "")")
    }

    @Test("issue 13's strided CNN layers at batch 32 and odd batches match bit for bit")
    func stridedLayersAtBatch32() {
        let layers = [
            Case(name: "strided conv1: 1->16, 3x3 pad 1, 8x8", window: Self.window(1, 16, 8, 8, kernel: (3, 3), pad: (1, 1))),
            Case(name: "strided conv2: 16->32, 3x3 stride 2 pad 1, 8x8", window: Self.window(16, 32, 8, 8, kernel: (3, 3), stride: (2, 2), pad: (1, 1))),
        ]
        for (k, c) in layers.enumerated() {
            for rows in [5, 32] {
                for scratch in [false, true] {
                    let f = Self.forwardDifference(c, rows: rows, storage: .master, withBias: true, specials: false, seed: 7000 + UInt64(k * 100 + rows), scratch: scratch)
                    #expect(f == nil, "\(f ?? "")")
                    let b = Self.backwardDifference(c, rows: rows, storage: .master, specials: false, seed: 7100 + UInt64(k * 100 + rows), scratch: scratch)
                    #expect(b == nil, "\(b ?? "")")
                    let s = Self.backwardDifference(c, rows: rows, storage: .half, specials: true, seed: 7200 + UInt64(k * 100 + rows), scratch: scratch)
                    #expect(s == nil, "\(s ?? "")")
                }
            }
        }
    }

    @Test("the digits CNN's layers at batch 32 match bit for bit")
    func digitsLayersAtBatch32() {
        for (k, c) in Self.cases.prefix(4).enumerated() {
            for scratch in [false, true] {
                let f = Self.forwardDifference(c, rows: 32, storage: .master, withBias: true, specials: false, seed: 6000 + UInt64(k), scratch: scratch)
                #expect(f == nil, "\(f ?? "")")
                let b = Self.backwardDifference(c, rows: 32, storage: .master, specials: false, seed: 6100 + UInt64(k), scratch: scratch)
                #expect(b == nil, "\(b ?? "")")
            }
        }
    }
}

extension Conv2DVectorizedTests.Outputs: CustomStringConvertible {
    var description: String { "dx \(dx) dW \(dW) db \(db)" }
}
#endif
