import Foundation

/// Runs a command to completion or to a deadline, with its standard output and standard error
/// collected together: how the QEMU runner builds the firmware and runs QEMU.
///
/// At the deadline the command's whole process group is sent SIGTERM; whatever is still alive
/// `graceSeconds` later is sent SIGKILL. The group matters because the firmware build is a shell
/// script whose compilers and linkers are its children: stopping only the shell would leave them
/// running and holding the output pipe open, and the run would wait for them. Foundation's
/// `Process` spawns every child with `POSIX_SPAWN_SETPGROUP`, as the leader of a new process
/// group, so the group's id is the child's pid. SIGKILL matters because a hung QEMU (or anything
/// that ignores SIGTERM) would otherwise never stop. The child starts with no signal blocked,
/// whatever the calling thread blocks (`withNothingBlocked`).
///
/// Limits: a descendant that leaves the group (`setsid`, a daemon) is not signalled; if it keeps
/// the output pipe open, collection stops `graceSeconds` after the kill and its later output is lost.
public enum ChildProcess {
    /// How a command ended.
    public struct Finished: Sendable, Equatable {
        /// The exit status, or the signal number when `signalled` (as `Process.terminationStatus`).
        public var status: Int32
        /// The command ended on a signal rather than by exiting.
        public var signalled: Bool
        /// Standard output and standard error, interleaved as written (UTF-8, invalid bytes replaced).
        public var output: String
        /// The deadline passed and the command was stopped.
        public var timedOut: Bool
        /// The command outlived SIGTERM by the grace period and was sent SIGKILL.
        public var killed: Bool
    }

    /// Why a command could not be run at all.
    public enum LaunchError: Error, CustomStringConvertible {
        /// `Process.run()` refused (no such executable, not executable, ...).
        case cannotStart(executable: String, reason: String)

        public var description: String {
            switch self {
            case .cannotStart(let executable, let reason): return "cannot start \(executable): \(reason)"
            }
        }
    }

    /// Runs `executable` with `arguments` in `directory` (nil: this process's), standard input
    /// from /dev/null, and waits at most `timeoutSeconds` (then SIGTERM) plus `graceSeconds`
    /// (then SIGKILL) for it to finish and close its output.
    public static func run(_ executable: String, _ arguments: [String], directory: String? = nil,
                           timeoutSeconds: Double, graceSeconds: Double = 2) throws(LaunchError) -> Finished {
        let p = Process()
        if let directory { p.currentDirectoryURL = URL(fileURLWithPath: directory) }
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        p.standardInput = FileHandle.nullDevice
        // `run()` closes this process's copy of the pipe's write end, so the child's exit (and its
        // group's) is the pipe's end.
        do { try withNothingBlocked { try p.run() } } catch { throw .cannotStart(executable: executable, reason: "\(error)") }
        let collector = OutputCollector(fileDescriptor: pipe.fileHandleForReading.fileDescriptor)
        collector.start()

        // Finished means both: the output ended and the process exited (a command can close its
        // output and keep running), each by the one deadline.
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        let outputEnded = collector.done.wait(timeout: .now() + max(0, deadline.timeIntervalSinceNow)) == .success
        var timedOut = false, killed = false
        if !(outputEnded && waitForExit(p, until: deadline)) {
            timedOut = true
            signal(p, SIGTERM)
            if !waitForExit(p, until: Date().addingTimeInterval(graceSeconds)) {
                killed = true
                signal(p, SIGKILL)
            }
            // With the group gone the pipe reaches end of file; a descendant outside the group
            // could hold it open for ever, so stop reading after one more grace period.
            if !outputEnded && collector.done.wait(timeout: .now() + graceSeconds) == .timedOut {
                collector.stop()
                collector.done.wait()
            }
        }
        p.waitUntilExit()
        try? pipe.fileHandleForReading.close()
        return Finished(status: p.terminationStatus, signalled: p.terminationReason == .uncaughtSignal,
                        output: String(decoding: collector.data, as: UTF8.self), timedOut: timedOut, killed: killed)
    }

    /// Runs `body` with no signal blocked on this thread, so a child spawned in it starts with an
    /// empty signal mask: posix_spawn hands the caller's mask on, and libdispatch's worker threads
    /// (where Swift Testing and any queue-based caller run) block SIGTERM among others, which would
    /// leave SIGTERM pending in the child for ever.
    static func withNothingBlocked<T>(_ body: () throws -> T) rethrows -> T {
        var none = sigset_t(), previous = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        return try body()
    }

    /// Sends `sig` to `p`'s process group, and to `p` itself in case it is not a group leader.
    static func signal(_ p: Process, _ sig: Int32) {
        let pid = p.processIdentifier
        // pid 0 or 1 would make kill(-pid) signal this process's own group or every process.
        guard pid > 1 else { return }
        if getpgid(pid) == pid { _ = kill(-pid, sig) }
        _ = kill(pid, sig)
    }

    /// Polls until `p` has exited (Foundation reaps it) or `deadline` has passed; true if it exited.
    static func waitForExit(_ p: Process, until deadline: Date) -> Bool {
        while p.isRunning {
            if Date() >= deadline { return false }
            usleep(10_000)
        }
        return true
    }
}

/// Reads a pipe to its end on a thread of its own, so the caller can wait for it with a deadline
/// and abandon it (`stop`) without leaving a thread blocked in `read` for ever.
final class OutputCollector: @unchecked Sendable {
    let fileDescriptor: Int32
    /// Signalled once, when the pipe reached its end or `stop` was honoured.
    let done = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var collected = Data()
    private var stopRequested = false

    init(fileDescriptor: Int32) {
        self.fileDescriptor = fileDescriptor
    }

    /// What was read so far.
    var data: Data {
        lock.lock()
        defer { lock.unlock() }
        return collected
    }

    func start() {
        let thread = Thread { [self] in
            readToEnd()
            done.signal()
        }
        thread.start()
    }

    /// Makes the reader give up within one poll interval (100 ms).
    func stop() {
        lock.lock()
        stopRequested = true
        lock.unlock()
    }

    private var shouldStop: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopRequested
    }

    private func readToEnd() {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while !shouldStop {
            // Poll first so a `stop` is noticed even while the pipe stays silent and open.
            var descriptor = pollfd(fd: fileDescriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, 100)
            if ready == 0 || (ready < 0 && errno == EINTR) { continue }
            if ready < 0 { return }
            let n = buffer.withUnsafeMutableBytes { read(fileDescriptor, $0.baseAddress, $0.count) }
            if n > 0 {
                lock.lock()
                collected.append(contentsOf: buffer[0 ..< n])
                lock.unlock()
            } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                return
            }
        }
    }
}
