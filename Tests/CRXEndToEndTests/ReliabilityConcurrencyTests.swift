// Several crx processes on one project at once: writers take turns on the project lock, readers go on,
// nothing is corrupt, and a lock left by a SIGKILLed crx is taken over.
#if canImport(Glibc)
import Glibc
#endif
import CRXCore
import Foundation
import Testing

let concurrentPipeline = """
stages:
  a:
    cmd: echo a >> runs.log && sleep 0.4 && head -c 3000000 /dev/urandom > a.bin
    outs: [a.bin]
  b:
    cmd: echo b >> runs.log && sleep 0.4 && cat a.bin a.bin > b.bin
    deps: [a.bin]
    outs: [b.bin]
  c:
    cmd: echo c >> runs.log && mkdir -p c && cp b.bin c/one && head -c 100 a.bin > c/two
    deps: [b.bin]
    outs: [c]

"""

extension CRXReliabilityTests {
    @Suite("Concurrency") struct ReliabilityConcurrencyTests {
        @Test func manyWritersAndReadersAtOnceCorruptNothing() throws {
            let p = try Project(["pipeline.yaml": concurrentPipeline])
            // Three repros, two checkouts and a gc at once; status and dry runs keep answering meanwhile.
            var writers: [RunningCRX] = []
            for args in [["repro", "--json"], ["checkout"], ["repro", "--json"], ["gc"], ["repro", "--json"], ["checkout"]] {
                writers.append(try p.start(args))
            }
            var readerDurations: [Double] = []
            var readerFailures: [String] = []
            let deadline = Date().addingTimeInterval(2.5)
            while Date() < deadline {
                for args in [["status", "--json"], ["repro", "--dry-run", "--json"]] {
                    let r = p.crx(args)
                    readerDurations.append(r.duration)
                    // A reader sees the old lock or the new one, never a torn one.
                    if r.exitCode != 0 || (try? r.jsonObject()) == nil { readerFailures.append("\(r)") }
                }
            }
            let results = writers.map { $0.wait(timeout: 60) }
            for r in results { #expect(r.exitCode == 0, "\(r)") }
            #expect(readerFailures.isEmpty, "\(readerFailures.joined(separator: "\n"))")
            #expect(readerDurations.max() ?? 0 < 2.0, "a read-only command waited: \(readerDurations)")
            let waited = results.filter { $0.stderr.contains("waiting for the project lock held by") }
            #expect(waited.count >= 2, "writers did not say they waited: \(results.map(\.stderr))")
            // …and each said who holds it.
            #expect(waited.allSatisfy { $0.stderr.contains("held by pid ") }, "\(waited.map(\.stderr))")
            // Every stage ran exactly once, whoever ran it.
            #expect(p.runs.sorted() == ["a", "b", "c"], "\(p.runs)")
            #expect(try p.lockedStages() == ["a", "b", "c"])
            #expect(p.consistencyIssues().isEmpty, "\(p.consistencyIssues())")
            #expect(p.crx("verify").exitCode == 0)
            #expect(p.strayTemporaries().isEmpty, "\(p.strayTemporaries())")
            let status = try p.status()
            #expect(status.staleStages.isEmpty, "\(status)")
        }

        @Test func checkoutWaitsForAReproAndLockTimeoutBoundsTheWait() throws {
            let p = try Project(["pipeline.yaml": concurrentPipeline])
            expectSuccess(try p.repro())
            p.remove("c")
            // A forced repro holds the lock; checkout waits for it, an impatient one gives up.
            let repro = try p.start(["repro", "--force"])
            #expect(p.waitFor { p.runs.count >= 4 }, "the forced repro never started")
            let impatient = p.crx(["checkout", "--lock-timeout", "0.3"])
            #expect(impatient.exitCode == 1, "\(impatient)")
            #expect(impatient.stderr.contains("waiting for the project lock"), "\(impatient)")
            #expect(impatient.stderr.contains("--lock-timeout"), "\(impatient)")
            #expect(impatient.duration < 2, "\(impatient)")
            let checkout = p.crx(["checkout"], timeout: 60)
            #expect(checkout.exitCode == 0, "\(checkout)")
            #expect(checkout.stderr.contains("waiting for the project lock") || !repro.isRunning, "\(checkout)")
            #expect(repro.wait(timeout: 60).exitCode == 0)
            #expect(p.exists("c/one") && p.exists("c/two"))
            #expect(p.consistencyIssues().isEmpty)
            #expect(try p.status().staleStages.isEmpty)
        }

        @Test func lockOfASigkilledCrxIsTakenOverAtOnce() throws {
            let p = try Project(["pipeline.yaml": concurrentPipeline])
            let first = try p.start(["repro", "-j", "1"])
            #expect(p.waitFor { p.runs.count >= 1 }, "the first repro never started a stage")
            // The holder is recorded in .crx/lock.
            #expect(p.read(".crx/lock")?.contains("pid \(first.pid)") == true, "\(p.read(".crx/lock") ?? "")")
            first.signal(SIGKILL)
            _ = first.wait()
            #expect(p.waitFor(timeout: 10) { stageProcesses(root: p.root.path).isEmpty })
            // The kernel released the lock with its holder: the next writer does not wait.
            let second = p.crx(["repro", "--lock-timeout", "1"], timeout: 60)
            #expect(second.exitCode == 0, "\(second)")
            #expect(!second.stderr.contains("waiting for the project lock"), "\(second)")
            #expect(p.read(".crx/lock")?.contains("pid \(first.pid)") == false, "the new holder did not record itself")
            #expect(try p.lockedStages() == ["a", "b", "c"])
            #expect(p.consistencyIssues().isEmpty)
            #expect(p.strayTemporaries().isEmpty, "\(p.strayTemporaries())")
        }

        @Test func aWaitingWriterCanBeInterrupted() throws {
            let p = try Project(["pipeline.yaml": concurrentPipeline])
            p.mkdir(".crx")
            let fd = open(p.absolute(".crx/lock"), O_RDWR | O_CREAT, 0o644)
            defer { close(fd) }
            #expect(flock(fd, LOCK_EX | LOCK_NB) == 0)
            let waiting = try p.spawn(["repro"])
            #expect(p.waitFor { waiting.stderrSoFar.contains("waiting for the project lock") })
            waiting.signal(SIGTERM)
            let r = waiting.wait(timeout: 10)
            #expect(r.status == 143 && !r.timedOut, "\(r)")
            #expect(p.runs.isEmpty && !p.exists("pipeline.lock"))
        }
    }
}
