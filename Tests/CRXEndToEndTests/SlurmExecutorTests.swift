// `crx repro --executor slurm` against a real one-node Slurm cluster started by the tests
// (SlurmCluster: Debian's slurm-wlm + munge). Skipped, with a printed notice, where it cannot start.
#if canImport(Glibc)
import Glibc
#endif
import CRXCore
import Foundation
import Testing

@Suite(.serialized) struct SlurmExecutorTests {
    func slurmRepro(_ p: Project, _ cluster: SlurmCluster, _ arguments: [String] = [], timeout: TimeInterval = 120) throws -> ReproSummary {
        try ReproSummary(p.crx(["repro", "--json", "--executor", "slurm"] + arguments, timeout: timeout, environment: cluster.environment))
    }

    /// The runs recorded in lineage.json, by stage.
    func lineageRuns(_ p: Project) throws -> [String: [String: Any]] {
        let data = try #require(p.bytes("reports/lineage.json"))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        var runs: [String: [String: Any]] = [:]
        for run in object["runs"] as? [[String: Any]] ?? [] {
            if let stage = run["stage"] as? String { runs[stage] = run }
        }
        return runs
    }

    @Test func examplePipelineOnSlurmEndsLikeTheLocalRun() throws {
        guard let cluster = SlurmCluster.shared else { return }
        let example = ExamplePipelineTests()
        try #require(FileManager.default.isExecutableFile(atPath: ExamplePipelineTests.creditriskBinary),
                     "build the stage programs first (swift build)")
        let local = try example.makeCopy()
        let onSlurm = try example.makeCopy()
        let localRun = try local.repro("-j", "2")
        #expect(localRun.exitCode == 0, "\(localRun)")
        let slurmRun = try slurmRepro(onSlurm, cluster, timeout: 600)
        #expect(slurmRun.exitCode == 0, "\(slurmRun)")
        #expect(Set(slurmRun.ran) == Set(localRun.ran))
        #expect(slurmRun.ran.count == 9)

