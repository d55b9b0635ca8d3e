import Foundation
import HalfStepCore
import HalfStepPlanner

// One libFuzzer entry for every parser; HALFSTEP_FUZZ_TARGET picks which one a run exercises:
// onnx (protobuf + ONNX reader + importer), npy, plan (the core's verifier, `inspect` and one
// training step), plan-raw (the same on the bytes as they come), profile, cli.
// Any error thrown is a correct answer; a crash, a hang or a sanitizer report is a finding.
//
// `plan` reseals the CRC of every input before loading it (`PlanFormat.seal`): almost every
// mutation libFuzzer makes would otherwise die at the checksum and never reach the section, tensor
// and op checks behind it. `plan-raw` keeps the input's own CRC, which fuzzes the header and
// checksum path itself (and what a plan damaged in transit looks like).
let target = ProcessInfo.processInfo.environment["HALFSTEP_FUZZ_TARGET"] ?? "onnx"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    switch target {
    case "onnx":
        if let model = try? ONNXReader.parse(bytes: bytes, path: "fuzz.onnx", baseDirectory: nil) {
            if let graph = try? ONNXImporter.importGraph(model) {
                var o = PlanOptions()
                o.batch = 2
                _ = try? Planner.plan(graph, options: o, source: "fuzz")
                _ = try? ONNXExporter.encode(original: model, updating: [:], graph: graph)
            }
        }
    case "npy":
        if let array = try? NpyReader.parse(bytes: bytes, path: "fuzz.npy") {
            _ = array.floats()
            _ = try? Dataset.make(array, inputsPath: "x", NpyArray(uint8: [UInt8](repeating: 0, count: array.shape.first ?? 0), shape: [array.shape.first ?? 0]),
                                  labelsPath: "y", expectedFeatures: nil, classes: 10)
        }
    case "plan", "plan-raw":
        var bytes = bytes
        if target == "plan" { bytes.withUnsafeMutableBytes { PlanFormat.seal($0) } }
        if let loaded = try? LoadedPlan(bytes: bytes, path: "fuzz.hsplan") {
            _ = PlanReport(loaded).text()
            if let session = try? TrainingSession(loaded), session.batch <= 64 {
                let features = session.features, batch = session.batch
                if features <= 4096 {
                    let data = Dataset(inputs: [Float16](repeating: 0.5, count: features * batch), labels: [Int32](repeating: 0, count: batch),
                                       count: batch, features: features)
                    session.step(data, samples: 0 ..< batch)
                }
            }
        }
    case "profile":
        _ = try? TargetProfile.parse(Data(bytes), path: "fuzz.json")
    case "cli":
        let text = String(decoding: bytes, as: UTF8.self)
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
        _ = try? Arguments(words, verb: "fuzz", valued: ["--batch", "--budget", "--train", "--update", "--loss-scale"], flags: ["--json"])
        for w in words {
            _ = try? PlanOptions.parseBudget(w)
            _ = try? PlanOptions.parseTrain(w)
            _ = try? PlanOptions.parseUpdateList(w)
            _ = try? PlanOptions.parseLossScale(w)
            _ = try? PlanOptions.parseBytes(w, flag: "--x")
        }
    default:
        fatalError("unknown HALFSTEP_FUZZ_TARGET \(target)")
    }
    return 0
}
