import Foundation

/// `pipeline.lock` kept on disk in step with a build, at a cost per stage that does not grow with
/// the lock.
///
/// Two things made recording a stage O(stages) (so a build O(stages²)): rendering the whole lock
/// again, and rewriting the whole file. Here each stage's block of YAML is rendered once, when its
/// record changes (the file is `Lockfile.header` followed by the blocks in pipeline order —
/// byte-identical to `Lockfile.render(order:)`), and writes are coalesced:
/// ```
///   record(stage) ──▶ block re-rendered ──▶ last write older than `gap`? ──yes──▶ write now
///                                                     │ no
///                                                     ▼
///                     pending: written by `flushIfDue()` once `gap` has passed (the scheduler
///                     calls it when it waits), and by `flush()` at the end of the build
/// ```
/// `gap` is `minimumInterval`, or `costFactor` × what the last write took (syncing the barrier
/// included) when that is longer, so
/// writing the lock stays a bounded share of a build however big the lock is. Stages that finish
/// further apart than `gap` are written one by one, as before.
///
/// The blocks of stages the build does not record are not rendered at all when the lock file on
/// disk still holds them as crx rendered them: the first write takes them from the file's bytes
/// (at 1,000 stages rendering every untouched block was most of that write, when one stage ran).
/// A block is taken only when the file is the one the writer's lock was read from (same identity,
/// each taken with `fstat` on the descriptor the bytes were read through)
/// and the block's digest (`RunLog.lockEntryDigest`) is the one `renderedEntry` names for its
/// stage — the run log's index records the digest of every block crx rendered — so a taken block
/// is byte-identical to its rendering; any other block is rendered.
///
/// Crash safety: every write is atomic (temp file, fsync, rename), of a whole render of records that
/// were complete when added (a stage is recorded only after its outputs are in the cache), and
/// comes after `barrier.sync()`: the objects and run records the lock refers to, written without
/// an fsync of their own, are durable before it is (`DurabilityBarrier`). A kill
/// loses at most the records still pending: those stages are stale on the next repro, which runs
/// them again or restores them from the run-cache (recorded right after the lock record).
///
/// Concurrency: one mutex (`state`) guards the records, the blocks and the timing; it is held to
/// render the text, not while syncing and writing it, so stages keep reading and recording
/// meanwhile. A second lock (`fileWrite`, taken before `state`, never inside it) serialises the
/// writes: two writers never race on the temp file/rename, and a later render is never overwritten
/// by an earlier one. `record` and `flushIfDue` skip writing while another write is under way (its
/// records stay pending); `flush` waits for it.
public final class LockWriter: @unchecked Sendable {
    public let path: String
    /// Pipeline order: the stages the file lists. Records of other stages are dropped at the first
    /// record (stages no longer in the pipeline leave the lock).
    public let order: [String]
    public let minimumInterval: Duration
    public let costFactor: Int

    private struct State {
        var lock: Lockfile
        var blocks: [String: String] = [:]
        var pending = false
        var pruned = false
        var fileBlocksTaken = false
        var lastWrite: ContinuousClock.Instant?
        var gap: Duration
        var writes = 0
        var writing = false
    }

    private let state: Protected<State>
    private let fileWrite = NSLock()
    private let fs = LocalFileSystem()
    private let clock = ContinuousClock()

    /// Called before each write of the file, after its text was rendered: files that must be on disk
    /// whenever the lock is (the run log's index) are written here.
    private let beforeWrite: @Sendable () -> Void
    /// Synced before each write of the file (after `beforeWrite`).
    public let barrier: DurabilityBarrier?

    /// A stage → the lock entry digest of a block crx rendered for it (see above).
    private let renderedEntry: @Sendable (String) -> String?
    /// The identity of the file `lock` was read from (taken on the descriptor its bytes were read
    /// through, not by a later stat of the path, which could describe a file renamed over it since).
    private let loadedIdentity: FileStat?

