#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Runs stage commands on this machine: `/bin/sh -c CMD` in the stage's working directory, each in
/// its own process group (so a signal reaches the whole command tree), output streamed to the
/// sink and saved to the stage's log (`StageLog`).
///
/// Concurrency: any number of `run` calls may proceed at once (the scheduler bounds them by
/// `-j`); `running` maps live process-group ids and is guarded by its own mutex.
public final class LocalExecutor: Executor, @unchecked Sendable {
    private let sink: OutputSink
    private let running = Protected<Set<pid_t>>([])
    private let cancelled = Protected<Bool>(false)
    /// When the commands of a cancelled run are killed outright (the end of the grace period).
    private let graceDeadline = Protected<Date?>(nil)
    static let gracePeriod: TimeInterval = 5

    public init(sink: OutputSink) { self.sink = sink }

    public func cancelAll(signal: Int32) {
        cancelled.withLock { $0 = true }
        graceDeadline.withLock { $0 = $0 ?? Date().addingTimeInterval(Self.gracePeriod) }
        let groups = running.snapshot
        for pgid in groups { kill(-pgid, signal) }
        // Commands that ignore the signal are killed after a grace period.
        DispatchQueue.global().asyncAfter(deadline: .now() + Self.gracePeriod) { [running] in
            for pgid in running.snapshot { kill(-pgid, SIGKILL) }
        }
    }

    public func run(_ job: StageJob) -> ExecutionResult {
        let started = Date()
        let fs = LocalFileSystem()
        try? fs.createDirectory((job.logPath as NSString).deletingLastPathComponent)
        var log = StageLog(path: job.logPath)
        defer { log.close() }
        var tail = TailBuffer(limit: 20)
        let deadline = job.timeout.map { started.addingTimeInterval($0) }
        var timedOut = false
        for (i, command) in job.commands.enumerated() {
            if cancelled.snapshot {
                log.keep()
                return ExecutionResult(exitCode: 130, signal: SIGINT, failedCommand: i, stderrTail: ["interrupted"],
                                       started: started, finished: Date())
            }
            log.header(command)
            let (status, signal) = spawn(command, job: job, log: &log, tail: &tail, deadline: deadline, timedOut: &timedOut)
            if status != 0 || signal != nil || timedOut {
                log.keep()
                var result = ExecutionResult(exitCode: status, signal: signal, failedCommand: i, stderrTail: tail.all,
                                             started: started, finished: Date())
                result.timedOut = timedOut
                return result
            }
        }
        return ExecutionResult(exitCode: 0, signal: nil, failedCommand: nil, stderrTail: tail.all,
                               started: started, finished: Date())
    }

