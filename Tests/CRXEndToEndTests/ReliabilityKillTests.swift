// SIGKILL at dozens of moments of `crx repro`, and SIGINT / SIGTERM: nothing recorded is lost or corrupt.
//
// The kill loop drives one project through "waves". Each wave sets the input to variant A or B and
// starts `crx repro` again and again, killing each attempt (SIGKILL) at a later moment — after a
// delay from a fixed schedule, or the instant crx creates a given file (the lock's temp file, a cache
// object's temp file, a restored output's temp file, the state cache's temp file) — until an attempt
// finishes on its own. After every kill:
//   • pipeline.lock parses, and every stage it records is exactly what a clean run records for A or
//     for B (builds are deterministic, so anything else would be a half-recorded or corrupt entry);
//   • every output the lock records is in the cache, decompresses and hashes to its digest;
//   • `crx verify` passes (every object in the cache is whole);
//   • the next attempt re-runs no stage that was already recorded for the current input.
// When an attempt finishes: its outputs are byte-identical to a clean run's, the lock equals the clean
// run's, and no temp file is left anywhere (crx removed what killed runs left).
// Half the kills also kill the stage commands crx had started (as a machine crash would); the other
// half let them finish as orphans before the next attempt.
#if canImport(Glibc)
import Glibc
#endif
import CRXCore
import Foundation
import Testing

/// Five stages: a 20 MB generated file, a 6 MB transform of it, a directory of three 2 MB parts, a
/// small summary, and an independent slow stage (runs beside `gen` with -j 2).
let killPipeline = """
stages:
  gen:
    cmd: echo gen >> runs.log && openssl enc -aes-128-ctr -nosalt -pbkdf2 -pass file:seed.txt -in /dev/zero 2>/dev/null | head -c 20000000 > data/big.bin
    deps: [seed.txt]
    outs: [data/big.bin]
  upper:
    cmd: echo upper >> runs.log && head -c 6000000 data/big.bin | tr 'a-m' 'n-z' > data/big2.bin
    deps: [data/big.bin]
    outs: [data/big2.bin]
  split:
    cmd: echo split >> runs.log && mkdir -p data/parts && split -b 2000000 data/big2.bin data/parts/p.
    deps: [data/big2.bin]
    outs: [data/parts]
  summary:
    cmd: echo summary >> runs.log && cksum data/parts/* > summary.txt
    deps: [data/parts]
    outs: [summary.txt]
  side:
    cmd: echo side >> runs.log && sleep 0.2 && cat seed.txt seed.txt > side.txt
    deps: [seed.txt]
    outs: [side.txt]

"""

let killOutputs = ["data/big.bin", "data/big2.bin", "data/parts", "summary.txt", "side.txt"]
let killVariants = ["alpha-seed\n", "bravo-seed\n"]

/// What a clean, uninterrupted run of one variant produces.
struct CleanRun {
    var records: [String: Lockfile.StageRecord]
    var contents: [String: String]
}

enum KillTrigger: CustomStringConvertible {
    /// SIGKILL this many milliseconds after the start.
    case delay(Int)
    /// SIGKILL the instant crx creates the `occurrence`-th file matching `kind`, plus `extraMs`.
    case created(CreatedFile, occurrence: Int, extraMs: Int)

    var description: String {
        switch self {
        case let .delay(ms): return "after \(ms) ms"
        case let .created(kind, n, extra): return "at \(kind) #\(n)" + (extra > 0 ? " + \(extra) ms" : "")
        }
    }
}

enum CreatedFile: String, CustomStringConvertible {
    case lockTemp = "the lock's temp file"
    case objectTemp = "a cache object's temp file"
    case restoreTemp = "a restored output's temp file"
    case stateTemp = "the state cache's temp file"
    var description: String { rawValue }

    func matches(_ directory: String, _ name: String, root: String) -> Bool {
        switch self {
        case .lockTemp: return directory == root && name.hasPrefix("pipeline.lock.crx-tmp-")
        case .objectTemp: return directory.hasSuffix("/cache/v1/tmp")
        case .restoreTemp: return name.contains(".crx-tmp-") && !name.hasPrefix("pipeline.lock") && !directory.hasSuffix("/state")
        case .stateTemp: return directory.hasSuffix("/.crx/state") && name.hasPrefix("state.v1.crx-tmp-")
        }
    }
}

struct Wave {
    var variant: Int
    var runCache: Bool
    /// Remove the outputs from the workspace first (they come back from the cache: the restore path).
    var removeOutputs = false
    var trigger: (_ attempt: Int) -> KillTrigger
}

