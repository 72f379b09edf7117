// Parallel stages, the project lock, and interruption.
#if canImport(Glibc)
import Glibc
#endif
import CRXCore
import Foundation
import Testing

let twoSleepers = """
stages:
  x:
    cmd: date +%s.%N > x.start && echo hello-from-x && sleep 1 && echo x > x.txt && date +%s.%N > x.end
    outs: [x.txt]
  y:
    cmd: date +%s.%N > y.start && echo hello-from-y && sleep 1 && echo y > y.txt && date +%s.%N > y.end
    outs: [y.txt]

"""

@Suite struct ConcurrencyTests {
    @Test func twoJobsRunIndependentStagesAtOnce() throws {
        let p = try Project(["pipeline.yaml": twoSleepers])
        let r = p.crx("repro", "-j", "2")
        #expect(r.exitCode == 0, "\(r)")
        // The two commands' run intervals overlap (robust on a loaded machine, unlike a wall-clock bound).
        func time(_ f: String) -> Double { Double(p.read(f)?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? .nan }
        #expect(time("x.start") < time("y.end") && time("y.start") < time("x.end"),
                "with -j 2 the stages must run at the same time (x \(time("x.start"))–\(time("x.end")), y \(time("y.start"))–\(time("y.end")))")
        #expect(r.stdout.contains("[x] hello-from-x"), "\(r)")
        #expect(r.stdout.contains("[y] hello-from-y"), "\(r)")
        #expect(p.read("x.txt") == "x\n" && p.read("y.txt") == "y\n")
        #expect(try p.lockedStages() == ["x", "y"])
    }

    @Test func oneJobRunsStagesOneAfterAnother() throws {
        let p = try Project(["pipeline.yaml": twoSleepers])
        let r = p.crx("repro", "-j", "1")
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.duration >= 2.0, "two 1 s stages with -j 1 took \(r.duration) s")
        #expect(r.stdout.contains("hello-from-x") && !r.stdout.contains("[x] "), "unprefixed with -j 1: \(r)")
        #expect(try p.lockedStages() == ["x", "y"])
    }

    @Test func projectLockMakesASecondReproWaitButNotStatus() throws {
        let p = try Project([
            "pipeline.yaml": """
            stages:
              slow:
                cmd: touch started.flag && sleep 2 && echo done > slow.txt && echo slow >> runs.log
                outs: [slow.txt]

            """,
        ])
        let first = try p.start(["repro"])
        #expect(p.waitFor { p.exists("started.flag") }, "the first repro never started its stage")

        let second = try p.start(["repro"])
        // status reads only: it answers while the lock is held.
        let status = p.crx("status", "--json")
        #expect(status.exitCode == 0, "\(status)")
        #expect(status.duration < 1.0, "status blocked for \(status.duration) s")
        #expect((try? status.jsonObject())?.keys.contains("slow") == true, "\(status)")

        // A bounded wait gives up with a message.
        let impatient = p.crx(["repro", "--lock-timeout", "0.5"], timeout: 10)
        #expect(impatient.exitCode != 0, "\(impatient)")
        #expect(impatient.exitCode != -1, "\(impatient)")
        #expect(impatient.stderr.contains("lock"), "\(impatient)")
        #expect(impatient.duration < 1.5, "\(impatient)")

        #expect(p.waitFor(timeout: 5) { second.stderrSoFar.contains("waiting for the project lock") },
                "the second repro does not say it waits: \(second.stderrSoFar)")
        #expect(first.isRunning, "the first repro should still be running its 2 s stage")

        let r1 = first.wait()
        let r2 = second.wait()
        #expect(r1.exitCode == 0, "\(r1)")
        #expect(r2.exitCode == 0, "\(r2)")
        #expect(r2.duration > r1.duration - 1.0, "the second repro ended before the first released the lock")
        #expect(r2.stdout.contains("ran 0"), "the second repro found the work done: \(r2)")
        #expect(p.runs == ["slow"], "the stage ran once: \(p.runs)")
        #expect(try p.lockedStages() == ["slow"])
    }

    @Test func sigintStopsTheRunAndKeepsCompletedStages() throws {
        let p = try Project([
            "pipeline.yaml": """
            stages:
              first:
                cmd: echo first > first.txt && echo first >> runs.log
                outs: [first.txt]
              second:
                cmd: echo $$ > second.pid && sleep 5 && cat first.txt > second.txt && echo second >> runs.log
                deps: [first.txt]
                outs: [second.txt]

            """,
        ])
        let running = try p.start(["repro", "-j", "1"])
        #expect(p.waitFor { (p.read("second.pid") ?? "").hasSuffix("\n") }, "the second stage never started")
        let pgid = try #require(pid_t((p.read("second.pid") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)))
        usleep(100_000)
        let sent = Date()
        running.signal(SIGINT)
        let r = running.wait(timeout: 10)
        let took = Date().timeIntervalSince(sent)
        #expect(r.exitCode == 130, "\(r)")
        #expect(took < 3, "crx took \(took) s to stop after SIGINT")
        #expect(r.stderr.contains("interrupted"), "\(r)")

        // The stage's process group is gone.
        let gone = p.waitFor(timeout: 1) { kill(-pgid, 0) != 0 && errno == ESRCH }
        #expect(gone, "processes of the interrupted stage (group \(pgid)) are still alive")
        if !gone { kill(-pgid, SIGKILL) }

        // The lock parses and keeps the completed stage only.
        #expect(try p.lockedStages() == ["first"], "\(p.lockText ?? "")")
        #expect(!p.exists("second.txt"))
        #expect(p.runs == ["first"])
        // Next run: only the interrupted stage.
        p.write("pipeline.yaml", (p.read("pipeline.yaml") ?? "").replacingOccurrences(of: "sleep 5", with: "sleep 0"))
        let again = expectSuccess(try p.repro())
        #expect(again.ran == ["second"], "\(again)")
        #expect(again.upToDate == ["first"], "\(again)")
    }

    @Test func lockTimeoutGivesUpWithAnAccurateMessage() throws {
        let p = try Project(["pipeline.yaml": validPipeline, "in.txt": "x\n"])
        p.mkdir(".crx")
        // Hold the project lock from here, as another crx would.
        let fd = open(p.absolute(".crx/lock"), O_RDWR | O_CREAT, 0o644)
        #expect(fd >= 0)
        defer { close(fd) }
        #expect(flock(fd, LOCK_EX | LOCK_NB) == 0)
        let r = p.crx(["repro", "--lock-timeout", "0.5"], timeout: 10)
        #expect(r.exitCode == 1, "\(r)")
        #expect(r.duration >= 0.5 && r.duration < 2, "\(r)")
        #expect(r.stderr.contains("waiting for the project lock"), "\(r)")
        #expect(r.stderr.contains("--lock-timeout"), "\(r)")
        #expect(!r.stderr.contains("after 0s"), "it waited 0.5 s, not 0 s: \(r)")
        #expect(r.stderr.contains("0.5"), "\(r)")
        #expect(p.runs.isEmpty && !p.exists("pipeline.lock"))
        // checkout takes the same lock.
        let c = p.crx(["checkout", "--lock-timeout", "0.2"], timeout: 10)
        #expect(c.exitCode == 1, "\(c)")
        // Released: it goes through.
        flock(fd, LOCK_UN)
        expectSuccess(try p.repro("--lock-timeout", "0.5"))
        #expect(p.runs == ["a"])
    }
}
