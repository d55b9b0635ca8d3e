import Foundation
import Testing
import HalfStepCore
import HalfStepTestSupport
@testable import HalfStepPlanner

/// Header, tensor and config fields at the edges of 32-bit arithmetic (0, 1, 2^31 − 1, 2^31,
/// 2^32 − 1, and values whose product with a record size or element width passes 2^32), each
/// resealed with a valid CRC so the verifier itself must refuse them.
///
/// The verifier does this arithmetic in `UInt32` with overflow reported, never in `Int`, so the
/// errors pinned here are the ones a 32-bit device raises too (where `Int(UInt32)` of 2^31 or
/// more, or a 32-bit `Int` product, used to trap before any check ran).
struct PlanBoundaryTests {
    /// Two hidden layers, the last one training: arena and flash tensors, fp16 and fp32, initial values.
    let plan = try! Planner.plan(makeMLP([6, 5, 4, 3]), options: options(batch: 2, train: .last(1)), source: "boundary.onnx")

    var header: PlanHeader { plan.bytes.withUnsafeBytes { PlanHeader(from: $0.baseAddress!) } }
    var file: Int { plan.bytes.count }

    /// The verifier's answer for the plan after `edit` (nil: accepted), with the CRC recomputed.
    func verify(_ edit: (UnsafeMutableRawPointer, PlanHeader) -> Void) -> PlanError? {
        var b = plan.bytes
        b.withUnsafeMutableBytes { raw in
            let p = raw.baseAddress!
            edit(p, PlanHeader(from: p))
            var h = PlanHeader(from: p)
            h.crc = CRC32.checksum(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(raw)[PlanFormat.crcStart...]))
            h.store(to: p)
        }
        do { _ = try LoadedPlan(bytes: b, path: "boundary.hsplan"); return nil } catch {
            if case .invalid(_, let e) = error { return e }
            return nil
        }
    }

    /// The verifier's answer with header field `field` set to `value`.
    func verify(header field: WritableKeyPath<PlanHeader, UInt32>, _ value: UInt32) -> PlanError? {
        verify { p, h in
            var h = h
            h[keyPath: field] = value
            h.store(to: p)
        }
    }

    /// The verifier's answer with tensor `i` edited by `change`.
    func verify(tensor i: Int, _ change: (inout TensorRecord) -> Void) -> PlanError? {
        verify { p, h in
            let at = p + Int(h.tensorTableOffset) + i * PlanFormat.tensorRecordBytes
            var r = TensorRecord(from: at)
            change(&r)
            r.store(to: at)
        }
    }

    /// The verifier's answer with the training config edited by `change`.
    func verify(config change: (inout TrainingConfig) -> Void) -> PlanError? {
        verify { p, h in
            var c = TrainingConfig(from: p + Int(h.configOffset))
            change(&c)
            c.store(to: p + Int(h.configOffset))
        }
    }

    func index(_ where: (TrainingProgram.Tensor) -> Bool) -> Int { plan.program.tensors.firstIndex(where: `where`)! }
    func record(_ i: Int) -> TensorRecord {
        plan.bytes.withUnsafeBytes { TensorRecord(from: $0.baseAddress! + Int(header.tensorTableOffset) + i * PlanFormat.tensorRecordBytes) }
    }
    /// An fp16 activation in the arena.
    var activation: Int { index { $0.role == .activation && $0.region == .arena && $0.dtype == .float16 } }
    /// An fp32 tensor in the arena with an initial value (the trained layer's master weight).
    var master: Int { index { $0.dtype == .float32 && $0.trainable && $0.region == .arena } }
    /// A frozen weight in flash.
    var frozen: Int { index { $0.region == .flash } }

    static let edges: [UInt32] = [0, 1, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF]
    /// × 48 (a record) passes 2^32: 0x0555_5556 · 48 = 2^32 + 32.
    static let pastRecords: UInt32 = 0x0555_5556

    @Test("a file size field that is not the buffer's length is refused as a size mismatch at every edge value")
    func fileBytesEdges() {
        for v in Self.edges {
            #expect(verify(header: \.fileBytes, v) == .sizeMismatch(header: v, actual: file), "fileBytes \(v)")
        }
    }

    @Test("a tensor count of 65535 or more is refused as out of range before its table size is computed")
    func tensorCountEdges() {
        for v: UInt32 in [0xFFFF, 0x1_0000, Self.pastRecords, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF] {
            #expect(verify(header: \.tensorCount, v) == .headerFieldOutOfRange(byteOffset: 16, value: v), "tensorCount \(v)")
        }
        // No tensors at all: the config's input reference is the first thing left dangling.
        let input = Int(plan.program.config.inputTensor)
        #expect(verify(header: \.tensorCount, 0) == .config(problem: .badTensorReference(byteOffset: 44, tensor: input)))
    }

    @Test("an op count whose table would pass 2^32 bytes is refused, its size saturated at 2^32 - 1")
    func opCountEdges() {
        let h = header
        for v: UInt32 in [Self.pastRecords, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF] {
            #expect(verify(header: \.opCount, v) == .sectionOutOfBounds(section: .opTable, offset: h.opTableOffset, bytes: 0xFFFF_FFFF, fileBytes: file),
                    "opCount \(v)")
        }
        #expect(verify(header: \.opCount, 0) == .config(problem: .lossOpCount(found: 0)))
        #expect(verify(header: \.opCount, 1) == .config(problem: .lossOpCount(found: 0)))
    }

    @Test("a section offset at any edge value is refused as out of bounds for that section")
    func sectionOffsetEdges() {
        let h = header
        let sections: [(WritableKeyPath<PlanHeader, UInt32>, PlanSection, UInt32)] = [
            (\.tensorTableOffset, .tensorTable, h.tensorCount * 48),
            (\.opTableOffset, .opTable, h.opCount * 48),
            (\.configOffset, .config, 64),
            (\.namesOffset, .names, h.namesBytes),
            (\.dataOffset, .data, h.dataBytes),
        ]
        for (field, section, bytes) in sections {
            for v in Self.edges + [0xFFFF_FFF0, 0x7FFF_FFF0] {
                #expect(verify(header: field, v) == .sectionOutOfBounds(section: section, offset: v, bytes: bytes, fileBytes: file),
                        "\(section) offset \(v)")
            }
        }
    }

    @Test("a names, data, config or source size at an edge value is refused as out of bounds with the size found")
    func sectionSizeEdges() {
        let h = header
        for v: UInt32 in [0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF] {
            #expect(verify(header: \.namesBytes, v) == .sectionOutOfBounds(section: .names, offset: h.namesOffset, bytes: v, fileBytes: file))
            #expect(verify(header: \.dataBytes, v) == .sectionOutOfBounds(section: .data, offset: h.dataOffset, bytes: v, fileBytes: file))
            #expect(verify(header: \.sourceBytes, v) == .sectionOutOfBounds(section: .names, offset: h.namesOffset, bytes: v, fileBytes: file))
        }
        for v in Self.edges {
            #expect(verify(header: \.configBytes, v) == .sectionOutOfBounds(section: .config, offset: h.configOffset, bytes: v, fileBytes: file))
        }
        #expect(verify(header: \.namesBytes, 0) == .sectionOutOfBounds(section: .names, offset: h.namesOffset, bytes: h.sourceBytes, fileBytes: file))
    }

    @Test("an arena of 2^31 bytes or more is refused; 2^31 - 1 is the largest a plan may ask for")
    func arenaBytesEdges() {
        for v: UInt32 in [0x8000_0000, 0xFFFF_FFFF] {
            #expect(verify(header: \.arenaBytes, v) == .headerFieldOutOfRange(byteOffset: 48, value: v), "arenaBytes \(v)")
        }
        #expect(verify(header: \.arenaBytes, 0x7FFF_FFFF) == nil)
        let first = index { $0.region == .arena }
        let r = record(first)
        for v: UInt32 in [0, 1] {
            #expect(verify(header: \.arenaBytes, v) == .tensor(index: first, problem: .outsideArena(offset: r.offset, bytes: r.bytes, arenaBytes: v)))
        }
    }

    @Test("a dimension of 2^31 or more, or a non-zero one past the rank, is refused naming the dimension")
    func dimensionEdges() {
        let a = activation, rank = Int(record(a).rank)
        for v: UInt32 in [0x8000_0000, 0xFFFF_FFFF] {
            #expect(verify(tensor: a) { $0.setDim(0, Int(v)) } == .tensor(index: a, problem: .badDimension(index: 0, value: v)))
            // Even when another dimension is 0 (the product would be 0): dim() must convert on a device.
            #expect(verify(tensor: a) { $0.rank = 2; $0.setDim(0, 0); $0.setDim(1, Int(v)) } == .tensor(index: a, problem: .badDimension(index: 1, value: v)))
        }
        for v: UInt32 in [1, 0x8000_0000, 0xFFFF_FFFF] {
            #expect(verify(tensor: a) { $0.setDim(rank, Int(v)) } == .tensor(index: a, problem: .badDimension(index: rank, value: v)))
        }
        for r: UInt8 in [0, 5, 255] {
            #expect(verify(tensor: a) { $0.rank = r } == .tensor(index: a, problem: .badRank(rank: Int(r))))
        }
    }

    @Test("a shape whose element count passes 2^31 - 1 is refused as overflowing, whatever the word size")
    func elementCountEdges() {
        let a = activation
        let shapes: [[UInt32]] = [[0x1_0000 - 1, 0x1_0000 + 1], [0x1_0000, 0x1_0000], [0x1_0000, 0x8000], [0x7FFF_FFFF, 2],
                                  [0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF], [0x7FFF_FFFF, 0x7FFF_FFFF, 0x7FFF_FFFF, 0x7FFF_FFFF]]
        for shape in shapes {
            let e = verify(tensor: a) { r in
                r.rank = UInt8(shape.count)
                for (d, v) in shape.enumerated() { r.setDim(d, Int(v)) }
            }
            #expect(e == .tensor(index: a, problem: .badRank(rank: shape.count)), "shape \(shape)")
        }
    }

    @Test("a size that is not elements × width is refused with the expected size, saturated at 2^32 - 1 past it")
    func sizeEdges() {
        let a = activation, r = record(a)
        for v in Self.edges where v != r.bytes {
            #expect(verify(tensor: a) { $0.bytes = v } == .tensor(index: a, problem: .sizeMismatch(expected: r.bytes, found: v)))
        }
        // fp16: 2^31 - 1 elements need 2^32 - 2 bytes; fp32: 2^30 and 2^31 - 1 elements need 2^32 and more.
        #expect(verify(tensor: a) { $0.rank = 1; $0.setDim(0, 0x7FFF_FFFF); $0.setDim(1, 0) }
                == .tensor(index: a, problem: .sizeMismatch(expected: 0xFFFF_FFFE, found: r.bytes)))
        let m = master, mr = record(m)
        for (elements, bytes): (Int, UInt32) in [(0x3FFF_FFFF, 0xFFFF_FFFC), (0x4000_0000, 0xFFFF_FFFF), (0x7FFF_FFFF, 0xFFFF_FFFF)] {
            let e = verify(tensor: m) { t in
                t.rank = 1
                for d in 1 ..< 4 { t.setDim(d, 0) }
                t.setDim(0, elements)
            }
            #expect(e == .tensor(index: m, problem: .sizeMismatch(expected: bytes, found: mr.bytes)), "\(elements) fp32 elements")
        }
        // The largest fp16 tensor that is self-consistent still has to fit the arena.
        let e = verify(tensor: a) { t in t.rank = 1; for d in 1 ..< 4 { t.setDim(d, 0) }; t.setDim(0, 0x7FFF_FFFF); t.bytes = 0xFFFF_FFFE }
        #expect(e == .tensor(index: a, problem: .outsideArena(offset: r.offset, bytes: 0xFFFF_FFFE, arenaBytes: header.arenaBytes)))
    }

    @Test("an arena, flash or initial-value offset at an edge value is refused as misaligned or outside its region")
    func offsetEdges() {
        let h = header
        let a = activation, ar = record(a)
        for v: UInt32 in [1, 0x7FFF_FFFF, 0xFFFF_FFFF] {
            #expect(verify(tensor: a) { $0.offset = v } == .tensor(index: a, problem: .misaligned(offset: v)))
        }
        for v: UInt32 in [h.arenaBytes, 0x7FFF_FFFE, 0x8000_0000, 0xFFFF_FFFE] {
            #expect(verify(tensor: a) { $0.offset = v } == .tensor(index: a, problem: .outsideArena(offset: v, bytes: ar.bytes, arenaBytes: h.arenaBytes)))
        }
        let f = frozen, fr = record(f)
        for v: UInt32 in [h.dataBytes, 0x8000_0000, 0xFFFF_FFFC] {
            #expect(verify(tensor: f) { $0.offset = v } == .tensor(index: f, problem: .outsideData(offset: v, bytes: fr.bytes, dataBytes: h.dataBytes)))
        }
        let m = master, mr = record(m)
        #expect(verify(tensor: m) { $0.initOffset = 2 } == .tensor(index: m, problem: .misaligned(offset: 2)))
        for v: UInt32 in [h.dataBytes, 0x8000_0000, 0xFFFF_FFFC] {
            #expect(verify(tensor: m) { $0.initOffset = v } == .tensor(index: m, problem: .outsideData(offset: v, bytes: mr.bytes, dataBytes: h.dataBytes)))
        }
    }

    @Test("a name range at an edge value is refused as outside the names section")
    func nameEdges() {
        let a = activation
        for v: UInt32 in [0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, header.namesBytes] {
            #expect(verify(tensor: a) { $0.nameOffset = v; $0.nameBytes = max($0.nameBytes, 1) } == .tensor(index: a, problem: .nameOutOfBounds))
        }
        #expect(verify(tensor: a) { $0.nameBytes = 0xFFFF } == .tensor(index: a, problem: .nameOutOfBounds))
    }

    @Test("input features, class counts and micro-batches whose products pass 2^31 are refused in the config")
    func configEdges() {
        let c = plan.program.config
        for v: UInt32 in [0, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF] {
            #expect(verify(config: { $0.inputFeatures = v }) == .config(problem: .badTensorReference(byteOffset: 44, tensor: Int(c.inputTensor))))
        }
        for v: UInt32 in [0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF] {
            #expect(verify(config: { $0.classes = v }) == .config(problem: .badTensorReference(byteOffset: 48, tensor: Int(c.logitsTensor))))
        }
        #expect(verify(config: { $0.classes = 0 }) == .config(problem: .zeroClasses))
        #expect(verify(config: { $0.batch = 0xFFFF; $0.microBatchesRaw = 0xFFFF }) == .config(problem: .badHyperparameter(byteOffset: 6)))
    }

    @Test("an op's batch parameter of 2^31 or more is refused as a bad parameter with its raw bits")
    func opParameterEdges() {
        for v: UInt32 in [0x8000_0000, 0xFFFF_FFFF] {
            let e = verify { p, h in
                let at = p + Int(h.opTableOffset)
                var op = OpRecord(from: at)
                op.setParamBits(0, v)
                op.store(to: at)
            }
            #expect(e == .op(index: 0, problem: .badParameter(slot: 0, value: v)))
        }
    }

    @Test("a growth interval of 2^31 or more is refused: the loss scaler counts clean steps in a 32-bit Int")
    func growthIntervalEdges() {
        #expect(verify(config: { $0.growthInterval = 0x7FFF_FFFF }) == nil)
        for v: UInt32 in [0, 0x8000_0000, 0xFFFF_FFFF] {
            #expect(verify(config: { $0.growthInterval = v }) == .config(problem: .badHyperparameter(byteOffset: 40)))
        }
    }

    @Test("a dense weight gradient of some rows only is refused when the plan accumulates in fp16, whose kernels write every row")
    func partialRowsWithHalfAccumulation() throws {
        var o = options(batch: 2)
        o.accumulateHalf = true
        let half = try Planner.plan(makeMLP([6, 5, 4, 3]), options: o, source: "half.onnx")
        let plan = try LoadedPlan(bytes: half.bytes, path: "half.hsplan").plan
        let backward = (0 ..< plan.opCount).first { plan.op($0).opcode == .denseBackward }!
        let m = UInt32(plan.op(backward).param(2))
        let e = Self.verify(half.bytes) { $0.setParamBits(5, m - 1) }
        #expect(e == .op(index: backward, problem: .badParameter(slot: 5, value: m - 1)))
        #expect(Self.verify(half.bytes) { $0.setParamBits(5, m) } == nil)
    }

    /// `bytes` with the first op `change` selects edited, resealed and verified (nil: accepted).
    static func verify(_ bytes: [UInt8], op index: Int? = nil, _ change: (inout OpRecord) -> Void) -> PlanError? {
        var b = bytes
        b.withUnsafeMutableBytes { raw in
            let p = raw.baseAddress!, h = PlanHeader(from: p)
            let plan = try! LoadedPlan(bytes: bytes, path: "unedited.hsplan").plan
            let i = index ?? (0 ..< plan.opCount).first { plan.op($0).opcode == .denseBackward }!
            let at = p + Int(h.opTableOffset) + i * PlanFormat.opRecordBytes
            var r = OpRecord(from: at)
            change(&r)
            r.store(to: at)
            PlanFormat.seal(raw)
        }
        do { _ = try LoadedPlan(bytes: b, path: "edited.hsplan"); return nil } catch {
            if case .invalid(_, let e) = error { return e }
            return nil
        }
    }

    @Test("persistent tensors (parameters, optimizer state) that need more bytes than the arena are refused")
    func persistentStateBeyondTheArena() throws {
        // The trained layer's master weight copied over every tensor the config does not name:
        // each copy is a valid record on its own, but they cannot all have a place of their own.
        let c = plan.program.config
        let named = Set([c.inputTensor, c.labelsTensor, c.logitsTensor, c.lossTensor].map(Int.init))
        let master = record(self.master)
        let copies = (0 ..< Int(header.tensorCount)).filter { !named.contains($0) }
        try #require(copies.count * Int(master.bytes) > Int(header.arenaBytes))
        let e = verify { p, h in
            for i in copies { master.store(to: p + Int(h.tensorTableOffset) + i * PlanFormat.tensorRecordBytes) }
        }
        guard case .tensor(let index, .stateExceedsArena(let state, let arena))? = e else {
            Issue.record("expected stateExceedsArena, got \(String(describing: e))")
            return
        }
        #expect(state > arena && arena == header.arenaBytes)
        #expect(copies.contains(index))
    }
}