    /// `identity`: that of the file at `path` that `lock` was read from (`Lockfile.Loaded.identity`);
    /// nil: no block is taken from the file, every block is rendered.
    public init(path: String, order: [String], lock: Lockfile, identity: FileStat? = nil,
                minimumInterval: Duration = .milliseconds(20), costFactor: Int = 10,
                barrier: DurabilityBarrier? = nil, beforeWrite: @escaping @Sendable () -> Void = {},
                renderedEntry: @escaping @Sendable (String) -> String? = { _ in nil }) {
        self.path = path
        self.barrier = barrier
        self.beforeWrite = beforeWrite
        self.renderedEntry = renderedEntry
        loadedIdentity = lock.stages.isEmpty ? nil : identity
        self.order = order
        self.minimumInterval = minimumInterval
        self.costFactor = costFactor
        state = Protected(State(lock: lock, gap: minimumInterval))
    }

    /// The lock as recorded so far (written or pending).
    public var lock: Lockfile { state.withLock { $0.lock } }

    /// One stage's record (without copying the whole lock).
    public func recorded(_ name: String) -> Lockfile.StageRecord? { state.withLock { $0.lock.stages[name] } }

    /// How many times the file was written (for tests and measurements).
    public var writes: Int { state.withLock { $0.writes } }

    /// True when some records are not on disk yet.
    public var hasPending: Bool { state.withLock { $0.pending } }

    /// Adds or replaces a stage's record, and writes the file now unless the last write was less
    /// than `gap` ago (then the record is pending). A failed write throws; the record stays pending.
    public func record(_ name: String, _ record: Lockfile.StageRecord) throws {
        let due = state.withLock { s in
            if !s.pruned {
                let names = Set(order)
                s.lock.stages = s.lock.stages.filter { names.contains($0.key) }
                s.pruned = true
            }
            s.lock.stages[name] = record
            s.blocks[name] = Lockfile.renderBlock(name, record)
            s.pending = true
            return isDue(s)
        }
        if due, fileWrite.try() {
            defer { fileWrite.unlock() }
            try writePending(ifDue: true)
        }
    }

    /// Seconds until pending records are due to be written: nil when nothing is pending, ≤ 0 when due.
    public var secondsUntilDue: Double? {
        state.withLock { s in
            guard s.pending else { return nil }
            // Being written: look again after `gap` (the write in progress may not cover them).
            if s.writing { return Self.seconds(s.gap) }
            guard let last = s.lastWrite else { return 0 }
            return Self.seconds(s.gap - (clock.now - last))
        }
    }

    /// Writes pending records if `gap` has passed since the last write. A failed write keeps them
    /// pending: they are tried again after `gap`, and `flush()` reports the error.
    public func flushIfDue() {
        guard fileWrite.try() else { return }
        defer { fileWrite.unlock() }
        // A failure is tried again after `gap`, and by `flush()`.
        try? writePending(ifDue: true)
    }

    /// Writes pending records now (at the end of a build, whatever its outcome).
    public func flush() throws {
        fileWrite.lock()
        defer { fileWrite.unlock() }
        try writePending(ifDue: false)
    }

    /// The text the file gets: `Lockfile.header` and the blocks in pipeline order.
    public func render() -> String { state.withLock { render(&$0).joined() } }

    /// Every recorded stage's `RunLog.lockEntryDigest` (the XXH3 of `Lockfile.header` + its block),
    /// from the blocks this writer renders anyway: the lineage after a repro needs one per stage,
    /// and rendering each block again cost as much as writing the lock.
    public func entryDigests() -> [String: String] {
        state.withLock { s in
            takeFileBlocks(&s)
            var result: [String: String] = [:]
            result.reserveCapacity(s.lock.stages.count)
            for (name, record) in s.lock.stages {
                let block: String
                if let b = s.blocks[name] {
                    block = b
                } else {
                    block = Lockfile.renderBlock(name, record)
                    s.blocks[name] = block
                }
                result[name] = XXH3Hasher.digest(Lockfile.header + block).hex
            }
            return result
        }
    }

