import Foundation
import Testing

/// `plan --fit` and `validate`, run as a user runs them.
///
/// The MobileNetV2 search pins the channel fraction at 1 (`--train-channels 1`), the same 108-plan
/// search as `PlanFitSearchTests.mobileNet`; the unpinned search is the issue's command (~1 min in
/// a release build). `halfstep` is the one `TestedCLI` finds (`HALFSTEP_CLI` may name
/// another).
struct FitCLITests {
    let cli = CLITests()
    static let mobileNet = CLITests.root + "/Tools/examples/mobilenetv2"
    static let digitsCNN = CLITests.root + "/Tools/examples/digits-cnn/model.onnx"

    /// What one `plan --fit` run left behind.
    struct FitRun {
        var plan: String
        var svg: String
        var csv: String
        var result: CLITests.Result
    }

    /// `plan MobileNetV2 --batch 1 --fit --budget sram=256KiB,flash=1MiB`, run once for the tests below.
    static let mobileNetFit = Result<FitRun, Error> {
        let cli = CLITests()
        let plan = cli.temporary("fit-mobilenet.hsplan"), svg = cli.temporary("fit-mobilenet-frontier.svg")
        let csv = (svg as NSString).deletingPathExtension + ".csv"
        for path in [plan, svg, csv] { try? FileManager.default.removeItem(atPath: path) }
        let r = try cli.run(["plan", mobileNet + "/model.onnx", "--batch", "1", "--fit", "--train-channels", "1",
                             "--budget", "sram=256KiB,flash=1MiB", "-o", plan, "--frontier", svg])
        return FitRun(plan: plan, svg: svg, csv: csv, result: r)
    }

