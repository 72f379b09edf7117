// The pieces of the Slurm executor that need no cluster: `resources:` parsing, the batch script
// (run for real with /bin/sh), parsing what Slurm's commands print, and the config.
import Foundation
import Testing
@testable import CRXCore

@Suite struct StageResourcesTests {
    @Test func parsesEveryResource() throws {
        let stages = try parseStages("""
        stages:
          train:
            cmd: python train.py
            resources: {cpus: 4, mem: 8G, gpus: "a100:2", time: "1-02:30:00", partition: gpu}
          small:
            cmd: echo
            resources:
              mem: 1536
              time: 90m
          plain:
            cmd: echo
        """)
        let train = stages[0].resources
        #expect(train.cpus == 4)
        #expect(train.memoryMiB == 8192)
        #expect(train.gpus == "a100:2")
        #expect(train.time == 95400)
        #expect(train.partition == "gpu")
        #expect(stages[1].resources.memoryMiB == 1536)
        #expect(stages[1].resources.time == 5400)
        #expect(stages[2].resources.isEmpty)
    }

    @Test func slurmAndCrxTimeForms() {
        #expect(StageResources.seconds("30") == 1800) // a bare number is minutes, as for sbatch
        #expect(StageResources.seconds("5:30") == 330)
        #expect(StageResources.seconds("01:00:05") == 3605)
        #expect(StageResources.seconds("2-00") == 172_800)
        #expect(StageResources.seconds("1-01:01") == 90060)
        #expect(StageResources.seconds("45s") == 45)
        #expect(StageResources.seconds("2h") == 7200)
        #expect(StageResources.seconds("0") == nil)
        #expect(StageResources.seconds("1:2:3:4") == nil)
        #expect(StageResources.seconds("soon") == nil)
        #expect(StageResources.slurmTime(3605) == "01:00:05")
        #expect(StageResources.slurmTime(90061.2) == "1-01:01:02")
        #expect(StageResources.mebibytes("512M") == 512)
        #expect(StageResources.mebibytes("1.5G") == 1536)
        #expect(StageResources.mebibytes("2GiB") == 2048)
        #expect(StageResources.mebibytes("1T") == 1_048_576)
        #expect(StageResources.mebibytes("-1G") == nil)
        #expect(StageResources.mebibytes("lots") == nil)
        #expect(StageResources.slurmMemory(8192) == "8G")
        #expect(StageResources.slurmMemory(300) == "300M")
    }

    @Test func badResourcesAreRefusedWithTheirLine() {
        let cases: [(String, String, Int)] = [
            ("cpus: 0", "resources.cpus '0' is not a positive whole number", 4),
            ("mem: plenty", "resources.mem 'plenty' is not a memory size", 4),
            ("gpus: two", "resources.gpus 'two' is not a GPU count", 4),
            ("time: tomorrow", "resources.time 'tomorrow' is not a time limit", 4),
            ("partition: \"a b\"", "resources.partition 'a b' is not a partition name", 4),
            ("cpu: 2", "unknown resource 'cpu' (did you mean 'cpus'?)", 4),
        ]
        for (line, expected, lineNumber) in cases {
            let error = definitionError {
                _ = try parseStages("stages:\n  s:\n    cmd: echo\n    resources: {\(line)}\n")
            }
            #expect(error?.message.contains(expected) == true, "\(line): \(String(describing: error))")
            #expect(error?.location?.line == lineNumber, "\(line)")
        }
        let notMap = definitionError { _ = try parseStages("stages:\n  s:\n    cmd: echo\n    resources: 4\n") }
        #expect(notMap?.message.contains("'resources' must be a mapping") == true)
    }

    @Test func coresTakenFromALocalBudget() {
        #expect(StageResources().cores(budget: 4) == 1)
        #expect(StageResources(cpus: 3).cores(budget: 4) == 3)
        #expect(StageResources(cpus: 16).cores(budget: 4) == 4)
    }
}