/// The labels hold class indices the loss uses as offsets into its logits row, so only the caller
/// writes them and the loss reads no other int32 tensor as labels. An activation mask is the one
/// other int32 tensor a plan has: with a batch of 2 and a 20-wide ReLU layer its mask is 2 words,
/// the labels' count, so only these checks tell the two apart.
struct PlanLabelsTests {
    let bytes: [UInt8] = {
        // Biases only: the last layer's backward needs no saved input, so the ReLU keeps a mask.
        var o = options(batch: 2, train: .biases)
        o.activationMasks = true
        return try! Planner.plan(makeMLP([6, 20, 3]), options: o, source: "masks.onnx").bytes
    }()
    var plan: Plan { try! LoadedPlan(bytes: bytes, path: "masks.hsplan").plan }
    var labels: Int { Int(plan.config.labelsTensor) }
    func first(_ code: OpCode) -> Int { (0 ..< plan.opCount).first { plan.op($0).opcode == code }! }

    @Test("an op that would write the labels tensor is refused naming its slot")
    func maskWriterOntoTheLabels() {
        let writer = first(.activationMaskForward)
        let e = PlanBoundaryTests.verify(bytes, op: writer) { $0.setOperand(1, labels) }
        #expect(e == .op(index: writer, problem: .overwritesLabels(slot: 1, tensor: labels)))
    }

    @Test("a loss that reads its class indices from another int32 tensor is refused")
    func lossReadingAMask() {
        let mask = plan.op(first(.activationMaskForward)).operand(1)!
        let loss = first(.softmaxCrossEntropy)
        let e = PlanBoundaryTests.verify(bytes, op: loss) { $0.setOperand(1, mask) }
        #expect(e == .op(index: loss, problem: .notTheLabels(slot: 1, tensor: mask)))
    }
}