extension CRXReliabilityTests {
    @Suite("Kill", .serialized) struct ReliabilityKillTests {
        static func cleanRun(_ variant: Int) throws -> CleanRun {
            let p = try Project(["pipeline.yaml": killPipeline, "seed.txt": killVariants[variant]])
            p.mkdir("data")
            let r = p.crx(["repro"], timeout: 60)
            guard r.exitCode == 0 else { throw TestFailure("clean run failed: \(r)") }
            return CleanRun(records: try p.lockfile().stages, contents: p.contentDigests(killOutputs))
        }

        @Test func sigkillAtManyMomentsLosesAndCorruptsNothing() throws {
            let clean = try [Self.cleanRun(0), Self.cleanRun(1)]
            let p = try Project(["pipeline.yaml": killPipeline, "seed.txt": killVariants[0]])
            p.mkdir("data")
            let rootPath = p.root.path

            // Timed waves step through the run 100 ms at a time from different offsets; event waves kill
            // at the n-th occurrence of a file creation in attempt n.
            func timed(_ offset: Int) -> (Int) -> KillTrigger { { .delay(offset + 100 * $0) } }
            var waves: [Wave] = [
                Wave(variant: 0, runCache: true, trigger: timed(10)),           // from an empty project
                Wave(variant: 1, runCache: true, trigger: timed(60)),
                Wave(variant: 0, runCache: true, trigger: timed(35)),           // run-cache restores of A
                Wave(variant: 0, runCache: true, removeOutputs: true, trigger: timed(20)),  // restores of missing outputs
                Wave(variant: 1, runCache: false, trigger: { .created(.lockTemp, occurrence: $0 + 1, extraMs: 0) }),
                Wave(variant: 0, runCache: false, trigger: { .created(.objectTemp, occurrence: $0 + 1, extraMs: [0, 3, 15][$0 % 3]) }),
                Wave(variant: 1, runCache: true, trigger: { .created(.restoreTemp, occurrence: $0 + 1, extraMs: [0, 5][$0 % 2]) }),
                Wave(variant: 1, runCache: true, removeOutputs: true, trigger: { .created(.restoreTemp, occurrence: $0 + 1, extraMs: [2, 0][$0 % 2]) }),
                // Only the first attempt: a killed state save leaves the state unsaved, so every retry saves again.
                Wave(variant: 0, runCache: false, trigger: { $0 == 0 ? .created(.stateTemp, occurrence: 1, extraMs: 0) : .delay(120_000) }),
                // The lock's temp file again: how many lock writes a run makes depends on how they
                // coalesce (after the durability barrier, writes of the lock are fewer).
                Wave(variant: 1, runCache: false, trigger: { .created(.lockTemp, occurrence: $0 + 1, extraMs: 0) }),
            ]
            let extraTimed = Reliability.iterations("CRX_KILL_EXTRA_WAVES", light: 0, full: 8)
            for i in 0 ..< extraTimed { waves.append(Wave(variant: (i + 1) % 2, runCache: i % 3 == 2, trigger: timed(20 + 17 * i))) }

            let minimum = Reliability.iterations("CRX_KILL_MIN", light: 30, full: 70)
            var kills: [String: Int] = [:]
            var totalKills = 0
            var completions = 0
            var log: [String] = []
            var recordedForVariant: Set<String> = []    // stages recorded for the current input before this attempt

            // How many kills a wave gets depends on how fast this machine runs the pipeline; when the
            // planned waves fall short of the minimum, more timed waves (other offsets) top them up.
            var topUps = 0
            var w = 0
            while w < waves.count || (totalKills < minimum && topUps < 12) {
                if w == waves.count {
                    waves.append(Wave(variant: topUps % 2, runCache: topUps % 3 == 1, trigger: timed(15 + 23 * topUps)))
                    topUps += 1
                }
                let wave = waves[w]
                defer { w += 1 }
                p.write("seed.txt", killVariants[wave.variant])
                if wave.removeOutputs { for out in killOutputs { p.remove(out) } }
                let reference = clean[wave.variant]
                let lockNow = p.exists("pipeline.lock") ? try p.lockfile() : Lockfile()
                recordedForVariant = Set(lockNow.stages.filter { $0.value == reference.records[$0.key] }.map(\.key))
                var attempt = 0
                while true {
                    let trigger = attempt < 40 ? wave.trigger(attempt) : .delay(120_000)
                    let runsBefore = p.runs.count
                    var arguments = ["repro"]
                    if !wave.runCache { arguments.append("--no-run-cache") }
                    let watcher: CreationWatcher? = {
                        guard case .created = trigger else { return nil }
                        return try? CreationWatcher([rootPath, rootPath + "/data", rootPath + "/.crx/cache/v1/tmp", rootPath + "/.crx/state"])
                    }()
                    let running = try p.start(arguments)
                    var killed = false
                    switch trigger {
                    case let .delay(ms):
                        let deadline = Date().addingTimeInterval(Double(ms) / 1000)
                        while running.isRunning && Date() < deadline { usleep(1_000) }
                        if running.isRunning { running.signal(SIGKILL); killed = true }
                    case let .created(kind, occurrence, extra):
                        let hit = watcher!.wait(occurrence: occurrence, timeout: 60, done: { !running.isRunning }) { dir, name in
                            kind.matches(dir, name, root: rootPath)
                        }
                        if hit {
                            if extra > 0 { usleep(UInt32(extra) * 1000) }
                            if running.isRunning { running.signal(SIGKILL); killed = true }
                        }
                    }
                    let result = running.wait(timeout: 60)
                    let label = "wave \(w) attempt \(attempt) (\(trigger))"

                    if !killed || result.exitCode == 0 {
                        // Finished on its own: the build is complete and exactly a clean run's.
                        #expect(result.exitCode == 0, "\(label): \(result)")
                        let reran = Array(p.runs.dropFirst(runsBefore))
                        #expect(Set(reran).isDisjoint(with: recordedForVariant),
                                "\(label): re-ran \(reran) although \(recordedForVariant.sorted()) were recorded for this input")
                        #expect(p.contentDigests(killOutputs) == reference.contents, "\(label): outputs differ from a clean run")
                        #expect((p.exists("pipeline.lock") ? try p.lockfile().stages : [:]) == reference.records, "\(label): lock differs from a clean run's:\n\(p.lockText ?? "")")
                        #expect(p.strayTemporaries().isEmpty, "\(label): temp files left after a complete run: \(p.strayTemporaries())")
                        completions += 1
                        log.append("\(label): completed")
                        break
                    }

                    totalKills += 1
                    switch trigger {
                    case .delay: kills["timed", default: 0] += 1
                    case let .created(kind, _, _): kills[kind.rawValue, default: 0] += 1
                    }
                    // The stage commands crx started: killed too (a crash), or left to finish (orphans).
                    let orphans = stageProcesses(root: rootPath)
                    if totalKills % 2 == 0 {
                        for pid in orphans { kill(pid, SIGKILL) }
                    }
                    #expect(p.waitFor(timeout: 20) { stageProcesses(root: rootPath).isEmpty }, "\(label): stage commands still running")

                    // Recorded state is consistent.
                    var lock = Lockfile()
                    if let data = p.bytes("pipeline.lock") {
                        do { lock = try Lockfile.parse(data, file: "pipeline.lock") } catch {
                            Issue.record("\(label): pipeline.lock does not parse: \(error)\n\(p.lockText ?? "")")
                        }
                    }
                    for (name, record) in lock.stages {
                        #expect(record == clean[0].records[name] || record == clean[1].records[name],
                                "\(label): stage '\(name)' is recorded with an entry no clean run produces:\n\(p.lockText ?? "")")
                    }
                    let issues = p.consistencyIssues()
                    #expect(issues.isEmpty, "\(label): \(issues)")
                    let verify = p.crx(["verify"], timeout: 60)
                    #expect(verify.exitCode == 0, "\(label): \(verify)")
                    // A stage recorded for this input must not run again.
                    let reran = Array(p.runs.dropFirst(runsBefore))
                    #expect(Set(reran).isDisjoint(with: recordedForVariant),
                            "\(label): re-ran \(reran) although \(recordedForVariant.sorted()) were recorded for this input")
                    recordedForVariant = Set(lock.stages.filter { $0.value == reference.records[$0.key] }.map(\.key))
                    log.append("\(label): killed; recorded for this input: \(recordedForVariant.sorted())")
                    attempt += 1
                }
            }
            print("reliability: SIGKILL points exercised: \(totalKills) in \(waves.count) waves (\(topUps) topping up) (\(kills.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))); completed runs checked: \(completions)")
            #expect(totalKills >= minimum, "only \(totalKills) kill points were exercised:\n\(log.joined(separator: "\n"))")
            #expect(kills[CreatedFile.lockTemp.rawValue, default: 0] >= 3, "\(log.joined(separator: "\n"))")
            #expect(kills[CreatedFile.objectTemp.rawValue, default: 0] >= 3, "\(log.joined(separator: "\n"))")
        }
    }

    // MARK: - SIGINT and SIGTERM

}
extension CRXReliabilityTests {
    @Suite("Signals") struct ReliabilitySignalTests {
        /// A stage whose command starts a background child and a grandchild that ignores the signal and
        /// does not hold crx's pipes: all of them must be gone once crx has exited.
        static let stubborn = """
        stages:
          first:
            cmd: echo first > first.txt && echo first >> runs.log
            outs: [first.txt]
          slow:
            cmd: echo $$ > slow.pid && (trap '' INT TERM; sleep 60 > /dev/null 2>&1) & sleep 60 & echo started > slow.started; wait
            deps: [first.txt]
            outs: [slow.txt]
          after:
            cmd: cat slow.txt > after.txt
            deps: [slow.txt]
            outs: [after.txt]

        """

