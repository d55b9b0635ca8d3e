import Testing
import HalfStepCore
import HalfStepTestSupport
@testable import HalfStepPlanner

/// halfstep.h on the host: the same functions a C firmware calls, driven from Swift. The device
/// side (a gcc-built C program on QEMU) is Targets/examples/c-firmware's test.
struct CAPITests {
    /// Caller-owned memory as a C program would hold it: plan bytes, trainer storage and arena,
    /// each aligned as halfstep.h asks.
    final class Memory {
        let plan: UnsafeMutableRawBufferPointer
        let storage: UnsafeMutableRawPointer
        let arena: UnsafeMutableRawBufferPointer
        init(plan bytes: [UInt8], arenaBytes: Int) {
            plan = .allocate(byteCount: bytes.count, alignment: 16)
            plan.copyBytes(from: bytes)
            storage = .allocate(byteCount: 1024, alignment: 8)
            storage.initializeMemory(as: UInt8.self, repeating: 0, count: 1024)
            arena = .allocate(byteCount: max(arenaBytes, 16), alignment: 16)
        }
        deinit {
            plan.deallocate()
            storage.deallocate()
            arena.deallocate()
        }
        var planBase: UnsafeRawPointer { UnsafeRawPointer(plan.baseAddress!) }
        func initialise(arenaBytes: Int? = nil) -> Int32 {
            hs_trainer_init(storage, planBase, plan.count, arena.baseAddress, arenaBytes ?? arena.count)
        }
        var lastError: String { String(cString: hs_last_error(storage)) }
    }

    static let features = 6, classes = 4, batch = 4

    func planned() throws -> (bytes: [UInt8], arena: Int) {
        let plan = try Planner.plan(makeMLP([Self.features, 8, Self.classes]), options: options(batch: Self.batch), source: "capi")
        return (plan.bytes, plan.memory.arenaBytes)
    }

    func ready() throws -> Memory {
        let (bytes, arena) = try planned()
        let m = Memory(plan: bytes, arenaBytes: arena)
        #expect(m.initialise() == 0, "\(m.lastError)")
        return m
    }

    func floats(_ data: Dataset, batch: Int, from first: Int) -> (inputs: [Float], labels: [Int32]) {
        let rows = (0 ..< batch).map { (first + $0) % data.count }
        return (rows.flatMap { r in data.inputs[r * data.features ..< (r + 1) * data.features].map { Float($0) } },
                rows.map { data.labels[$0] })
    }

    func parameterBytes(_ m: Memory) -> [[UInt8]] {
        var info = HSPlanInfo()
        _ = hs_plan_info_get(m.storage, &info)
        return (0 ..< info.parameters).map { k in
            var p = HSParameter()
            _ = hs_parameter_get(m.storage, k, &p)
            return Array(UnsafeRawBufferPointer(start: p.data, count: Int(p.bytes)))
        }
    }

    @Test("the trainer's storage fits HS_TRAINER_MAX_BYTES (1024) on the 64-bit host too")
    func storageFits() {
        #expect(hs_trainer_bytes() <= 1024)
    }

    @Test("steps through the C API end with the weights, losses and loss scales of the host's trainer, bit for bit")
    func stepsMatchTheHostTrainer() throws {
        let (bytes, _) = try planned()
        let data = syntheticData(count: 40, features: Self.features, classes: Self.classes, seed: 3)
        let session = try TrainingSession(LoadedPlan(bytes: bytes, path: "capi"))
        let m = try ready()
        for step in 0 ..< 12 {
            let first = step * Self.batch
            let host = session.step(data, samples: (0 ..< Self.batch).map { (first + $0) % data.count }[...])
            let (inputs, labels) = floats(data, batch: Self.batch, from: first)
            var report = HSStepReport()
            #expect(hs_train_step(m.storage, inputs, labels, &report) == 0)
            #expect(report.loss.bitPattern == host.loss.bitPattern && report.lossScale == host.lossScale)
            #expect(report.step == UInt32(step + 1) && report.applied == (host.status == .applied ? 1 : 0))
        }
        let trainable = (0 ..< session.loaded.plan.tensorCount).filter { session.loaded.plan.tensor($0).flags & TensorRecord.trainable != 0 }
        let host = trainable.map { Array(UnsafeRawBufferPointer(start: session.trainer.address(of: $0), count: Int(session.loaded.plan.tensor($0).bytes))) }
        #expect(parameterBytes(m) == host)
    }

    @Test("fp16 inputs given as bit patterns train exactly as the same values given as float32")
    func halfInputsMatchFloatInputs() throws {
        let data = syntheticData(count: 16, features: Self.features, classes: Self.classes, seed: 5)
        let a = try ready(), b = try ready()
        for step in 0 ..< 4 {
            let (inputs, labels) = floats(data, batch: Self.batch, from: step * Self.batch)
            let halves = inputs.map { Float16($0).bitPattern }
            #expect(hs_train_step(a.storage, inputs, labels, nil) == 0)
            #expect(hs_train_step_f16(b.storage, halves, labels, nil) == 0)
        }
        #expect(parameterBytes(a) == parameterBytes(b))
    }

