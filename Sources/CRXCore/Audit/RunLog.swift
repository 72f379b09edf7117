import Foundation

/// The record of every stage run, kept so lineage stays accurate after restores, partial repros
/// and crashes.
///
/// ```
/// .crx/runs/journal.v1         every run, one JSON object per line, appended (`Journal`): stage,
///                              cmd, wdir, times, exit code, how the outputs came to be (ran /
///                              run-cache / cache) and from which run
/// .crx/runs/index.json         stage → {run_id, lock_entry, at}: the run behind the current lock
///                              entry and the byte offset of its line in the journal
/// .crx/runs/<run id>.json      a record written by crx before the journal (read, never written)
/// ```
/// A record whose `lock_entry` no longer matches the stage's lock entry is not used (the lock came
/// from elsewhere, e.g. git). Which run first built a run-cache fingerprint is kept in the run-cache
/// entry itself (`RunCache`).
public final class RunLog: @unchecked Sendable {
    public struct Record: Sendable {
        public enum Production: String, Sendable { case ran, runCache = "run_cache", cache }
        public var runID: String
        public var stage: String
        public var cmd: [String]
        public var wdir: String
        public var started: Date
        public var finished: Date
        public var exitCode: Int32?
        public var producedBy: Production
        public var originalRunID: String?
        public var lockEntry: String
        public var executor: String
        /// The cluster job that ran the commands (`--executor slurm`): id, state, node, Slurm's times.
        public var job: BatchJob?

        var json: [String: Any] {
            var o: [String: Any] = ["run_id": runID, "stage": stage, "cmd": cmd, "wdir": wdir.isEmpty ? "." : wdir,
             "started_at": AuditClock.iso(started), "finished_at": AuditClock.iso(finished),
             "duration_s": (finished.timeIntervalSince(started) * 1000).rounded() / 1000,
             "exit_code": JSONReport.orNull(exitCode.map { Int($0) }), "produced_by": producedBy.rawValue,
             "original_run_id": JSONReport.orNull(originalRunID), "lock_entry": lockEntry, "executor": executor]
            if let job { o["job"] = job.json }
            return o
        }

        init(runID: String, stage: String, cmd: [String], wdir: String, started: Date, finished: Date, exitCode: Int32?,
             producedBy: Production, originalRunID: String?, lockEntry: String, executor: String = "local") {
            self.runID = runID
            self.stage = stage
            self.cmd = cmd
            self.wdir = wdir
            self.started = started
            self.finished = finished
            self.exitCode = exitCode
            self.producedBy = producedBy
            self.originalRunID = originalRunID
            self.lockEntry = lockEntry
            self.executor = executor
        }

        init?(json: [String: Any]) {
            guard let runID = json["run_id"] as? String, let stage = json["stage"] as? String,
                  let started = (json["started_at"] as? String).flatMap(AuditClock.parse),
                  let finished = (json["finished_at"] as? String).flatMap(AuditClock.parse),
                  let produced = (json["produced_by"] as? String).flatMap(Production.init(rawValue:)),
                  let entry = json["lock_entry"] as? String else { return nil }
            self.init(runID: runID, stage: stage, cmd: json["cmd"] as? [String] ?? [], wdir: json["wdir"] as? String ?? ".",
                      started: started, finished: finished, exitCode: (json["exit_code"] as? Int).map(Int32.init),
                      producedBy: produced, originalRunID: json["original_run_id"] as? String, lockEntry: entry,
                      executor: json["executor"] as? String ?? "local")
            job = (json["job"] as? [String: Any]).flatMap(BatchJob.init(json:))
        }
    }

    let directory: String
    /// Where the fsyncs of the journal and the index are deferred to (a build's, synced
    /// before each lock write); nil: each append, and the index before its rename, is fsynced.
    public let barrier: DurabilityBarrier?
    /// `journal.v1`: every record, appended (`Journal`).
    let journal: Journal
    /// stage → {run_id, lock_entry}, and whether it changed since `index.json` was written.
    private let index: Protected<(table: [String: [String: String]], dirty: Bool)>
    /// The records this process saved, by run id (so lineage after a repro reads none back from disk).
    private let saved = Protected<[String: Record]>([:])
    /// Serialises writes of `index.json` (a later snapshot is never overwritten by an earlier one).
    private let indexWrite = NSLock()

