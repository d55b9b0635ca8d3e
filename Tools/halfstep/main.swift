import Foundation

/// `halfstep`: plan, run and inspect fp16 continuation training of pretrained models.
let usage = """
halfstep — continue training pretrained fp32 models in fp16, within a microcontroller's memory

usage: halfstep <command> [arguments]

commands:
  plan MODEL.onnx -o OUT.hsplan [options]   compile a model into a continuation plan that fits a budget
  inspect PLAN.hsplan [--json]              show a plan's tensors, step program, config and memory
  train PLAN.hsplan --inputs X --labels Y   run the plan on the host core (same code as the device)
  eval MODEL.onnx|PLAN.hsplan --inputs X --labels Y
                                            loss and accuracy of a model or plan on .npy data
  targets [--json]                          the bundled microcontroller profiles
  validate PLAN.hsplan --target NAME --inputs X --labels Y
                                            prove on Linux that a plan keeps to a part's SRAM, flash, stack and heap limits
  package PLAN.hsplan --target PART -o DIR  the trainer as a C library and the plan as C source, for your firmware
  export PLAN.hsplan --checkpoint REGION.bin -o ADAPTED.onnx
                                            a device's checkpoint (read out of its flash) as the adapted ONNX model
  bench [--json]                            speed and memory beside PyTorch, instructions per MAC on QEMU
  study [--out docs]                        accuracy of every fp16 update mode and loss scaling, with plots
  demo                                      plan, inspect, train, export, eval and validate the bundled digits example

Run `halfstep <command> --help` for a command's options.
"""

var args = Array(CommandLine.arguments.dropFirst())
guard let verb = args.first else {
    Terminal.err(usage)
    exit(ExitCode.usage.rawValue)
}
args.removeFirst()

let commands: [String: Command] = [
    "plan": PlanCommand(),
    "inspect": InspectCommand(),
    "train": TrainCommand(),
    "eval": EvalCommand(),
    "demo": DemoCommand(),
    "targets": TargetsCommand(),
    "validate": ValidateCommand(),
    "bench": BenchCommand(),
    "package": PackageCommand(),
    "export": ExportCommand(),
    "study": StudyCommand(),
]

if verb == "--help" || verb == "-h" || verb == "help" {
    if let name = args.first, let command = commands[name] { Terminal.out(command.help) } else { Terminal.out(usage) }
    exit(ExitCode.success.rawValue)
}
guard let command = commands[verb] else {
    let hint = nearest(verb, in: commands.keys.sorted()).map { " (did you mean '\($0)'?)" } ?? ""
    Terminal.err("halfstep: unknown command '\(verb)'\(hint)\n\n" + usage)
    exit(ExitCode.usage.rawValue)
}
if args.contains("--help") || args.contains("-h") {
    Terminal.out(command.help)
    exit(ExitCode.success.rawValue)
}
exit(run(command, args, verb: verb).rawValue)

/// One verb of the CLI.
protocol Command {
    var help: String { get }
    func run(_ args: [String]) throws -> ExitCode
}

func run(_ command: Command, _ args: [String], verb: String) -> ExitCode {
    do {
        return try command.run(args)
    } catch let e as UsageError {
        Terminal.err("halfstep \(e.verb): \(e.message)\nRun `halfstep \(e.verb) --help` for usage.")
        return .usage
    } catch let e as Failure {
        Terminal.err("halfstep \(verb): error: \(e.message)")
        if let hint = e.hint { Terminal.err("hint: \(hint)") }
        return .failure
    } catch {
        Terminal.err("halfstep \(verb): error: \(error)")
        return .failure
    }
}