    /// Renders the pending records (under the mutex), then syncs the barrier and writes the file
    /// (outside it). The caller holds `fileWrite`. A failed write leaves the records pending.
    private func writePending(ifDue: Bool) throws {
        guard let pieces = state.withLock({ s -> [String]? in
            guard s.pending, !ifDue || isDue(s) else { return nil }
            s.pending = false
            s.writing = true
            s.lastWrite = clock.now
            return render(&s)
        }) else { return }
        do {
            let started = clock.now
            beforeWrite()
            // Every record in `pieces` was added after its files were deferred, so this sync covers
            // them. Its time counts into `gap`: the fewer barriers, the bigger the batches.
            try barrier?.sync()
            try fs.writeAtomically(pieces, to: path)
            let now = clock.now
            state.withLock { s in
                s.writing = false
                s.lastWrite = now
                s.writes += 1
                s.gap = max(minimumInterval, (now - started) * costFactor)
            }
        } catch {
            state.withLock { s in
                s.writing = false
                s.pending = true
                s.lastWrite = clock.now
            }
            throw error
        }
    }

    // MARK: private (callers hold the mutex)

    private func isDue(_ s: State) -> Bool {
        guard let last = s.lastWrite else { return true }
        return clock.now - last >= s.gap
    }

    /// The file's text in pieces (the header, then the blocks, shared with `blocks`): written one
    /// after the other, never joined (at 10,000 stages the text is 23 MB, rendered at every write).
    private func render(_ s: inout State) -> [String] {
        let names = s.pruned ? order.filter { s.lock.stages[$0] != nil } : nil
        guard let names, !names.isEmpty else { return [s.lock.render(order: order)] }
        takeFileBlocks(&s)
        var pieces = [Lockfile.header]
        pieces.reserveCapacity(names.count + 1)
        for name in names {
            if let block = s.blocks[name] {
                pieces.append(block)
            } else {
                let block = Lockfile.renderBlock(name, s.lock.stages[name]!)
                s.blocks[name] = block
                pieces.append(block)
            }
        }
        return pieces
    }

    /// Takes, once, the blocks of stages not rendered yet from the lock file (see above).
    private func takeFileBlocks(_ s: inout State) {
        guard !s.fileBlocksTaken else { return }
        s.fileBlocksTaken = true
        guard let identity = loadedIdentity, let read = try? fs.readFileAndIdentity(path), read.identity == identity,
              read.bytes.count == identity.size else { return }
        let bytes = read.bytes
        let header = Array(Lockfile.header.utf8)
        guard bytes.starts(with: header) else { return }
        bytes.withUnsafeBufferPointer { buffer in
            let space = UInt8(ascii: " ")
            var start = header.count
            while start < buffer.count {
                // `  <name>:` then lines indented by more than two spaces, up to the next stage.
                var lineEnd = start
                while lineEnd < buffer.count && buffer[lineEnd] != 10 { lineEnd += 1 }
                guard lineEnd < buffer.count, lineEnd - start > 3, buffer[start] == space, buffer[start + 1] == space,
                      buffer[start + 2] != space, buffer[lineEnd - 1] == UInt8(ascii: ":") else { return }
                var end = lineEnd + 1
                while end + 2 < buffer.count && buffer[end] == space && buffer[end + 1] == space && buffer[end + 2] == space {
                    while end < buffer.count && buffer[end] != 10 { end += 1 }
                    guard end < buffer.count else { return }  // a last line without `\n`: not crx's layout
                    end += 1
                }
                defer { start = end }
                guard let name = LockfileLineParser.Scalars.scalar(buffer, from: start + 2, to: lineEnd - 1),
                      s.blocks[name] == nil, s.lock.stages[name] != nil, let expected = renderedEntry(name) else { continue }
                let block = UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: buffer[start ..< end]))
                let hasher = XXH3Hasher()
                header.withUnsafeBytes { hasher.update($0) }
                hasher.update(block)
                if hasher.finalize().hex == expected { s.blocks[name] = String(decoding: block, as: UTF8.self) }
            }
        }
    }

    private static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