    public init(directory: String, barrier: DurabilityBarrier? = nil) {
        self.directory = directory
        self.barrier = barrier
        journal = Journal(path: directory + "/journal.v1")
        index = Protected(((JSONReport.read(directory + "/index.json") as? [String: [String: String]]) ?? [:], false))
    }

    /// A stable digest of a stage's lock entry (what the run produced, from what).
    public static func lockEntryDigest(stage: String, record: Lockfile.StageRecord) -> String {
        XXH3Hasher.digest(Lockfile(stages: [stage: record]).render(order: [stage])).hex
    }

    public static func newRunID() -> String { UUID().uuidString.lowercased() }

    /// Appends the run's record to the journal and points the index at it. `writeIndex: false` leaves
    /// the index changed in memory only, for `saveIndex()` to write later: the index lists every
    /// stage, so a build that wrote it after each run wrote O(stages²) bytes.
    public func save(_ record: Record, writeIndex: Bool = true) throws {
        let json = record.json
        let offset = try journal.append(try JSONReport.encodeLine(json), barrier: barrier)
        // Kept as it reads back from the journal (times to the second).
        if let readBack = Record(json: json) { saved.withLock { $0[record.runID] = readBack } }
        index.withLock { state in
            state.table[record.stage] = ["run_id": record.runID, "lock_entry": record.lockEntry, "at": String(offset)]
            state.dirty = true
        }
        if writeIndex { try saveIndex() }
    }

    /// Writes `index.json` if it changed since it was last written.
    public func saveIndex() throws {
        indexWrite.lock()
        defer { indexWrite.unlock() }
        guard let snapshot = index.withLock({ state -> [String: [String: String]]? in
            guard state.dirty else { return nil }
            state.dirty = false
            return state.table
        }) else { return }
        do {
            try LocalFileSystem().writeAtomically(try JSONReport.encode(snapshot), to: directory + "/index.json", barrier: barrier)
        } catch {
            index.withLock { $0.dirty = true }
            throw error
        }
    }

    /// The run that first built a run-cache fingerprint, as a crx before the journal recorded it
    /// (`fingerprints/<fingerprint>`; the run-cache entry names it now).
    public func legacyOriginalRun(fingerprint: Digest) -> String? {
        (try? String(contentsOfFile: "\(directory)/fingerprints/\(fingerprint.hex)", encoding: .utf8))
    }

    /// The run behind a stage's current lock entry, if this machine recorded it.
    public func current(stage: String, lockEntry: String) -> Record? {
        guard let e = index.withLock({ $0.table[stage] }), e["lock_entry"] == lockEntry, let id = e["run_id"] else { return nil }
        return record(id: id, at: e["at"].flatMap { Int64($0) })
    }

    /// The lock entry digest the index records for `stage` (that of the block crx last rendered for it).
    public func indexedLockEntry(stage: String) -> String? { index.withLock { $0.table[stage]?["lock_entry"] } }

    /// The id of the run behind a stage's current lock entry, from the index alone (no record read).
    public func currentRunID(stage: String, lockEntry: String) -> String? {
        guard let e = index.withLock({ $0.table[stage] }), e["lock_entry"] == lockEntry else { return nil }
        return e["run_id"]
    }

    /// The record of run `id`: saved by this process, at `offset` in the journal, or (no offset: an
    /// index entry older than the journal) in its own file.
    func record(id: String, at offset: Int64?) -> Record? {
        if let record = saved.withLock({ $0[id] }) { return record }
        guard let offset else { return JSONReport.read("\(directory)/\(id).json").flatMap(Record.init(json:)) }
        guard let line = journal.line(at: offset),
              let json = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any],
              let record = Record(json: json), record.runID == id else { return nil }
        return record
    }
}
