import Foundation
import HalfStepCore
import HalfStepPlanner

struct EvalCommand: Command {
    let help = """
    usage: halfstep eval MODEL.onnx|PLAN.hsplan --inputs X.npy --labels Y.npy [--batch N] [--json]

    Loss and accuracy of an ONNX model or a plan on .npy data, computed by the HalfStep core: fp16
    storage, fp32 accumulation (an ONNX model is planned for inference, nothing trains).

      --batch N     rows per forward pass for an ONNX model (default 64; a plan uses its own)
      --json        one JSON object with loss, accuracy and samples
    """

    func run(_ argv: [String]) throws -> ExitCode {
        let a = try Arguments(argv, verb: "eval", valued: ["--inputs", "--labels", "--batch"], flags: ["--json"])
        let path = try a.positionals(1, "the model or plan file", verb: "eval")[0]
        let inputs = try a.required("--inputs", verb: "eval"), labels = try a.required("--labels", verb: "eval")
        let batch = try a.int("--batch", in: 1 ... 65535, default: 64, verb: "eval")
        let loaded = try loadForEval(path, batch: batch)
        let session = try makeSession(loaded)
        let data = try loadData(inputs: inputs, labels: labels, session: session)
        let e = session.evaluate(data)
        if a.switches.contains("--json") {
            Terminal.out("{\"model\": \(jsonString(path)), \"loss\": \(e.loss), \"accuracy\": \(e.accuracy), \"samples\": \(e.samples)}")
        } else {
            Terminal.out("\(path): accuracy \(pct(e.accuracy)) (\(Int((e.accuracy * Double(e.samples)).rounded()))/\(e.samples)), loss \(fmt(e.loss))")
        }
        return .success
    }
}

/// A plan file as is, or an ONNX model planned for inference (nothing trains).
func loadForEval(_ path: String, batch: Int) throws -> LoadedPlan {
    if path.hasSuffix(".onnx") {
        let graph = try importModel(path)
        var options = PlanOptions()
        options.batch = batch
        options.train = .none
        let result = try makePlan(graph, options, source: absolutePath(path))
        do { return try LoadedPlan(bytes: result.bytes, path: path) } catch { throw Failure(error.description) }
    }
    return try loadPlan(path)
}

func jsonString(_ s: String) -> String {
    let data = (try? JSONEncoder().encode(s)) ?? Data("\"\"".utf8)
    return String(decoding: data, as: UTF8.self)
}