    @Test("hs_predict gives the logits of the host's forward pass, rounded from fp16")
    func predictGivesTheForwardPass() throws {
        let (bytes, _) = try planned()
        let data = syntheticData(count: 3, features: Self.features, classes: Self.classes, seed: 7)
        let session = try TrainingSession(LoadedPlan(bytes: bytes, path: "capi"))
        session.load(data, samples: 0 ..< 3)
        session.trainer.forward(rows: 3)
        let expected = (0 ..< 3 * Self.classes).map { Float(session.trainer.logits[$0]) }
        let m = try ready()
        var outputs = [Float](repeating: .nan, count: 3 * Self.classes)
        #expect(hs_predict(m.storage, floats(data, batch: 3, from: 0).inputs, 3, &outputs) == 0)
        #expect(outputs == expected)
    }

    @Test("hs_predict refuses 0 rows and more rows than the plan's batch, naming the limit")
    func predictRefusesBadRows() throws {
        let m = try ready()
        var outputs = [Float](repeating: 0, count: 8 * Self.classes)
        let inputs = [Float](repeating: 0, count: 8 * Self.features)
        #expect(hs_predict(m.storage, inputs, 0, &outputs) == -9)
        #expect(hs_predict(m.storage, inputs, Self.batch + 1, &outputs) == -9)
        #expect(m.lastError.contains("5 given, the plan predicts at most 4"))
    }

    @Test("hs_plan_arena_bytes is the plan's arena, and 0 for a corrupt, truncated, misaligned or NULL plan")
    func arenaBytesOfBadPlans() throws {
        let (bytes, arena) = try planned()
        let m = Memory(plan: bytes, arenaBytes: arena)
        #expect(hs_plan_arena_bytes(m.planBase, bytes.count) == arena)
        #expect(hs_plan_arena_bytes(m.planBase, bytes.count - 16) == 0)
        #expect(hs_plan_arena_bytes(m.planBase + 4, bytes.count - 4) == 0)
        #expect(hs_plan_arena_bytes(nil, bytes.count) == 0)
        m.plan[bytes.count / 2] ^= 0x40
        #expect(hs_plan_arena_bytes(m.planBase, bytes.count) == 0)
    }

    @Test("a corrupted plan is refused at init with the reason, and the trainer stays unusable")
    func corruptPlanRefused() throws {
        let (bytes, arena) = try planned()
        let m = Memory(plan: bytes, arenaBytes: arena)
        m.plan[bytes.count / 2] ^= 0x01
        #expect(m.initialise() == -3)
        #expect(m.lastError.contains("CRC does not match"))
        #expect(hs_train_step(m.storage, [Float](repeating: 0, count: 24), [0, 0, 0, 0], nil) == -5)
    }

    @Test("an arena one byte short is refused, saying how many bytes the plan needs and how many were given")
    func smallArenaRefused() throws {
        let (bytes, arena) = try planned()
        let m = Memory(plan: bytes, arenaBytes: arena)
        #expect(m.initialise(arenaBytes: arena - 1) == -4)
        #expect(m.lastError.contains("the plan needs \(arena) bytes, \(arena - 1) given"))
    }

    @Test("misaligned trainer storage, arena or plan is refused as misaligned")
    func misalignmentRefused() throws {
        let (bytes, arena) = try planned()
        let m = Memory(plan: bytes, arenaBytes: arena + 16)
        #expect(hs_trainer_init(m.storage + 4, m.planBase, bytes.count, m.arena.baseAddress, arena) == -2)
        #expect(hs_trainer_init(m.storage, m.planBase, bytes.count, m.arena.baseAddress! + 8, arena) == -2)
        #expect(m.lastError.contains("the arena is not"))
    }

    @Test("a NaN input, an input past fp16's range and a label outside the classes are refused before the step changes anything")
    func badStepInputsRefused() throws {
        let m = try ready()
        let before = parameterBytes(m)
        var inputs = [Float](repeating: 0.5, count: Self.batch * Self.features)
        let labels: [Int32] = [0, 1, 2, 3]
        inputs[7] = .nan
        #expect(hs_train_step(m.storage, inputs, labels, nil) == -7)
        #expect(m.lastError.contains("sample 1, feature 1"))
        inputs[7] = 70000
        #expect(hs_train_step(m.storage, inputs, labels, nil) == -8)
        inputs[7] = 0.5
        #expect(hs_train_step(m.storage, inputs, [0, 1, 4, 3], nil) == -6)
        #expect(m.lastError.contains("sample 2 has label 4, classes are 0 ..< 4"))
        #expect(hs_train_step(m.storage, inputs, [0, -1, 2, 3], nil) == -6)
        var halves = inputs.map { Float16($0).bitPattern }
        halves[3] = Float16.infinity.bitPattern
        #expect(hs_train_step_f16(m.storage, halves, labels, nil) == -8)
        var counters = HSCounters()
        #expect(hs_counters_get(m.storage, &counters) == 0)
        #expect(counters.steps == 0 && parameterBytes(m) == before)
    }