        // Same stages in the lock, each with the same deps, params and outputs (byte for byte).
        let a = try local.lockfile(), b = try onSlurm.lockfile()
        #expect(Set(a.stages.keys) == Set(b.stages.keys))
        for (name, record) in a.stages {
            let other = try #require(b.stages[name])
            #expect(record.deps == other.deps, "deps of \(name) differ")
            #expect(record.params == other.params, "params of \(name) differ")
            #expect(record.outs == other.outs, "outs of \(name) differ")
        }
        // Every stage ran as a Slurm job, recorded in lineage with its id, node and times.
        let runs = try lineageRuns(onSlurm)
        #expect(runs.count == 9)
        var ids: Set<String> = []
        for (stage, run) in runs {
            #expect(run["executor"] as? String == "slurm", "\(stage)")
            let job = try #require(run["job"] as? [String: Any], "\(stage) has no job in lineage")
            #expect(job["state"] as? String == "COMPLETED")
            #expect((job["node"] as? String)?.isEmpty == false)
            #expect(job["started_at"] is String && job["ended_at"] is String && job["submitted_at"] is String)
            if let id = job["job_id"] as? String { ids.insert(id) }
        }
        #expect(ids.count == 9, "one job per stage: \(ids)")
        // Nothing left to do, whichever executor asks.
        #expect(try slurmRepro(onSlurm, cluster).ran.isEmpty)
        #expect(try onSlurm.status().staleStages.isEmpty)
    }

    @Test func independentStagesAreInFlightAsConcurrentJobs() throws {
        guard let cluster = SlurmCluster.shared else { return }
        let p = try Project()
        let stamp = "date +%s.%N"
        p.write("pipeline.yaml", """
        stages:
          left_c1:
            cmd: \(stamp) > left.start; sleep 3; \(stamp) > left.end
            outs: [left.start, left.end]
          right_c1:
            cmd: \(stamp) > right.start; sleep 3; \(stamp) > right.end
            outs: [right.start, right.end]
        """)
        let r = try slurmRepro(p, cluster)
        #expect(r.exitCode == 0, "\(r)")
        func time(_ f: String) throws -> Double { try #require(Double(p.read(f)?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "")) }
        let (ls, le, rs, re) = (try time("left.start"), try time("left.end"), try time("right.start"), try time("right.end"))
        #expect(ls < re && rs < le, "the two jobs did not overlap: left \(ls)…\(le), right \(rs)…\(re)")
        let runs = try lineageRuns(p)
        let leftJob = (runs["left_c1"]?["job"] as? [String: Any])?["job_id"] as? String
        let rightJob = (runs["right_c1"]?["job"] as? [String: Any])?["job_id"] as? String
        #expect(leftJob != nil && rightJob != nil && leftJob != rightJob)
    }

    @Test func aFailingJobFailsItsStageAndItsDownstreamIsNeverSubmitted() throws {
        guard let cluster = SlurmCluster.shared else { return }
        let p = try Project()
        let tag = String(UUID().uuidString.prefix(8)).lowercased()
        p.write("pipeline.yaml", """
        stages:
          bad_\(tag):
            cmd: ["echo preparing", "echo 'model did not converge' >&2; exit 3"]
            outs: [bad.txt]
          fine_\(tag):
            cmd: echo ok > fine.txt
            outs: [fine.txt]
          after_\(tag):
            cmd: cat bad.txt fine.txt > after.txt
            deps: [bad.txt, fine.txt]
            outs: [after.txt]
        """)
        let r = try slurmRepro(p, cluster, ["-k"])
        #expect(r.exitCode == 1, "\(r)")
        #expect(r.failed == ["bad_\(tag)"])
        #expect(r.ran == ["fine_\(tag)"], "-k keeps the other branch going")
        #expect(r.skipped == ["after_\(tag)"])
        let failure = try #require(r.failures["bad_\(tag)"])
        let message = failure["message"] as? String ?? ""
        let ids = cluster.jobs(named: "crx-bad_\(tag)")
        #expect(ids.count == 1)
        #expect(message.contains("Slurm job \(ids.first ?? "?") FAILED with exit code 3"), "\(message)")
        #expect(message.contains("command 2 of 2"), "\(message)")
        #expect(failure["exit_code"] as? Int == 3)
        let log = try #require(failure["log"] as? String)
        let logText = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(logText.contains("model did not converge"), "Slurm's log \(log): \(logText)")
        #expect((failure["stderr_tail"] as? [String] ?? []).contains("model did not converge"))
        // The downstream stage was never handed to Slurm.
        #expect(cluster.jobs(named: "crx-after_\(tag)").isEmpty)
        #expect(!p.exists(".crx/slurm/after_\(tag).sbatch"))
        #expect(try p.lockfile().stages["bad_\(tag)"] == nil)
    }

    @Test func ctrlCCancelsEverySubmittedJob() throws {
        guard let cluster = SlurmCluster.shared else { return }
        let p = try Project()
        p.write("pipeline.yaml", """
        stages:
          long_a:
            cmd: sleep 300; echo > a.txt
            outs: [a.txt]
          long_b:
            cmd: sleep 300; echo > b.txt
            outs: [b.txt]
        """)
        let crx = try p.start(["repro", "--executor", "slurm", "-j", "2"], environment: cluster.environment)
        func submitted() -> [String] {
            let text = (try? String(contentsOf: crx.stdoutURL, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { line in
                guard let r = line.range(of: "submitted Slurm job ") else { return nil }
                return line[r.upperBound...].split(separator: " ").first.map(String.init)
            }
        }
        #expect(p.waitFor(timeout: 60) { submitted().count == 2 }, "jobs were not submitted: \(crx.stderrSoFar)")
        let ids = submitted()
        #expect(p.waitFor(timeout: 60) { ids.contains { cluster.job($0)["JobState"] == "RUNNING" } })
        crx.signal(SIGINT)
        let result = crx.wait(timeout: 60)
        #expect(result.exitCode == 130, "\(result)")
        for id in ids {
            #expect(p.waitFor(timeout: 30) { cluster.job(id)["JobState"] == "CANCELLED" },
                    "job \(id) not cancelled: \(cluster.job(id)["JobState"] ?? "?")")
        }
        let recorded = p.exists("pipeline.lock") ? try p.lockfile().stages.count : 0
        #expect(recorded == 0, "a cancelled stage was recorded")
    }

    @Test func jobsOfAKilledCrxAreCancelledByTheNextRepro() throws {
        guard let cluster = SlurmCluster.shared else { return }
        let p = try Project()
        p.write("pipeline.yaml", "stages:\n  orphan_x:\n    cmd: sleep 300; echo > x.txt\n    outs: [x.txt]\n")
        let crx = try p.start(["repro", "--executor", "slurm"], environment: cluster.environment)
        #expect(p.waitFor(timeout: 60) { !cluster.jobs(named: "crx-orphan_x").isEmpty }, "\(crx.stderrSoFar)")
        let ids = cluster.jobs(named: "crx-orphan_x")
        crx.signal(SIGKILL)
        _ = crx.wait(timeout: 10)
        // The job outlives its crx…
        #expect(["PENDING", "RUNNING"].contains(cluster.job(ids[0])["JobState"] ?? ""))
        // …until the next repro of the project, which cancels it before doing its own work.
        p.write("pipeline.yaml", "stages:\n  orphan_x:\n    cmd: echo quick > x.txt\n    outs: [x.txt]\n")
        let next = p.crx(["repro", "--executor", "slurm"], timeout: 120, environment: cluster.environment)
        #expect(next.exitCode == 0, "\(next)")
        #expect(next.stderr.contains("Slurm jobs \(ids[0]) ran; cancelled them"), "\(next)")
        #expect(p.waitFor(timeout: 30) { cluster.job(ids[0])["JobState"] == "CANCELLED" })
        #expect(p.read("x.txt") == "quick\n")
        #expect(!p.exists(".crx/slurm/in-flight") || p.read(".crx/slurm/in-flight") == "")
    }

    @Test func stageResourcesReachTheJob() throws {
        guard let cluster = SlurmCluster.shared else { return }
        let p = try Project()
        p.write("pipeline.yaml", """
        stages:
          sized:
            cmd: echo "cpus=$SLURM_CPUS_PER_TASK crx=$CRX_CPUS" > sized.txt
            outs: [sized.txt]
            resources: {cpus: 2, mem: 300M, time: 10m, partition: debug}
        """)
        let dry = try p.crx(["repro", "--dry-run", "--json", "--executor", "slurm"], environment: cluster.environment).jsonObject()
        let planned = (dry["jobs"] as? [String: Any])?["sized"] as? [String: Any]
        #expect(planned?["sbatch_options"] as? [String] == ["--cpus-per-task=2", "--mem=300M", "--time=00:10:00", "--partition=debug"])

        let r = try slurmRepro(p, cluster)
        #expect(r.exitCode == 0, "\(r)")
        #expect(p.read("sized.txt") == "cpus=2 crx=2\n")
        let id = try #require((try lineageRuns(p)["sized"]?["job"] as? [String: Any])?["job_id"] as? String)
        let job = cluster.job(id)
        #expect(job["NumCPUs"] == "2", "\(job)")
        #expect(job["MinMemoryNode"] == "300M", "\(job)")
        #expect(job["TimeLimit"] == "00:10:00", "\(job)")
        #expect(job["Partition"] == "debug", "\(job)")
        #expect(job["JobName"] == "crx-sized", "\(job)")
        #expect(job["JobState"] == "COMPLETED", "\(job)")
    }

    @Test func aTimeLimitStopsTheJobAndFailsTheStage() throws {
        guard let cluster = SlurmCluster.shared else { return }
        let p = try Project()
        p.write("pipeline.yaml", """
        stages:
          slow:
            cmd: sleep 200; echo > slow.txt
            outs: [slow.txt]
            resources: {time: "1"}
        """)
        // Slurm enforces limits at minute granularity, plus its KillWait: this takes about 1–2 minutes.
        let r = try slurmRepro(p, cluster, timeout: 240)
        #expect(r.exitCode == 1, "\(r)")
        let message = (r.failures["slow"]?["message"] as? String) ?? ""
        #expect(message.contains("timed out") && message.contains("TIMEOUT"), "\(message)")
    }
}

@Suite struct SlurmDryRunTests {
    @Test func dryRunShowsTheJobsItWouldSubmitWithoutACluster() throws {
        let p = try Project()
        p.write(".crx/config", "[slurm]\n\tpartition = batch\n\taccount = risk\n")
        p.write("pipeline.yaml", """
        stages:
          prep:
            cmd: echo > prep.txt
            outs: [prep.txt]
          train:
            cmd: cat prep.txt > model.txt
            deps: [prep.txt]
            outs: [model.txt]
            timeout: 90m
            resources: {cpus: 4, mem: 8G, gpus: "a100:1", partition: gpu}
        """)
        let r = p.crx("repro", "--dry-run", "--executor", "slurm")
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.stdout.contains("would submit 'prep' to Slurm (sbatch --partition=batch --account=risk)"), "\(r)")
        #expect(r.stdout.contains("would submit 'train' to Slurm (sbatch --cpus-per-task=4 --mem=8G --gpus=a100:1 --time=01:30:00 --partition=gpu --account=risk)"), "\(r)")
        #expect(!p.exists("prep.txt") && !p.exists(".crx/slurm"))

        // The config can choose Slurm for every repro; --executor local wins over it.
        p.write(".crx/config", "[core]\n\texecutor = slurm\n")
        #expect(p.crx("repro", "--dry-run").stdout.contains("would submit 'prep' to Slurm"))
        #expect(p.crx("repro", "--dry-run", "--executor", "local").stdout.contains("would run 'prep'"))
        let bad = p.crx("repro", "--executor", "pbs")
        #expect(bad.exitCode == 2 && bad.stderr.contains("--executor must be one of: local, slurm"), "\(bad)")
    }

    @Test func localResourcesAreACoresBudget() throws {
        let p = try Project()
        let stamp = "date +%s.%N"
        // Two 2-core stages on a budget of 2 cores run one after the other; two 1-core stages overlap.
        p.write("pipeline.yaml", """
        stages:
          big_a:
            cmd: \(stamp) > big_a.start; sleep 1; \(stamp) > big_a.end
            outs: [big_a.start, big_a.end]
            resources: {cpus: 2}
          big_b:
            cmd: \(stamp) > big_b.start; sleep 1; \(stamp) > big_b.end
            outs: [big_b.start, big_b.end]
            resources: {cpus: 2}
          small_a:
            cmd: \(stamp) > small_a.start; sleep 1; \(stamp) > small_a.end
            outs: [small_a.start, small_a.end]
            resources: {cpus: 1}
          small_b:
            cmd: \(stamp) > small_b.start; sleep 1; \(stamp) > small_b.end
            outs: [small_b.start, small_b.end]
        """)
        let big = try p.repro("-j", "2", "big_a", "big_b")
        #expect(big.exitCode == 0, "\(big)")
        func t(_ f: String) -> Double { Double(p.read(f)?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? .nan }
        let bigOverlap = t("big_a.start") < t("big_b.end") && t("big_b.start") < t("big_a.end")
        #expect(!bigOverlap, "2-core stages overlapped on a 2-core budget")
        let small = try p.repro("-j", "2", "small_a", "small_b")
        #expect(small.exitCode == 0, "\(small)")
        #expect(t("small_a.start") < t("small_b.end") && t("small_b.start") < t("small_a.end"), "1-core stages did not overlap")
        // A stage asking for more than the budget still runs (alone).
        p.write("pipeline.yaml", "stages:\n  huge:\n    cmd: echo \"$CRX_CPUS\" > huge.txt\n    outs: [huge.txt]\n    resources: {cpus: 64}\n")
        let huge = try p.repro("-j", "2")
        #expect(huge.exitCode == 0 && p.read("huge.txt") == "64\n", "\(huge)")
    }
}