@Suite struct SlurmScriptTests {
    func job(_ commands: [String], dir: TempDir) -> StageJob {
        var job = StageJob(stage: "train model", commands: commands, workingDirectory: dir.path + "/sub dir",
                           logPath: dir.path + "/logs/train.log", environment: ["CRX_STAGE": "train model", "CRX_ROOT": dir.path])
        job.resources = StageResources(cpus: 2, memoryMiB: 1024)
        job.timeout = 600
        return job
    }

    /// Runs a generated script with /bin/sh as the job's node would (without the #SBATCH lines mattering).
    func runScript(_ script: SlurmScript, in dir: TempDir) -> (status: Int32, output: String) {
        let path = dir.write("job.sbatch", script.text)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = [path]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try! p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func scriptRunsTheCommandsInOrderInTheStageDirectory() throws {
        let dir = TempDir()
        try FileManager.default.createDirectory(atPath: dir.path + "/sub dir", withIntermediateDirectories: true)
        let script = SlurmScript.make(job(["echo \"$CRX_STAGE\" > who.txt", "pwd >> who.txt", "printf 'it'\"'\"'s\\n' >> who.txt"], dir: dir),
                                      settings: SlurmSettings())
        #expect(script.text.contains("#SBATCH --cpus-per-task=2\n#SBATCH --mem=1G\n#SBATCH --time=00:10:00\n"))
        #expect(script.commandLine == ["--job-name=crx-train_model", "--output=\(dir.path)/logs/train.log", "--chdir=\(dir.path)/sub dir"])
        let (status, output) = runScript(script, in: dir)
        #expect(status == 0, "\(output)")
        let written = try String(contentsOfFile: dir.path + "/sub dir/who.txt", encoding: .utf8)
        #expect(written == "train model\n\(dir.path)/sub dir\nit's\n")
        #expect(output.contains("$ pwd >> who.txt"))
    }

    @Test func scriptStopsAtTheFirstFailureWithItsExitCode() throws {
        let dir = TempDir()
        try FileManager.default.createDirectory(atPath: dir.path + "/sub dir", withIntermediateDirectories: true)
        let script = SlurmScript.make(job(["echo one >> trace", "exit 7", "echo three >> trace"], dir: dir), settings: SlurmSettings())
        let (status, output) = runScript(script, in: dir)
        #expect(status == 7)
        #expect(try String(contentsOfFile: dir.path + "/sub dir/trace", encoding: .utf8) == "one\n")
        let lines = output.split(separator: "\n").map(String.init)
        #expect(SlurmScript.failedCommand(inLogTail: lines) == 1, "\(output)")
        #expect(output.contains("crx: command 2 of 3 exited with code 7"))
    }

    @Test func optionsCombineStageAndSite() {
        var site = SlurmSettings()
        site.partition = "batch"
        site.account = "risk"
        site.qos = "high"
        site.extraOptions = ["--exclusive"]
        #expect(SlurmScript.options(resources: StageResources(), timeout: nil, settings: site)
            == ["--partition=batch", "--account=risk", "--qos=high", "--exclusive"])
        #expect(SlurmScript.options(resources: StageResources(gpus: "2", time: 120, partition: "gpu"), timeout: 30, settings: site)
            == ["--gpus=2", "--time=00:02:00", "--partition=gpu", "--account=risk", "--qos=high", "--exclusive"])
        #expect(SlurmScript.options(resources: StageResources(), timeout: 45, settings: SlurmSettings()) == ["--time=00:00:45"])
    }
}

@Suite struct SlurmClientParsingTests {
    @Test func submission() {
        #expect(SlurmClient.parseSubmission("42\n") == "42")
        #expect(SlurmClient.parseSubmission("42;cluster2\n") == "42")
        #expect(SlurmClient.parseSubmission("sbatch: warning: something\n17\n") == "17")
        #expect(SlurmClient.parseSubmission("Submitted batch job\n") == nil)
    }

