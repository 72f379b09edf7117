// Support for the reliability suite (Reliability*.swift): fault injection around the built crx.
//
//   Reliability.iterations("CRX_FUZZ_ITERATIONS", light: 600, full: 20_000)   // counts: light by default
//   var rng = SeededRandom(seed: 42)                                         // deterministic PRNG
//   let issues = p.consistencyIssues()        // lock parses, every recorded object present and intact
//   p.strayTemporaries()                      // `.crx-tmp-*` files and cache temp files left behind
//   let m = p.measured(["status"])            // crx with its peak memory (wait4 rusage)
//   let w = try CreationWatcher([dir…])       // inotify: kill crx the moment it creates a given file
//
// Every count is light by default (the suite fits CI's budget); `CRX_RELIABILITY_FULL=1` raises them
// all, and each has its own variable (see docs/reliability.md).
#if canImport(Glibc)
import Glibc
#endif
import CRXCore
import Foundation
import Testing

// MARK: - configuration

/// The reliability suite; every Reliability*.swift file adds a nested suite to it, so
/// `swift test --filter CRXReliabilityTests` runs exactly this suite.
@Suite("CRXReliabilityTests") enum CRXReliabilityTests {}

enum Reliability {
    static let environment = ProcessInfo.processInfo.environment

    /// True for the long run (`CRX_RELIABILITY_FULL=1`).
    static var full: Bool { environment["CRX_RELIABILITY_FULL"] == "1" }

    /// An iteration count: `$name` if set, else `full` or `light`.
    static func iterations(_ name: String, light: Int, full fullCount: Int) -> Int {
        if let text = environment[name], let n = Int(text), n > 0 { return n }
        return full ? fullCount : light
    }

    /// Whether `mount -t tmpfs` works here (root with CAP_SYS_ADMIN); probed once.
    static let canMountTmpfs: Bool = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("crx-tmpfs-probe-\(getpid())").path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { rmdir(dir) }
        guard shell("mount -t tmpfs -o size=1m tmpfs '\(dir)'").status == 0 else { return false }
        _ = shell("umount '\(dir)'")
        return true
    }()
}

/// SplitMix64: a tiny, fast, seedable generator, so every "random" case is reproducible.
struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

// MARK: - processes

/// Runs `/bin/sh -c script` (in `directory`), returning its status and combined output.
@discardableResult
func shell(_ script: String, in directory: String? = nil, environment: [String: String] = [:]) -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", script]
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    if !environment.isEmpty {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    process.standardInput = FileHandle.nullDevice
    do { try process.run() } catch { return (-1, "cannot run /bin/sh: \(error)") }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// True while a process of the group exists that is not a zombie (here PID 1 may reap orphans late;
/// a zombie runs nothing).
func processGroupAlive(_ pgid: pid_t) -> Bool {
    guard kill(-pgid, 0) == 0 || errno == EPERM else { return false }
    for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where pid_t(name) != nil {
        guard let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { continue }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        if fields.count > 2, pid_t(fields[2]) == pgid, fields[0] != "Z", fields[0] != "X" { return true }
    }
    return false
}

/// Processes whose environment holds `CRX_ROOT=root`: the stage commands crx started in that
/// project (and what they started), alive now.
func stageProcesses(root: String) -> [pid_t] {
    let needle = Array("CRX_ROOT=\(root)".utf8) + [0]
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
    var found: [pid_t] = []
    for name in entries {
        guard let pid = pid_t(name), pid != getpid() else { continue }
        guard let data = FileManager.default.contents(atPath: "/proc/\(name)/environ") else { continue }
        let bytes = [UInt8](data) + [0]
        var start = 0
        for i in 0 ..< bytes.count where bytes[i] == 0 {
            if i - start + 1 == needle.count, Array(bytes[start ... i]) == needle {
                found.append(pid)
                break
            }
            start = i + 1
        }
    }
    // Zombies waiting for their reaper are gone for our purposes.
    return found.filter { pid in
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).prefix(1)
        return state != "Z" && state != "X"
    }
}

/// What a crx run cost: exit status, wall time and peak resident memory.
struct MeasuredRun: CustomStringConvertible {
    var status: Int32
    var signal: Int32?
    var seconds: Double
    var maxRSSKiB: Int
    var stdout: String
    var stderr: String
    var timedOut: Bool

    var description: String {
        "exit \(status)\(signal.map { " (signal \($0))" } ?? "")\(timedOut ? " TIMED OUT" : ""), "
            + String(format: "%.2fs", seconds) + ", max RSS \(maxRSSKiB / 1024) MiB\n--- stdout:\n\(stdout.prefix(2000))\n--- stderr:\n\(stderr.prefix(4000))"
    }
}

/// A crx process started with `posix_spawn` (clean signal mask and dispositions) and reaped with
/// `wait4`, so a test learns exactly when it exited, how, and its peak memory — independently of
/// Foundation's `Process` bookkeeping.
final class SpawnedCRX: @unchecked Sendable {
    let pid: pid_t
    let started: Date
    let outPath: String
    let errPath: String
    private var result: MeasuredRun?