    /// nrf52840's profile (256 KiB RAM, 1 MiB flash, Cortex-M4F at 64 MHz) with its stack moved to a
    /// region of its own and made roomy. An unoptimised `halfstep` needed ~4x a release
    /// build's stack (MobileNetV2 at batch 1: 27.7 KiB high-water against 6.6 KiB) and overflowed the
    /// part's 8 KiB.
    func part() throws -> String {
        let source = CLITests.root + "/Targets/profiles/nrf52840.json"
        var profile = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: source))) as? [String: Any])
        var sram = try #require(profile["sram"] as? [[String: Any]])
        #expect(sram.first?["bytes"] as? Int == 256 * 1024 && profile["flash_bytes"] as? Int == 1 << 20)
        sram.append(["name": "TEST-STACK", "bytes": 256 * 1024])
        profile["sram"] = sram
        profile["stack_region"] = "TEST-STACK"
        profile["stack_bytes"] = 256 * 1024
        let path = cli.temporary("nrf52840-roomy-stack.json")
        try JSONSerialization.data(withJSONObject: profile).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The fields of one CSV line; a quoted field may hold commas.
    static func csvFields(_ line: String) -> [String] {
        var fields: [String] = [], field = "", quoted = false
        for ch in line {
            if ch == "\"" { quoted.toggle() } else if ch == "," && !quoted { fields.append(field); field = "" } else { field.append(ch) }
        }
        return fields + [field]
    }

    /// The integer following `prefix` in `text` (skipping spaces), if any.
    func integer(after prefix: String, in text: String) -> Int? {
        guard let range = text.range(of: prefix) else { return nil }
        return Int(text[range.upperBound...].drop { $0 == " " }.prefix { $0.isNumber })
    }

    @Test("plan --fit on MobileNetV2 at batch 1 under sram=256KiB,flash=1MiB exits 0, says what it chose and why, and writes the plan, the SVG frontier and its CSV")
    func fitWritesPlanAndFrontier() throws {
        let run = try Self.mobileNetFit.get()
        #expect(run.result.status == 0, "\(run.result.err)")
        let out = run.result.out
        print(out)
        #expect(out.contains("fit           chose --train "), "\(out)")
        let measured = try #require(integer(after: "measured", in: out), "\(out)")
        #expect(measured >= 108 && out.contains("ranked by parameters, master, momentum") && out.contains("training more"))
        let chosen = try #require(integer(after: "parameter elements in", in: out), "\(out)")
        let arena = try #require(integer(after: "SRAM arena", in: out), "\(out)")
        #expect(chosen == arena && arena <= 256 * 1024)
        #expect(run.result.err.contains("fit: wrote \(run.svg) and \(run.csv)"), "\(run.result.err)")
        let plan = try Data(contentsOf: URL(fileURLWithPath: run.plan))
        #expect(plan.starts(with: Data("HSPL".utf8)) && plan.count <= 1 << 20)
        let svg = try String(contentsOfFile: run.svg, encoding: .utf8)
        #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>\n") && svg.contains("chosen: --train"))
        let rows = try String(contentsOfFile: run.csv, encoding: .utf8).split(separator: "\n").map { Self.csvFields(String($0)) }
        let header = try #require(rows.first)
        #expect(rows.count == 1 + measured)
        let chosenRows = rows.dropFirst().filter { $0.last == "true" }
        #expect(chosenRows.count == 1)
        let arenaColumn = try #require(header.firstIndex(of: "arena_bytes"))
        #expect(chosenRows.first?[arenaColumn] == "\(arena)")
    }

    @Test("the plan --fit chose passes validate on a 256 KiB nRF52840 over 2 steps of the MobileNetV2 batch, using exactly the SRAM plan reported")
    func fitPlanValidates() throws {
        let run = try Self.mobileNetFit.get()
        try #require(run.result.status == 0, "\(run.result.err)")
        let reported = try #require(integer(after: "SRAM arena", in: run.result.out))
        let r = try cli.run(["validate", run.plan, "--target", try part(), "--inputs", Self.mobileNet + "/batch-x.npy",
                             "--labels", Self.mobileNet + "/batch-y.npy", "--steps", "2", "--json"])
        #expect(r.status == 0, "\(r.out)\(r.err)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any], "\(r.out)\(r.err)")
        let sram = try #require((report["limits"] as? [[String: Any]])?.first)
        print("validate: \(report["summary"] ?? "-"); SRAM limit \(sram)")
        #expect(report["verdict"] as? String == "pass")
        #expect(report["steps"] as? Int == 2)
        #expect(sram["budget"] as? Int == 256 * 1024)
        #expect(sram["used"] as? Int == reported && report["arena_bytes"] as? Int == reported)
    }

    @Test("plan --fit with a budget nothing fits exits 1 naming the smallest budget that would, and that budget then fits")
    func impossibleBudgetNamesTheSmallest() throws {
        let model = Self.digitsCNN
        let r = try cli.run(["plan", model, "--batch", "8", "--fit", "--budget", "sram=1KiB,flash=1MiB", "-o", cli.temporary("fit-none.hsplan")])
        #expect(r.status == 1)
        #expect(r.err.contains("no plan fits sram=1.0 KiB,flash=1.00 MiB") && r.err.contains("raise the budget"), "\(r.err)")
        let sram = try #require(integer(after: "needs sram=", in: r.err), "\(r.err)")
        let flash = try #require(integer(after: "flash=", in: String(r.err[r.err.range(of: "needs sram=")!.upperBound...])), "\(r.err)")
        print("smallest named: sram=\(sram) B, flash=\(flash) B")
        #expect(sram > 1024)
        let fits = try cli.run(["plan", model, "--batch", "8", "--fit", "--budget", "sram=\(sram),flash=1MiB", "-o", cli.temporary("fit-smallest.hsplan")])
        // It fits at that budget (the search may then find a plan training more within it).
        #expect(fits.status == 0 && (integer(after: "SRAM arena", in: fits.out) ?? .max) <= sram, "\(fits.out)\(fits.err)")
        let under = try cli.run(["plan", model, "--batch", "8", "--fit", "--budget", "sram=\(sram - 1),flash=1MiB", "-o", cli.temporary("fit-under.hsplan")])
        #expect(under.status == 1, "one byte less fits nothing")
    }
}