        @Test(arguments: [SIGINT, SIGTERM])
        func signalStopsEveryChildAndKeepsCompletedStages(_ sig: Int32) throws {
            let p = try Project(["pipeline.yaml": Self.stubborn])
            let running = try p.spawn(["repro", "-j", "1"])
            #expect(p.waitFor(timeout: 20) { p.exists("slow.started") && (p.read("slow.pid") ?? "").hasSuffix("\n") }, "the slow stage never started")
            let pgid = try #require(pid_t((p.read("slow.pid") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)))
            usleep(100_000)
            running.signal(sig)
            let r = running.wait(timeout: 30)
            let expected: Int32 = sig == SIGINT ? 130 : 143
            #expect(r.status == expected && r.signal == nil, "\(r)")
            #expect(r.stderr.contains(sig == SIGINT ? "interrupted" : "terminated"), "no message: \(r)")
            #expect(r.seconds < 12, "crx took \(r.seconds) s to stop")
            // When crx has exited, the whole process group of the stage is gone: the shell, its child,
            // and the grandchild that ignores the signal.
            let survivors = stageProcesses(root: p.root.path)
            #expect(survivors.isEmpty && !processGroupAlive(pgid), "processes of the interrupted stage outlived crx: \(survivors)")
            for pid in survivors { kill(pid, SIGKILL) }
            // Consistent: the completed stage is recorded, nothing of the interrupted ones.
            #expect(try p.lockedStages() == ["first"], "\(p.lockText ?? "")")
            #expect(p.consistencyIssues().isEmpty, "\(p.consistencyIssues())")
            #expect(p.crx("verify").exitCode == 0)
            #expect(p.strayTemporaries().isEmpty, "\(p.strayTemporaries())")
            // The next run does only the rest.
            p.write("pipeline.yaml", Self.stubborn.replacingOccurrences(of: "(trap '' INT TERM; sleep 60 > /dev/null 2>&1) & sleep 60 & echo started > slow.started; wait",
                                                                       with: "echo slow > slow.txt"))
            let again = expectSuccess(try p.repro())
            #expect(again.ran == ["slow", "after"], "\(again)")
            #expect(p.runs == ["first"])
        }

