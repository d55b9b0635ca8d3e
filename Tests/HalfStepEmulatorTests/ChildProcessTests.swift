import Foundation
import Testing
import HalfStepEmulator

/// Running a command with a deadline (`ChildProcess`, what the QEMU runner builds and runs with):
/// output, exit status, and a stop that holds even when the command ignores SIGTERM.
struct ChildProcessTests {
    /// Whether `pid` is still a live process (a zombie, killed but not yet reaped, is not).
    func alive(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
        // Field 3 is the state; the command name before it is in parentheses and may hold spaces.
        guard let close = stat.lastIndex(of: ")") else { return false }
        return !stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }

    @Test("a command that finishes in time returns its exit status and its stdout and stderr together")
    func finishesInTime() throws {
        let r = try ChildProcess.run("/bin/sh", ["-c", "echo out; echo err >&2; exit 3"], timeoutSeconds: 30)
        #expect(r.status == 3 && !r.signalled && !r.timedOut && !r.killed)
        #expect(r.output == "out\nerr\n")
    }

    @Test("a command runs in the directory it is given")
    func runsInDirectory() throws {
        let r = try ChildProcess.run("/bin/pwd", [], directory: "/tmp", timeoutSeconds: 30)
        #expect(r.output == "/tmp\n")
    }

    @Test("a command that honours SIGTERM is stopped at the deadline without SIGKILL")
    func termIsEnough() throws {
        let start = Date()
        let r = try ChildProcess.run("/bin/sleep", ["60"], timeoutSeconds: 0.5, graceSeconds: 5)
        #expect(r.timedOut && !r.killed)
        #expect(r.signalled && r.status == SIGTERM)
        #expect(Date().timeIntervalSince(start) < 5, "SIGTERM should end sleep at once, not after the grace period")
    }

    @Test("a command that ignores SIGTERM, and its child, are killed within the timeout plus the grace period")
    func ignoredTermIsKilled() throws {
        let timeout = 1.0, grace = 1.0
        let start = Date()
        // The shell ignores TERM and so does the sleep it starts (an ignored signal stays ignored
        // across exec); the sleep's pid comes first on the output. If only the shell were killed,
        // the sleep would hold the output pipe open for a minute.
        let r = try ChildProcess.run("/bin/sh", ["-c", "trap '' TERM; sleep 60 & echo $!; wait"],
                                     timeoutSeconds: timeout, graceSeconds: grace)
        let elapsed = Date().timeIntervalSince(start)
        #expect(r.timedOut && r.killed)
        #expect(r.signalled && r.status == SIGKILL)
        // Scheduling slack on a shared machine: the kill itself lands at timeout + grace.
        #expect(elapsed < timeout + grace + 1.5, "took \(elapsed) s")
        let sleepPid = Int32(r.output.split(separator: "\n").first ?? "") ?? 0
        #expect(sleepPid > 1, "no pid in \(r.output)")
        // The pipe closed as the child died; give its exit a moment to finish before looking.
        let settle = Date().addingTimeInterval(1)
        while alive(sleepPid) && Date() < settle { usleep(10_000) }
        #expect(!alive(sleepPid), "the shell's child \(sleepPid) outlived the kill")
    }

    @Test("a command that closes its output and keeps running is stopped at the deadline all the same")
    func closedOutputStillStopped() throws {
        let start = Date()
        let r = try ChildProcess.run("/bin/sh", ["-c", "echo bye; exec >/dev/null 2>&1; trap '' TERM; sleep 60"],
                                     timeoutSeconds: 1, graceSeconds: 1)
        let elapsed = Date().timeIntervalSince(start)
        #expect(r.timedOut && r.killed && r.output == "bye\n")
        #expect(elapsed < 3.5, "took \(elapsed) s")
    }

    @Test("an executable that cannot be started is an error naming it")
    func missingExecutable() {
        do throws(ChildProcess.LaunchError) {
            _ = try ChildProcess.run("/nonexistent/halfstep-tool", [], timeoutSeconds: 5)
            Issue.record("a missing executable ran")
        } catch {
            guard case .cannotStart(let executable, _) = error else { Issue.record("\(error)"); return }
            #expect(executable == "/nonexistent/halfstep-tool")
            #expect(error.description.hasPrefix("cannot start /nonexistent/halfstep-tool: "))
        }
    }
}