    /// Spawns one command and pumps its output until it exits. Returns (exit status, signal).
    private func spawn(_ command: String, job: StageJob, log: inout StageLog, tail: inout TailBuffer,
                       deadline: Date?, timedOut: inout Bool) -> (Int32, Int32?) {
        var outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        guard pipe(&outPipe) == 0, pipe(&errPipe) == 0 else { return (127, nil) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        for fd in [outPipe[0], outPipe[1], errPipe[0], errPipe[1]] { posix_spawn_file_actions_addclose(&actions, fd) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGINT, SIGTERM, SIGPIPE, SIGQUIT, SIGXFSZ] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        var env = ProcessInfo.processInfo.environment
        for (k, v) in job.environment { env[k] = v }
        let envStrings = env.map { "\($0.key)=\($0.value)" }
        // The shell enters the working directory itself (glibc's addchdir_np is not visible to Swift);
        // `shift` leaves the command no positional parameters, as with a plain `sh -c`.
        let argv = ["/bin/sh", "-c", "cd -- \"$1\" || exit 127; shift\n" + command, "sh", job.workingDirectory]
        var pid: pid_t = 0
        let rc = withCStrings(argv) { cArgv in
            withCStrings(envStrings) { cEnv in
                posix_spawn(&pid, "/bin/sh", &actions, &attributes, cArgv, cEnv)
            }
        }
        close(outPipe[1])
        close(errPipe[1])
        guard rc == 0 else {
            close(outPipe[0])
            close(errPipe[0])
            tail.append("cannot start /bin/sh: \(String(cString: strerror(rc)))")
            return (127, nil)
        }
        running.withLock { _ = $0.insert(pid) }
        defer { running.withLock { _ = $0.remove(pid) } }

        // Pump both pipes until both close.
        var fds = [pollfd(fd: outPipe[0], events: Int16(POLLIN), revents: 0),
                   pollfd(fd: errPipe[0], events: Int16(POLLIN), revents: 0)]
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)
        defer { buffer.deallocate() }
        // The stage's timeout: TERM the process group at the deadline, KILL it 3 s later.
        var killAt: Date?
        func enforceDeadline() -> Int32 {
            guard let deadline else { return -1 }
            let now = Date()
            if now >= deadline && !timedOut {
                timedOut = true
                kill(-pid, SIGTERM)
                killAt = now.addingTimeInterval(3)
            }
            if let k = killAt, now >= k {
                kill(-pid, SIGKILL)
                killAt = nil
            }
            let next = killAt ?? (timedOut ? now.addingTimeInterval(0.05) : deadline)
            return Int32(max(10, min(1000, next.timeIntervalSince(now) * 1000)))
        }
        var open = 2
        while open > 0 {
            let n = poll(&fds, 2, enforceDeadline())
            if n < 0 { if errno == EINTR { continue } else { break } }
            for i in 0 ..< 2 where fds[i].fd >= 0 && fds[i].revents != 0 {
                let count = read(fds[i].fd, buffer.baseAddress, buffer.count)
                if count <= 0 {
                    if count < 0 && errno == EINTR { continue }
                    close(fds[i].fd)
                    fds[i].fd = -1
                    open -= 1
                    continue
                }
                let chunk = UnsafeRawBufferPointer(rebasing: buffer[0 ..< count])
                log.output(chunk)
                sink.write(stage: job.stage, chunk, toStderr: i == 1)
                if i == 1 { tail.append(chunk) }
            }
        }
        var status: Int32 = 0
        if deadline == nil {
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        } else {
            // The command may have closed its output and still run: keep enforcing the deadline.
            while true {
                let r = waitpid(pid, &status, WNOHANG)
                if r == pid || (r < 0 && errno != EINTR) { break }
                usleep(UInt32(min(enforceDeadline(), 50)) * 1000)
            }
        }
        if cancelled.snapshot { stopGroup(pid) }
        let exited = (status & 0x7f) == 0
        if exited { return ((status >> 8) & 0xff, nil) }
        return (128 + (status & 0x7f), status & 0x7f)
    }
}

extension LocalExecutor {
    /// After an interruption, processes of a stage's group can outlive its shell (a background child
    /// that ignores the signal and does not hold the output pipes). They get what is left of the grace
    /// period, then SIGKILL: nothing an interrupted stage started keeps running after crx exits.
    private func stopGroup(_ pgid: pid_t) {
        let deadline = graceDeadline.snapshot ?? Date()
        while ProcessGroup.hasLiveMembers(pgid) && Date() < deadline { usleep(20_000) }
        if ProcessGroup.hasLiveMembers(pgid) { kill(-pgid, SIGKILL) }
    }
}

enum ProcessGroup {
    /// True when a process of the group exists that is not a zombie (a zombie waits for its reaper,
    /// which in a container may be slow; it runs nothing).
    static func hasLiveMembers(_ pgid: pid_t) -> Bool {
        guard kill(-pgid, 0) == 0 || errno == EPERM else { return false }
        #if os(Linux)
        guard let dir = opendir("/proc") else { return true }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            guard let first = name.utf8.first, first >= 48 && first <= 57,
                  let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            // After the command name: state, ppid, pgrp, …
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, pid_t(fields[2]) == pgid else { continue }
            if fields[0] != "Z" && fields[0] != "X" { return true }
        }
        return false
        #else
        return true
        #endif
    }
}

/// The last `limit` lines of a byte stream.
struct TailBuffer {
    let limit: Int
    private(set) var lines: [String] = []
    private var partial: [UInt8] = []

    init(limit: Int) { self.limit = limit }

    mutating func append(_ chunk: UnsafeRawBufferPointer) {
        for byte in chunk {
            if byte == UInt8(ascii: "\n") {
                append(String(decoding: partial, as: UTF8.self))
                partial.removeAll(keepingCapacity: true)
            } else if partial.count < 4096 {
                partial.append(byte)
            }
        }
    }

    mutating func append(_ line: String) {
        lines.append(line)
        if lines.count > limit { lines.removeFirst(lines.count - limit) }
    }

    var all: [String] { partial.isEmpty ? lines : lines + [String(decoding: partial, as: UTF8.self)] }
}

/// Calls `body` with a NULL-terminated C array of the strings.
func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for p in pointers { free(p) } }
    return body(pointers)
}
