// Support for the end-to-end tests: they drive the built `crx` binary in throw-away projects.
//
//   let p = try Project()                       // a fresh temporary project (removed on deinit)
//   p.write("pipeline.yaml", "...")
//   let r = p.crx("repro", "--json")            // stdout, stderr, exit code, duration
//   let s = try p.repro()                        // `crx repro --json`, parsed (ran, restored, …)
//
// The binary: $CRX_BIN, else `crx` beside the running test executable, else `.build/debug/crx`
// under the package root (found by walking up from this file).
#if canImport(Glibc)
import Glibc
#endif
import CRXCore
import Foundation
import Testing

// MARK: - the binary

enum CRXBinary {
    static let path: String = {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["CRX_BIN"], !env.isEmpty { return env }
        if let exe = Bundle.main.executableURL {
            let candidate = exe.deletingLastPathComponent().appendingPathComponent("crx").path
            if fm.isExecutableFile(atPath: candidate) { return candidate }
        }
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while dir.path != "/" {
            if fm.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) {
                return dir.appendingPathComponent(".build/debug/crx").path
            }
            dir = dir.deletingLastPathComponent()
        }
        return "crx"
    }()
}

// MARK: - results

/// What one crx invocation did.
struct RunResult: CustomStringConvertible, Sendable {
    var arguments: [String]
    var exitCode: Int32
    var stdout: String
    var stderr: String
    var duration: TimeInterval
    var timedOut: Bool

    var description: String {
        "crx \(arguments.joined(separator: " ")) → exit \(exitCode)\(timedOut ? " (TIMED OUT)" : "") in "
            + String(format: "%.2fs", duration) + "\n--- stdout:\n\(stdout)\n--- stderr:\n\(stderr)"
    }

