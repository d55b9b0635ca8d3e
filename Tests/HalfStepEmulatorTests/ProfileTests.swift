import Foundation
import Testing
@testable import HalfStepEmulator

struct ProfileTests {
    let good = """
    {"name": "board", "core": "cortex-m4f", "clock_hz": 64000000, "sram": [{"name": "RAM", "bytes": 65536}],
     "flash_bytes": 262144, "stack_bytes": 4096, "fpu": "f32-f16-conversion", "source": "test"}
    """

    func parse(_ text: String) throws(ProfileError) -> TargetProfile {
        try TargetProfile.parse(Data(text.utf8), path: "board.json")
    }

    func error(_ text: String) -> String? {
        do { _ = try parse(text); return nil } catch { return error.description }
    }

    @Test("every bundled profile parses, names its source, and puts the arena in one of its regions")
    func bundledProfilesParse() throws {
        let profiles = try TargetProfile.bundled()
        let names = Set(profiles.map(\.name))
        for required in ["nrf52840", "stm32f446re", "stm32h743", "rp2040", "stm32u585", "mps2-an386", "mps2-an500"] {
            #expect(names.contains(required), "missing \(required)")
        }
        for p in profiles {
            #expect(!p.source.isEmpty && p.arenaRegionBytes > 0 && p.sramBudget(reserving: 0) > 0, "\(p.name)")
        }
        #expect(try TargetProfile.resolve("stm32h743").sram.count >= 6)
    }

    @Test("a well-formed profile yields its budgets: the arena region less a shared stack and the reserve")
    func budgets() throws {
        let p = try parse(good)
        #expect(p.sramBudget(reserving: 1024) == 65536 - 4096 - 1024)
        #expect(p.flashBudget(reserving: 4096) == 262144 - 4096)
    }

    @Test("a missing field is named")
    func missingField() {
        #expect(error(good.replacingOccurrences(of: "\"clock_hz\": 64000000,", with: "")) == "board.json: field \"clock_hz\" is missing")
    }

    @Test("a field of the wrong type or value is named with what was expected and found")
    func badFields() {
        #expect(error(good.replacingOccurrences(of: "64000000", with: "\"fast\""))?.contains("field \"clock_hz\" is \"fast\"; expected a positive integer") == true)
        #expect(error(good.replacingOccurrences(of: "\"cortex-m4f\"", with: "\"cortex-a53\""))?.contains("field \"core\" is \"cortex-a53\"; expected one of cortex-m0plus") == true)
        #expect(error(good.replacingOccurrences(of: "\"f32-f16-conversion\"", with: "\"yes\""))?.contains("field \"fpu\"") == true)
        #expect(error(good.replacingOccurrences(of: "\"bytes\": 65536", with: "\"bytes\": -5"))?.contains("sram[0].bytes") == true)
        #expect(error(good.replacingOccurrences(of: "\"stack_bytes\": 4096", with: "\"stack_bytes\": true"))?.contains("stack_bytes\" is true") == true)
        #expect(error(good.replacingOccurrences(of: "}", with: ", \"arena_region\": \"DTCM\"}"))?.contains("arena_region") == true)
    }

    @Test("text that is not JSON, or not an object, is refused naming the file")
    func notJSON() {
        #expect(error("{name: board")?.hasPrefix("board.json: not valid JSON") == true)
        #expect(error("[1, 2]") == "board.json: not valid JSON: the top level is not an object")
    }

    @Test("an unknown target name lists the bundled ones")
    func unknownTarget() {
        do {
            _ = try TargetProfile.resolve("esp32")
            Issue.record("esp32 resolved")
        } catch {
            #expect(error.description.contains("no bundled target 'esp32'") && error.description.contains("nrf52840"))
        }
    }
}