        @Test func signalWhileCachingARecordsTheFinishedStageOrNothing() throws {
            // SIGTERM at several moments of a run that caches 30 MB: the lock always parses and holds only
            // cached outputs; exit 143 (or 0 when the signal came after the last stage).
            let pipeline = """
            stages:
              big:
                cmd: head -c 30000000 /dev/urandom > big.bin
                outs: [big.bin]
              small:
                cmd: cat big.bin | head -c 1000 > small.bin
                deps: [big.bin]
                outs: [small.bin]

            """
            var interrupted = 0
            for delay in [150, 300, 450, 600, 800] {
                let p = try Project(["pipeline.yaml": pipeline])
                let running = try p.start(["repro", "-j", "1"])
                usleep(UInt32(delay) * 1000)
                running.signal(SIGTERM)
                let r = running.wait(timeout: 30)
                #expect(r.exitCode == 143 || r.exitCode == 0, "after \(delay) ms: \(r)")
                if r.exitCode == 143 {
                    interrupted += 1
                    #expect(r.stderr.contains("terminated"), "\(r)")
                }
                #expect(p.consistencyIssues().isEmpty, "after \(delay) ms: \(p.consistencyIssues())")
                #expect(p.crx("verify").exitCode == 0)
                let recorded = try p.lockedStages()
                let after = expectSuccess(try p.repro())
                #expect(Set(after.ran).isDisjoint(with: recorded), "re-ran recorded stages: \(after)")
                #expect(try p.lockedStages() == ["big", "small"])
                #expect(p.consistencyIssues().isEmpty)
            }
            #expect(interrupted >= 2, "SIGTERM arrived too late every time")
        }
    }
}