    init(root: String, arguments: [String], prefix: [String], io: String) throws {
        outPath = io + ".out"
        errPath = io + ".err"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = prefix + [CRXBinary.path] + arguments
        // The shell changes into the project directory, then becomes the command.
        let script = ["/bin/sh", "-c", "cd \"$1\" && shift && exec \"$@\"", "sh", root] + argv
        let env = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        started = Date()
        let rc = withCStringArray(script) { a in withCStringArray(env) { e in posix_spawn(&pid, "/bin/sh", &actions, &attributes, a, e) } }
        guard rc == 0 else { throw TestFailure("posix_spawn failed: \(rc)") }
        self.pid = pid
    }

    func signal(_ sig: Int32) { kill(pid, sig) }
    var stderrSoFar: String { (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "" }

    /// True while the process has not exited (reaps it when it has).
    var isRunning: Bool {
        if result != nil { return false }
        sampleHighWaterMark()
        return !reap(blocking: false)
    }

    /// crx's peak resident memory, read from `/proc/PID/status` (`VmHWM`) while it runs.
    ///
    /// Not `wait4`'s `ru_maxrss`: posix_spawn starts the child sharing this test process's memory
    /// (vfork), and Linux records that memory's high-water mark into the child's `maxrss` when it
    /// execs — so `ru_maxrss` reports the (large, parallel) test runner, not crx. `VmHWM` is the
    /// high-water mark of crx's own address space after its exec.
    private var highWaterKiB = 0
    private func sampleHighWaterMark() {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kib = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { return }
        highWaterKiB = max(highWaterKiB, kib)
    }

    private func reap(blocking: Bool) -> Bool {
        var status: Int32 = 0
        var usage = rusage()
        let r = wait4(pid, &status, blocking ? 0 : WNOHANG, &usage)
        guard r == pid else { return false }
        let seconds = Date().timeIntervalSince(started)
        let out = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        unlink(outPath)
        unlink(errPath)
        let exited = (status & 0x7f) == 0
        result = MeasuredRun(status: exited ? (status >> 8) & 0xff : 128 + (status & 0x7f), signal: exited ? nil : status & 0x7f,
                             seconds: seconds, maxRSSKiB: highWaterKiB > 0 ? highWaterKiB : Int(usage.ru_maxrss),
                             stdout: out, stderr: err, timedOut: false)
        return true
    }

    /// Waits for the exit (SIGKILL after `timeout`).
    func wait(timeout: Double = 30) -> MeasuredRun {
        if let result { return result }
        var timedOut = false
        while true {
            sampleHighWaterMark()
            if reap(blocking: false) { break }
            if Date().timeIntervalSince(started) > timeout && !timedOut {
                timedOut = true
                kill(pid, SIGKILL)
            }
            usleep(2_000)
        }
        result!.timedOut = timedOut
        return result!
    }
}

extension Project {
    /// Starts crx (optionally through `prefix`, e.g. a shell setting limits) without waiting.
    func spawn(_ arguments: [String], prefix: [String] = []) throws -> SpawnedCRX {
        try SpawnedCRX(root: root.path, arguments: arguments, prefix: prefix,
                       io: base.appendingPathComponent("spawned-\(UUID().uuidString)").path)
    }

    /// Runs crx to its end with `posix_spawn` + `wait4`, to learn its peak memory; killed after `timeout`.
    func measured(_ arguments: [String], timeout: Double = 30, prefix: [String] = []) -> MeasuredRun {
        do {
            return try spawn(arguments, prefix: prefix).wait(timeout: timeout)
        } catch {
            return MeasuredRun(status: -1, signal: nil, seconds: 0, maxRSSKiB: 0, stdout: "", stderr: "\(error)", timedOut: false)
        }
    }
}

func withCStringArray<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for p in pointers { free(p) } }
    return body(pointers)
}

// MARK: - state of a project

extension Project {
    var cacheDirectory: String { absolute(".crx/cache") }
    var store: LocalObjectStore { LocalObjectStore(directory: cacheDirectory) }

    /// Every object file in the cache (absolute paths).
    var objectFiles: [String] {
        let dir = absolute(".crx/cache/v1/objects")
        guard let files = try? LocalFileSystem().listFiles(under: dir) else { return [] }
        return files.map { dir + "/" + $0 }
    }

    /// Files crx left half-done: `*.crx-tmp-*` anywhere in the project, and cache temp files.
    func strayTemporaries() -> [String] {
        var found: [String] = []
        let fm = FileManager.default
        if let e = fm.enumerator(atPath: root.path) {
            while let path = e.nextObject() as? String {
                if (path as NSString).lastPathComponent.contains(".crx-tmp-") { found.append(path) }
            }
        }
        let tmp = absolute(".crx/cache/v1/tmp")
        for name in (try? fm.contentsOfDirectory(atPath: tmp)) ?? [] { found.append(".crx/cache/v1/tmp/" + name) }
        return found.sorted()
    }

