import Foundation
import HalfStepCore
import HalfStepEmulator
import HalfStepPlanner

/// `halfstep package`: a plan and the trainer as a C library for a user's own firmware.
struct PackageCommand: Command {
    let help = """
    usage: halfstep package PLAN.hsplan --target PART -o DIR

    Writes what a C firmware needs to train PLAN on PART:
      DIR/include/halfstep.h   the C API, documented (units, alignment, ownership)
      DIR/lib/libhalfstep.a    the trainer and the C API for PART's CPU (Embedded Swift, -no-allocations,
                               hard-float); needs only memcpy, memset and memmove from the C library
      DIR/plan/plan.c, plan.h  the plan's bytes as `const uint8_t hs_plan[]` (16-byte aligned, section
                               .hs_plan) and `const size_t hs_plan_bytes`
      DIR/README.md            gcc and clang flags, memory needed (arena, stack, flash), the API in brief
    Links with arm-none-eabi-gcc as with clang. Targets/examples/c-firmware is a complete example.

    options:
      --target NAME|FILE  the part (`halfstep targets`); its core picks the library's CPU
                          (cortex-m4f, cortex-m7, cortex-m33, cortex-m55)
      -o, --output DIR    where to write the package (created; existing files are replaced)
    """

    /// Cores the library builds for, with the CPU name Targets/embedded-flags.env uses and the
    /// compiler flags a user's build must match (the float ABI above all).
    static let cpus: [TargetProfile.Core: (cpu: String, gcc: String)] = [
        .cortexM4F: ("m4f", "-mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard"),
        .cortexM7: ("m7", "-mcpu=cortex-m7 -mthumb -mfpu=fpv5-d16 -mfloat-abi=hard"),
        .cortexM33: ("m33", "-mcpu=cortex-m33 -mthumb -mfpu=fpv5-sp-d16 -mfloat-abi=hard"),
        .cortexM55: ("m55", "-mcpu=cortex-m55 -mthumb -mfloat-abi=hard"),
    ]