    @Test func scontrolLineWithSpacesInValues() {
        let line = "JobId=12 JobName=crx-a UserId=root(0) JobState=FAILED Reason=NonZeroExitCode ExitCode=3:0 "
            + "SubmitTime=2026-11-22T12:03:13 StartTime=2026-11-22T12:03:15 EndTime=2026-11-22T12:03:16 NodeList=n1 BatchHost=n1 "
            + "Command=/proj dir/.crx/slurm/a.sbatch WorkDir=/proj dir StdOut=/proj dir/.crx/logs/a.log Power="
        let f = SlurmClient.parseScontrol(line)
        #expect(f["JobState"] == "FAILED")
        #expect(f["ExitCode"] == "3:0")
        #expect(f["Command"] == "/proj dir/.crx/slurm/a.sbatch")
        #expect(f["StdOut"] == "/proj dir/.crx/logs/a.log")
        #expect(f["Power"] == "")
        let job = SlurmClient.job(id: "12", fields: f, fallbackState: "ENDED", logPath: "/l", scriptPath: "/s", options: [])
        #expect(job.state == "FAILED" && job.exitCode == 3 && job.signal == nil && job.node == "n1")
        #expect(job.started.map { job.ended!.timeIntervalSince($0) } == 1)
        #expect(job.summary == "Slurm job 12 FAILED with exit code 3 on node n1")
        #expect(!job.succeeded)
    }

    @Test func sacctAndStatesAndExitCodes() {
        let f = SlurmClient.parseSacct("7|CANCELLED by 0|0:15|n2|2026-11-22T10:00:00|2026-11-22T10:00:01|2026-11-22T10:00:09\n")
        #expect(f?["JobState"] == "CANCELLED" && f?["NodeList"] == "n2")
        let job = SlurmClient.job(id: "7", fields: f, fallbackState: "ENDED", logPath: "", scriptPath: "", options: [])
        #expect(job.signal == 15 && job.summary == "Slurm job 7 CANCELLED (signal 15) on node n2")
        #expect(SlurmClient.parseStates("1|RUNNING\n2|COMPLETED\n") == ["1": "RUNNING", "2": "COMPLETED"])
        #expect(SlurmClient.parseExitCode("0:0").code == 0 && SlurmClient.parseExitCode("0:0").signal == nil)
        #expect(SlurmClient.parseTime("Unknown") == nil && SlurmClient.parseTime("None") == nil)
        let unknownNode = SlurmClient.job(id: "9", fields: ["JobState": "PENDING", "NodeList": "(null)"], fallbackState: "", logPath: "",
                                          scriptPath: "", options: [])
        #expect(unknownNode.node == nil)
    }
}

@Suite struct ExecutorConfigTests {
    @Test func readsCoreAndSlurmSections() throws {
        let file = try ConfigFile.parse("""
        [core]
            remote = storage
            executor = slurm
        [remote "storage"]
            url = /mnt/cache
        [slurm]
            partition = batch
            jobs = 32
            poll_interval = 0.5
            sbatch_args = --exclusive --constraint=avx2
        """, file: ".crx/config")
        let config = try ExecutorConfig.from(file)
        #expect(config.kind == .slurm)
        #expect(config.slurm.partition == "batch" && config.slurm.jobs == 32 && config.slurm.pollInterval == 0.5)
        #expect(config.slurm.extraOptions == ["--exclusive", "--constraint=avx2"])
        #expect(throws: SlurmError.self) { try ExecutorConfig.from(ConfigFile.parse("[slurm]\njobs = 0\n", file: "c")) }
        #expect(throws: SlurmError.self) { try ExecutorConfig.from(ConfigFile.parse("[slurm]\nnodes = 3\n", file: "c")) }
        #expect(throws: SlurmError.self) { try ExecutorConfig.from(ConfigFile.parse("[core]\nexecutor = pbs\n", file: "c")) }
    }

    @Test func rewritingTheRemotesKeepsTheExecutorSettings() throws {
        let text = "[core]\n\texecutor = slurm\n[slurm]\n\tpartition = batch\n"
        var remotes = try RemoteConfig.parse(text, file: "c")
        remotes.remotes["s"] = ["url": "/tmp/x"]
        remotes.defaultRemote = "s"
        let rewritten = remotes.render()
        let again = try ExecutorConfig.from(ConfigFile.parse(rewritten, file: "c"))
        #expect(again.kind == .slurm && again.slurm.partition == "batch", "\(rewritten)")
        #expect(try RemoteConfig.parse(rewritten, file: "c").remotes["s"]?["url"] == "/tmp/x")
    }
}