    /// What is wrong with the project's recorded state, checked without crx: the lock parses, and
    /// every output it records is in the cache and decompresses to its digest (directories: the
    /// manifest and every file in it). Empty when consistent.
    func consistencyIssues(lockName: String = "pipeline.lock") -> [String] {
        guard let data = bytes(lockName) else { return [] }
        let lock: Lockfile
        do { lock = try Lockfile.parse(data, file: lockName) } catch { return ["\(lockName) does not parse: \(error)"] }
        var issues: [String] = []
        let store = self.store
        // Outputs declared `cache: false` have no object.
        let pipeline = try? Workspace(root: root.path, pipelineFile: "pipeline.yaml").loadPipeline()
        for (name, record) in lock.stages {
            let declared = pipeline?[name]?.outs
            for out in record.outs where declared?.first(where: { $0.path == out.path })?.cache ?? true {
                switch store.verify(out.hash.digest) {
                case .ok: break
                case .missing: issues.append("stage '\(name)': \(out.path) → \(out.hash.digest) is not in the cache"); continue
                case let .corrupt(why): issues.append("stage '\(name)': \(out.path) → \(out.hash.digest) is corrupt: \(why)"); continue
                }
                guard out.hash.isDirectory else { continue }
                guard let manifest = try? DirectoryManifest(bytes: store.read(out.hash.digest)) else {
                    issues.append("stage '\(name)': \(out.path) → \(out.hash.digest) is not a directory manifest")
                    continue
                }
                if manifest.entries.count != out.hash.nfiles {
                    issues.append("stage '\(name)': \(out.path) records \(out.hash.nfiles ?? -1) files, its manifest \(manifest.entries.count)")
                }
                for e in manifest.entries where store.verify(e.digest) != .ok {
                    issues.append("stage '\(name)': \(out.path)/\(e.path) → \(e.digest) is \(store.verify(e.digest))")
                }
            }
        }
        return issues
    }

    /// Digest of every file under the given root-relative paths (files or directories), keyed by path.
    func contentDigests(_ paths: [String]) -> [String: String] {
        var result: [String: String] = [:]
        let fs = LocalFileSystem()
        for path in paths {
            let absolute = self.absolute(path)
            guard let st = fs.stat(absolute) else { result[path] = "missing"; continue }
            if st.kind == .directory {
                for f in (try? fs.listFiles(under: absolute)) ?? [] {
                    result[path + "/" + f] = (try? FileHasher.hash(path: absolute + "/" + f).digest.description) ?? "unreadable"
                }
            } else {
                result[path] = (try? FileHasher.hash(path: absolute).digest.description) ?? "unreadable"
            }
        }
        return result
    }

    /// Every file below the project (relative paths), `.crx/` included.
    func allFiles() -> [String] {
        (try? LocalFileSystem().listFiles(under: root.path)) ?? []
    }

    /// Writes raw bytes (replacing the file).
    func writeBytes(_ path: String, _ data: [UInt8]) {
        let u = url(path)
        try? FileManager.default.createDirectory(at: u.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? FileManager.default.removeItem(at: u)
        _ = FileManager.default.createFile(atPath: u.path, contents: Data(data))
    }
}

/// Replaces a (read-only) file's bytes, as a disk fault or a careless user would.
func overwrite(_ path: String, with bytes: [UInt8]) {
    chmod(path, 0o644)
    _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
    chmod(path, 0o444)
}

// MARK: - kill on an event

/// Watches directories (inotify) for files being created, so a test can kill crx at the exact moment
/// it starts writing one (a lock temp file, a cache object, …).
final class CreationWatcher {
    private let fd: Int32
    private var directories: [Int32: String] = [:]

    init(_ paths: [String]) throws {
        fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { throw TestFailure("inotify_init1 failed: \(errno)") }
        for path in paths {
            let wd = inotify_add_watch(fd, path, UInt32(IN_CREATE | IN_MOVED_TO))
            if wd >= 0 { directories[wd] = path }
        }
    }

    deinit { close(fd) }

    /// Waits until a created file matches `match` for the `occurrence`-th time (1-based), or `done()`
    /// says to stop, or `timeout` passes. Returns true when it matched.
    func wait(occurrence: Int, timeout: Double, done: () -> Bool, match: (_ directory: String, _ name: String) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        var seen = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 8)
        defer { buffer.deallocate() }
        while Date() < deadline {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, 2)
            if ready > 0 {
                let n = read(fd, buffer.baseAddress, buffer.count)
                var offset = 0
                while n > 0 && offset < n {
                    let event = buffer.baseAddress!.advanced(by: offset).assumingMemoryBound(to: inotify_event.self).pointee
                    let nameStart = buffer.baseAddress!.advanced(by: offset + MemoryLayout<inotify_event>.size)
                    let name = event.len > 0 ? String(cString: nameStart.assumingMemoryBound(to: CChar.self)) : ""
                    offset += MemoryLayout<inotify_event>.size + Int(event.len)
                    if let dir = directories[event.wd], match(dir, name) {
                        seen += 1
                        if seen >= occurrence { return true }
                    }
                }
            } else if done() {
                return false
            }
        }
        return false
    }
}