    func run(_ argv: [String]) throws -> ExitCode {
        let a = try Arguments(argv, verb: "package", valued: ["--target", "-o", "--output"], flags: [])
        let planPath = try a.positionals(1, "PLAN.hsplan", verb: "package")[0]
        guard let targetName = a.value("--target") else {
            throw UsageError("--target PART is required (`halfstep targets` lists the parts)", verb: "package")
        }
        guard let out = a.value("-o") ?? a.value("--output") else {
            throw UsageError("-o DIR is required", verb: "package")
        }
        let loaded = try loadPlan(planPath)
        let profile: TargetProfile
        do { profile = try TargetProfile.resolve(targetName) } catch { throw Failure(error.description) }
        guard let cpu = Self.cpus[profile.core] else {
            let supported = Self.cpus.keys.map(\.rawValue).sorted().joined(separator: ", ")
            throw Failure("\(profile.name) is a \(profile.core.rawValue); the library builds for \(supported)",
                          hint: "package for a part with one of those cores (`halfstep targets`)")
        }
        let bytes = [UInt8](loaded.plan.bytes)
        if bytes.count > profile.flashBytes {
            throw Failure("\(planPath) is \(bytes.count) bytes, more than \(profile.name)'s \(profile.flashBytes) bytes of flash",
                          hint: "plan again with --target \(profile.name)")
        }
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: out + "/plan", withIntermediateDirectories: true)
        } catch {
            throw Failure("cannot create \(out)/plan: \(error.localizedDescription)")
        }

        Terminal.err("building libhalfstep.a for \(profile.core.rawValue) (Embedded Swift; a first build takes about a minute)...")
        let script = QEMURunner.targetsDirectory + "/package/build-package.sh"
        let build: ChildProcess.Finished
        do {
            build = try ChildProcess.run("/bin/bash", [script, cpu.cpu, out], timeoutSeconds: 900)
        } catch {
            throw Failure("cannot run \(script): \(error)")
        }
        guard build.status == 0 && !build.timedOut else {
            throw Failure("building the library failed (\(script)):\n\(build.output)",
                          hint: "the Swift toolchain's swiftc, clang and llvm-ar must be on PATH")
        }
        var members: [(name: String, text: Int, data: Int, bss: Int)] = []
        for line in build.output.split(separator: "\n") {
            let w = line.split(separator: " ")
            if w.count == 4, w[0].hasSuffix(".o"), let t = Int(w[1]), let d = Int(w[2]), let b = Int(w[3]) {
                members.append((String(w[0]), t, d, b))
            }
        }
        let libraryText = members.reduce(0) { $0 + $1.text }

        Terminal.err("measuring the trainer's stack on the host emulation...")
        let features = Int(loaded.plan.config.inputFeatures), batch = loaded.plan.config.stepBatch
        let regression = loaded.plan.config.lossKind?.isRegression ?? false
        let stack: Int?
        do {
            let r = try Emulator.run(planBytes: bytes, planPath: planPath, stackBytes: max(profile.stackBytes, 64 * 1024),
                                     inputs: [Float16](repeating: 0, count: features * batch),
                                     labels: [Int32](repeating: 0, count: batch),
                                     targets: [Float16](repeating: 0, count: regression ? batch * Int(loaded.plan.config.classes) : 0),
                                     steps: 1, json: false)
            stack = r.stackHighWaterBytes
        } catch {
            stack = nil
        }

        try write(planC(bytes), to: out + "/plan/plan.c")
        try write(planH(bytes, arena: loaded.plan.arenaBytes, crc: loaded.plan.header.crc, path: planPath), to: out + "/plan/plan.h")
        try write(readme(loaded: loaded, planPath: planPath, profile: profile, gcc: cpu.gcc, libraryText: libraryText,
                         stack: stack), to: out + "/README.md")

        Terminal.out("packaged \(planPath) for \(profile.name) (\(profile.core.rawValue)) -> \(out)")
        Terminal.out("  include/halfstep.h    the C API")
        Terminal.out("  lib/libhalfstep.a     \(formatBytes(libraryText)) of code and constants before --gc-sections" +
                     " (\(members.map { "\($0.name) \($0.text)" }.joined(separator: ", ")))")
        Terminal.out("  plan/plan.c, plan.h   \(bytes.count) bytes of plan (flash)")
        Terminal.out("  README.md             flags, memory, the API in brief")
        Terminal.out("  arena                 \(loaded.plan.arenaBytes) B SRAM, 16-byte aligned; trainer storage hs_trainer_bytes() B (at most 1024)")
        if let stack { Terminal.out("  stack                 \(stack) B at most (host emulation, an upper bound; `halfstep validate --qemu` measures the device)") }
        return .success
    }

    func write(_ text: String, to path: String) throws {
        do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw Failure("cannot write \(path): \(error.localizedDescription)")
        }
    }

    /// plan.c: the plan as a C array in its own section, 16-byte aligned.
    func planC(_ bytes: [UInt8]) -> String {
        var s = """
        /* A HalfStep continuation plan, written by `halfstep package`. Do not edit: plan again and
         * package again. 16-byte aligned, as hs_trainer_init requires; in section .hs_plan so a linker
         * script can place it (KEEP(*(.hs_plan)) in flash); otherwise it goes with .rodata's neighbours. */
        #include "plan.h"

        __attribute__((aligned(16), section(".hs_plan"), used))
        const uint8_t hs_plan[HS_PLAN_BYTES] = {

        """
        s.reserveCapacity(bytes.count * 6 + 512)
        var i = 0
        while i < bytes.count {
            let line = bytes[i ..< min(i + 16, bytes.count)].map { "0x" + String($0, radix: 16).leftPadded(2) }.joined(separator: ",")
            s += "    " + line + ",\n"
            i += 16
        }
        s += "};\n\nconst size_t hs_plan_bytes = HS_PLAN_BYTES;\n"
        return s
    }

    func planH(_ bytes: [UInt8], arena: Int, crc: UInt32, path: String) -> String {
        """
        /* The packaged plan (from \((path as NSString).lastPathComponent), CRC 0x\(String(crc, radix: 16))), written by `halfstep package`. */
        #ifndef HALFSTEP_PLAN_H
        #define HALFSTEP_PLAN_H
        #include <stddef.h>
        #include <stdint.h>

        /* The plan's size in bytes, and the SRAM arena it needs (hs_plan_arena_bytes says the same at run time). */
        #define HS_PLAN_BYTES \(bytes.count)u
        #define HS_PLAN_ARENA_BYTES \(arena)u

        #ifdef __cplusplus
        extern "C" {
        #endif
        extern const uint8_t hs_plan[HS_PLAN_BYTES];
        extern const size_t hs_plan_bytes;
        #ifdef __cplusplus
        }
        #endif
        #endif

        """
    }

    func readme(loaded: LoadedPlan, planPath: String, profile: TargetProfile, gcc: String, libraryText: Int, stack: Int?) -> String {
        let c = loaded.plan.config
        // A regression plan (--loss mse|l1|huber) steps with float targets shaped like the output.
        let stepLine = (c.lossKind ?? .crossEntropy).isRegression
            ? "hs_train_step_targets(t, inputs, targets, &report);   /* \(c.stepBatch) samples x \(c.inputFeatures) floats, \(c.stepBatch) x \(c.classes) target floats */"
            : "hs_train_step(t, inputs, labels, &report);   /* \(c.stepBatch) samples x \(c.inputFeatures) floats, \(c.stepBatch) labels in 0..\(max(Int(c.classes) - 1, 0)) */"
        let stackLine = stack.map { "- **Stack**: \($0) bytes at most for a training step (measured on the host emulation, an upper bound; `halfstep validate \(planPath) --qemu --target \(profile.name) ...` measures the device)." }
            ?? "- **Stack**: measure it with `halfstep validate \(planPath) --qemu --target \(profile.name) ...`."
        return """
        # HalfStep package: \((planPath as NSString).lastPathComponent) for \(profile.name) (\(profile.core.rawValue))

        Written by `halfstep package`. Only the QEMU path (Targets/examples/c-firmware on `mps2-an386`) is
        tested by HalfStep; see HalfStep's docs/porting.md for STM32CubeIDE, Zephyr, the Pico SDK and Arduino.

        ## Files
        - `include/halfstep.h`: the C API, documented in the header.
        - `lib/libhalfstep.a`: the trainer and the C API, Embedded Swift without heap allocation, for \(profile.core.rawValue), hard-float.
        - `plan/plan.c`, `plan/plan.h`: the plan, `const uint8_t hs_plan[]` (16-byte aligned, section `.hs_plan`) and `const size_t hs_plan_bytes`.

        ## Build flags
        gcc (`arm-none-eabi-gcc`):

            arm-none-eabi-gcc \(gcc) -Os -Iinclude -Iplan -c your_code.c plan/plan.c
            arm-none-eabi-gcc \(gcc) -T your.ld -Wl,--gc-sections your_code.o plan.o lib/libhalfstep.a -o firmware.elf

        clang:

            clang --target=thumbv7em-none-eabi \(gcc.replacingOccurrences(of: " -mthumb", with: "")) -Os -Iinclude -Iplan -c your_code.c plan/plan.c
            ld.lld -T your.ld --gc-sections your_code.o plan.o lib/libhalfstep.a -o firmware.elf   (plus your C library for memcpy/memset/memmove)

        The float ABI must be hard (`-mfloat-abi=hard`): the library passes floats in FPU registers.
        `--gc-sections` keeps only what your firmware calls.

        ## Memory
        - **Arena (SRAM)**: \(loaded.plan.arenaBytes) bytes, 16-byte aligned (`HS_PLAN_ARENA_BYTES` in plan.h).
        - **Trainer storage (SRAM)**: `hs_trainer_bytes()` bytes, 8-byte aligned; `HS_TRAINER_MAX_BYTES` (1024) always suffices.
        \(stackLine)
        - **Flash**: the plan, \(loaded.plan.bytes.count) bytes, and the library's code: at most \(libraryText) bytes before `--gc-sections`, less after.
        - **Checkpoints (flash)**: `hs_checkpoint_region_bytes(t, page_bytes)`: two slots of the training state.

        ## What the library needs from the C library
        `memcpy`, `memset` and `memmove` only (newlib, newlib-nano, picolibc or your own). It calls no
        `malloc`, no `printf`, no file I/O. It brings weak definitions of the ARM run-time helpers
        `__aeabi_memcpy`/`__aeabi_memset`/... and of `sqrtf` (one `vsqrt.f32`); a C library's own
        definitions take precedence.

        ## The API in five lines
            static uint64_t storage[HS_TRAINER_MAX_BYTES / 8]; static uint8_t arena[HS_PLAN_ARENA_BYTES] __attribute__((aligned(16)));
            hs_trainer *t = (hs_trainer *)storage;
            if (hs_trainer_init(t, hs_plan, hs_plan_bytes, arena, sizeof arena) != 0) puts(hs_last_error(t));
            \(stepLine)
            hs_predict(t, inputs, rows, outputs);          /* rows <= \(c.batch); outputs: rows x \(c.classes) floats */

        Checkpoints: `hs_checkpoint_save(t, &flash)` / `hs_checkpoint_restore(t, &flash)` with your flash
        driver's erase/program/read in an `hs_flash`. Get the adapted model back on the host with
        `halfstep export \((planPath as NSString).lastPathComponent) --checkpoint REGION.bin -o adapted.onnx`
        from the region's bytes as read out of flash.

        """
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
