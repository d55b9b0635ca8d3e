import Foundation
import HalfStepCore
import HalfStepPlanner

struct EvalCommand: Command {
    let help = """
    usage: halfstep eval MODEL.onnx|PLAN.hsplan --inputs X.npy (--labels Y.npy | --targets T.npy) [options]

    Loss (and a classifier's accuracy) of an ONNX model or a plan on .npy data, computed by the
    HalfStep core: fp16 storage, fp32 accumulation (an ONNX model is planned for inference, nothing
    trains).

      --labels Y.npy            class indices, [N]: cross-entropy and accuracy
      --targets T.npy           float targets shaped like the output, [N, outputs]: a regression loss (an
                                autoencoder's: the inputs file itself)
      --loss NAME               for an ONNX model with --targets: mse (default) | l1 | huber[:DELTA]
                                (a plan uses its own)
      --per-sample-loss OUT.npy write each sample's loss, float32 [N] (an autoencoder's anomaly score)
      --batch N                 rows per forward pass for an ONNX model (default 64; a plan uses its own)
      --json                    one JSON object with loss, accuracy (classifiers) and samples
    """

    func run(_ argv: [String]) throws -> ExitCode {
        let a = try Arguments(argv, verb: "eval", valued: ["--inputs", "--labels", "--targets", "--loss", "--per-sample-loss", "--batch"], flags: ["--json"])
        let path = try a.positionals(1, "the model or plan file", verb: "eval")[0]
        let inputs = try a.required("--inputs", verb: "eval")
        let labels = a.value("--labels"), targets = a.value("--targets")
        if (labels == nil) == (targets == nil) {
            throw UsageError("give one of --labels Y.npy (a classifier) or --targets T.npy (a regression loss)", verb: "eval")
        }
        let batch = try a.int("--batch", in: 1 ... 65535, default: 64, verb: "eval")
        var loss = PlanOptions.Loss.crossEntropy
        if let l = a.value("--loss") {
            guard path.hasSuffix(".onnx") else { throw UsageError("--loss applies to an ONNX model; a plan evaluates its own loss", verb: "eval") }
            loss = try PlanOptions.parseLoss(l)
            if loss == .crossEntropy && targets != nil { throw UsageError("--loss cross-entropy takes --labels, not --targets", verb: "eval") }
            if loss != .crossEntropy && labels != nil { throw UsageError("--loss \(l) takes --targets, not --labels", verb: "eval") }
        } else if targets != nil {
            loss = .mse
        }
        let loaded = try loadForEval(path, batch: batch, loss: loss)
        let session = try makeSession(loaded)
        let data = try loadData(inputs: inputs, labels: labels, targets: targets, session: session, plan: path)
        let out = a.value("--per-sample-loss")
        let e = session.evaluate(data, perSampleLoss: out != nil)
        if let out {
            do { try NpyWriter.write(NpyArray(float32: e.perSampleLoss, shape: [e.samples]), to: out) } catch { throw Failure("\(error)") }
        }
        let kind = loaded.plan.config.lossKind ?? .crossEntropy
        if a.switches.contains("--json") {
            var fields = ["\"model\": \(jsonString(path))", "\"loss\": \(jsonNumber(e.loss))", "\"loss_kind\": \(jsonString(lossName(kind)))"]
            if !kind.isRegression { fields.append("\"accuracy\": \(jsonNumber(e.accuracy))") }
            fields.append("\"samples\": \(e.samples)")
            if let out { fields.append("\"per_sample_loss\": \(jsonString(out))") }
            Terminal.out("{" + fields.joined(separator: ", ") + "}")
        } else if kind.isRegression {
            Terminal.out("\(path): \(lossName(kind)) loss \(fmt(e.loss)) over \(e.samples) samples" + (out.map { "; per-sample losses in \($0)" } ?? ""))
        } else {
            Terminal.out("\(path): accuracy \(pct(e.accuracy)) (\(Int((e.accuracy * Double(e.samples)).rounded()))/\(e.samples)), loss \(fmt(e.loss))"
                         + (out.map { "; per-sample losses in \($0)" } ?? ""))
        }
        return .success
    }
}

/// A plan file as is, or an ONNX model planned for inference (nothing trains).
func loadForEval(_ path: String, batch: Int, loss: PlanOptions.Loss = .crossEntropy) throws -> LoadedPlan {
    if path.hasSuffix(".onnx") {
        let graph = try importModel(path)
        var options = PlanOptions()
        options.batch = batch
        options.train = .none
        options.loss = loss
        let result = try makePlan(graph, options, source: absolutePath(path))
        do { return try LoadedPlan(bytes: result.bytes, path: path) } catch { throw Failure(error.description) }
    }
    return try loadPlan(path)
}

func jsonString(_ s: String) -> String {
    let data = (try? JSONEncoder().encode(s)) ?? Data("\"\"".utf8)
    return String(decoding: data, as: UTF8.self)
}

/// A JSON number, or null for NaN and infinities (which JSON has no spelling for).
func jsonNumber(_ v: Double) -> String { v.isFinite ? "\(v)" : "null" }