    /// stdout parsed as a JSON object.
    func jsonObject() throws -> [String: Any] {
        let value = try JSONSerialization.jsonObject(with: Data(stdout.utf8))
        guard let object = value as? [String: Any] else {
            throw TestFailure("stdout is not a JSON object:\n\(self)")
        }
        return object
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// `crx repro --json`, parsed.
struct ReproSummary: CustomStringConvertible {
    var result: RunResult
    var json: [String: Any]
    var ran: [String] { strings("ran") }
    var restored: [String] { strings("restored") }
    var upToDate: [String] { strings("up_to_date") }
    var failed: [String] { strings("failed") }
    var skipped: [String] { strings("skipped") }
    var interrupted: Bool { json["interrupted"] as? Bool ?? false }
    var failures: [String: [String: Any]] { json["failures"] as? [String: [String: Any]] ?? [:] }
    var exitCode: Int32 { result.exitCode }

    init(_ result: RunResult) throws {
        self.result = result
        json = try result.jsonObject()
    }

    func strings(_ key: String) -> [String] { json[key] as? [String] ?? [] }
    /// Reason kinds recorded for a stage.
    func reasonKinds(_ stage: String) -> [String] {
        ((json["reasons"] as? [String: Any])?[stage] as? [[String: Any]] ?? []).compactMap { $0["kind"] as? String }
    }

    var description: String { result.description }
}

/// `crx repro --dry-run --json`, parsed.
struct DryRunSummary: CustomStringConvertible {
    var result: RunResult
    var json: [String: Any]
    var wouldRun: [String] { json["would_run"] as? [String] ?? [] }
    var wouldRestore: [String] { json["would_restore"] as? [String] ?? [] }
    var reasons: [String: [[String: Any]]] { json["reasons"] as? [String: [[String: Any]]] ?? [:] }
    func reasonKinds(_ stage: String) -> [String] { (reasons[stage] ?? []).compactMap { $0["kind"] as? String } }

    init(_ result: RunResult) throws {
        self.result = result
        json = try result.jsonObject()
    }

    var description: String { result.description }
}

/// `crx status --json`, parsed: stage → reasons.
struct StatusSummary: CustomStringConvertible {
    var result: RunResult
    var json: [String: Any]
    var staleStages: Set<String> { Set(json.keys) }
    func reasonKinds(_ stage: String) -> [String] {
        (json[stage] as? [[String: Any]] ?? []).compactMap { $0["kind"] as? String }
    }

    init(_ result: RunResult) throws {
        self.result = result
        json = try result.jsonObject()
    }

    var description: String { result.description }
}

// MARK: - a running crx

/// A crx process started in the background.
final class RunningCRX: @unchecked Sendable {
    let process: Process
    let arguments: [String]
    let stdoutURL: URL
    let stderrURL: URL
    let started: Date

    init(process: Process, arguments: [String], stdoutURL: URL, stderrURL: URL, started: Date) {
        self.process = process
        self.arguments = arguments
        self.stdoutURL = stdoutURL
        self.stderrURL = stderrURL
        self.started = started
    }

    var pid: pid_t { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    var stderrSoFar: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }

    func signal(_ sig: Int32) { kill(pid, sig) }

    /// Waits for the process to end (killing it after `timeout`) and collects what it printed.
    func wait(timeout: TimeInterval = 30) -> RunResult {
        let deadline = Date().addingTimeInterval(timeout)
        var timedOut = false
        while process.isRunning {
            if Date() >= deadline {
                timedOut = true
                kill(pid, SIGKILL)
                break
            }
            usleep(5_000)
        }
        process.waitUntilExit()
        let finished = Date()
        let out = (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? ""
        let err = (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(at: stdoutURL)
        try? FileManager.default.removeItem(at: stderrURL)
        let code: Int32 = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        return RunResult(arguments: arguments, exitCode: timedOut ? -1 : code, stdout: out, stderr: err,
                         duration: finished.timeIntervalSince(started), timedOut: timedOut)
    }
}

// MARK: - a project

/// A temporary crx project: `<tmp>/crx-e2e-<uuid>/project`, with captured output beside it.
final class Project: @unchecked Sendable {
    let base: URL
    let root: URL
    private let io: URL
    private var counter = 0
    private let counterLock = NSLock()

    init(_ files: [String: String] = [:]) throws {
        base = FileManager.default.temporaryDirectory.appendingPathComponent("crx-e2e-\(UUID().uuidString)")
        root = base.appendingPathComponent("project")
        io = base.appendingPathComponent("io")
        // crx finds its project root by walking up to `.crx/` or `pipeline.yaml`: a stray one above
        // the temporary directory would capture every test project.
        var ancestor = base.deletingLastPathComponent()
        while true {
            for marker in [".crx", "pipeline.yaml"] where FileManager.default.fileExists(atPath: ancestor.appendingPathComponent(marker).path) {
                throw TestFailure("\(ancestor.path)/\(marker) exists: crx would take \(ancestor.path) as the project root")
            }
            let parent = ancestor.deletingLastPathComponent()
            if parent.path == ancestor.path || ancestor.path == "/" { break }
            ancestor = parent
        }
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: io, withIntermediateDirectories: true)
        for (path, content) in files { write(path, content) }
    }

    deinit {
        // Cache objects are read-only; their directories are not, so removal works.
        try? FileManager.default.removeItem(at: base)
    }

    func url(_ path: String) -> URL { root.appendingPathComponent(path) }
    func absolute(_ path: String) -> String { url(path).path }

    // files

    func write(_ path: String, _ content: String) {
        let u = url(path)
        try? FileManager.default.createDirectory(at: u.deletingLastPathComponent(), withIntermediateDirectories: true)
        // Replace, never write through: the file may be a read-only hardlink or a cache object.
        try? FileManager.default.removeItem(at: u)
        _ = FileManager.default.createFile(atPath: u.path, contents: Data(content.utf8))
    }

    func append(_ path: String, _ content: String) {
        write(path, (read(path) ?? "") + content)
    }

    func read(_ path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: absolute(path)) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    func bytes(_ path: String) -> Data? { FileManager.default.contents(atPath: absolute(path)) }

    func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: absolute(path)) }

    func remove(_ path: String) { try? FileManager.default.removeItem(at: url(path)) }

    func mkdir(_ path: String) {
        try? FileManager.default.createDirectory(at: url(path), withIntermediateDirectories: true)
    }

    /// Sets a file's modification time (content untouched).
    func touch(_ path: String, secondsAhead: TimeInterval = 5) throws {
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(secondsAhead)],
                                              ofItemAtPath: absolute(path))
    }

    /// Lines of `runs.log` (what the stage commands appended to prove they ran).
    var runs: [String] {
        (read("runs.log") ?? "").split(separator: "\n").map(String.init)
    }

    // the lock

    var lockText: String? { read("pipeline.lock") }

    func lockfile(_ name: String = "pipeline.lock") throws -> Lockfile {
        let data = try #require(bytes(name), "\(name) does not exist")
        return try Lockfile.parse(data, file: name)
    }

    /// Names of the stages the lock records (none when there is no lock file).
    func lockedStages(_ name: String = "pipeline.lock") throws -> Set<String> {
        guard exists(name) else { return [] }
        return Set(try lockfile(name).stages.keys)
    }

    // running crx

    private func nextIO() -> (URL, URL) {
        counterLock.lock()
        counter += 1
        let n = counter
        counterLock.unlock()
        return (io.appendingPathComponent("\(n).out"), io.appendingPathComponent("\(n).err"))
    }

    /// Starts crx in the project directory without waiting for it.
    func start(_ arguments: [String], in directory: String? = nil, environment: [String: String] = [:]) throws -> RunningCRX {
        let (outURL, errURL) = nextIO()
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CRXBinary.path)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        process.currentDirectoryURL = directory.map { url($0) } ?? root
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        let started = Date()
        try process.run()
        return RunningCRX(process: process, arguments: arguments, stdoutURL: outURL, stderrURL: errURL, started: started)
    }

    /// Runs crx in the project directory and waits for it.
    func crx(_ arguments: String..., timeout: TimeInterval = 30) -> RunResult { crx(arguments, timeout: timeout) }

    func crx(_ arguments: [String], timeout: TimeInterval = 30, environment: [String: String] = [:]) -> RunResult {
        do {
            return try start(arguments, environment: environment).wait(timeout: timeout)
        } catch {
            return RunResult(arguments: arguments, exitCode: -1, stdout: "", stderr: "cannot start \(CRXBinary.path): \(error)",
                             duration: 0, timedOut: false)
        }
    }

    /// `crx repro --json ARGS`, parsed.
    func repro(_ arguments: String...) throws -> ReproSummary {
        try ReproSummary(crx(["repro", "--json"] + arguments))
    }

    /// `crx repro --dry-run --json ARGS`, parsed.
    func dryRun(_ arguments: String...) throws -> DryRunSummary {
        try DryRunSummary(crx(["repro", "--dry-run", "--json"] + arguments))
    }

    /// `crx status --json ARGS`, parsed.
    func status(_ arguments: String...) throws -> StatusSummary {
        try StatusSummary(crx(["status", "--json"] + arguments))
    }

    /// Polls until `condition` holds (true) or `timeout` passes (false).
    func waitFor(timeout: TimeInterval = 10, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }
}

/// Asserts a repro succeeded and returns it (for chaining).
@discardableResult
func expectSuccess(_ summary: ReproSummary, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> ReproSummary {
    #expect(summary.exitCode == 0, "\(summary)", sourceLocation: sourceLocation)
    return summary
}