    @Test("calls on storage hs_trainer_init never set up, and NULL pointers, are refused, never trapped")
    func uninitialisedAndNullRefused() throws {
        let m = Memory(plan: [0], arenaBytes: 16)
        var counters = HSCounters()
        var outputs: [Float] = [0]
        #expect(hs_train_step(m.storage, [0], [0], nil) == -5)
        #expect(hs_predict(m.storage, [0], 1, &outputs) == -5)
        #expect(hs_counters_get(m.storage, &counters) == -5)
        #expect(hs_train_step(nil, nil, nil, nil) == -5)
        #expect(hs_trainer_init(nil, nil, 0, nil, 0) == -1)
        #expect(String(cString: hs_last_error(m.storage)).contains("not initialised"))
        let r = try ready()
        #expect(hs_train_step(r.storage, nil, [0], nil) == -1)
        #expect(hs_counters_get(r.storage, nil) == -1)
        var p = HSParameter()
        #expect(hs_parameter_get(r.storage, 99, &p) == -12)
    }

    @Test("every error code has its own sentence, and an unknown code says so")
    func errorMessages() {
        let codes: [Int32] = Array(-12 ... -1)
        let sentences = codes.map { String(cString: hs_error_message($0)) }
        #expect(Set(sentences).count == codes.count)
        #expect(String(cString: hs_error_message(-99)) == "unknown error")
        #expect(String(cString: hs_error_message(0)) == "no error")
    }

    // MARK: - Checkpoints through callbacks

    /// Flash in host memory behind halfstep.h's callbacks, with flash's rules.
    final class CallbackRegion {
        var bytes: [UInt8]
        init(_ count: Int) { bytes = [UInt8](repeating: 0xFF, count: count) }
        func flash(pageBytes: UInt32 = 256) -> HSFlash {
            HSFlash(context: Unmanaged.passUnretained(self).toOpaque(), pageBytes: pageBytes, regionBytes: UInt32(bytes.count),
                    erasePage: { c, offset in
                        let r = Unmanaged<CallbackRegion>.fromOpaque(c!).takeUnretainedValue()
                        for i in Int(offset) ..< Int(offset) + 256 { r.bytes[i] = 0xFF }
                        return 1
                    },
                    programWord: { c, offset, word in
                        let r = Unmanaged<CallbackRegion>.fromOpaque(c!).takeUnretainedValue()
                        for i in 0 ..< 4 { r.bytes[Int(offset) + i] &= UInt8(truncatingIfNeeded: word >> (8 * UInt32(i))) }
                        return 1
                    },
                    readWord: { c, offset in
                        let r = Unmanaged<CallbackRegion>.fromOpaque(c!).takeUnretainedValue()
                        return (0 ..< 4).reduce(UInt32(0)) { $0 | UInt32(r.bytes[Int(offset) + $1]) << (8 * UInt32($1)) }
                    })
        }
    }

    @Test("a checkpoint saved through the flash callbacks restores into a fresh trainer with the same weights and counters")
    func checkpointRoundTrip() throws {
        let data = syntheticData(count: 16, features: Self.features, classes: Self.classes, seed: 9)
        let a = try ready()
        for step in 0 ..< 5 {
            let (inputs, labels) = floats(data, batch: Self.batch, from: step * Self.batch)
            #expect(hs_train_step(a.storage, inputs, labels, nil) == 0)
        }
        let region = CallbackRegion(hs_checkpoint_region_bytes(a.storage, 256))
        var flash = region.flash()
        #expect(hs_checkpoint_save(a.storage, &flash) == 0)
        let b = try ready()
        #expect(parameterBytes(b) != parameterBytes(a))
        #expect(hs_checkpoint_restore(b.storage, &flash) == 0)
        #expect(parameterBytes(b) == parameterBytes(a))
        var ca = HSCounters(), cb = HSCounters()
        _ = hs_counters_get(a.storage, &ca)
        _ = hs_counters_get(b.storage, &cb)
        #expect(cb.steps == 5 && cb.steps == ca.steps && cb.lossScale == ca.lossScale && cb.nonzeroUpdates == ca.nonzeroUpdates)
    }

    @Test("restoring from an erased region is HS_E_NO_CHECKPOINT and leaves the trainer as it was")
    func restoreFromErasedRegion() throws {
        let m = try ready()
        let before = parameterBytes(m)
        let region = CallbackRegion(hs_checkpoint_region_bytes(m.storage, 256))
        var flash = region.flash()
        #expect(hs_checkpoint_restore(m.storage, &flash) == -11)
        #expect(parameterBytes(m) == before)
    }

    @Test("a region smaller than two checkpoint slots is refused with both sizes, before any flash is touched")
    func smallRegionRefused() throws {
        let m = try ready()
        let needed = hs_checkpoint_region_bytes(m.storage, 256)
        let region = CallbackRegion(needed - 256)
        var flash = region.flash()
        #expect(hs_checkpoint_save(m.storage, &flash) == -10)
        #expect(m.lastError.contains("the region has \(needed - 256) bytes, two checkpoint slots need \(needed)"))
        #expect(region.bytes.allSatisfy { $0 == 0xFF })
        flash.erasePage = nil
        #expect(hs_checkpoint_save(m.storage, &flash) == -10)
    }
}
