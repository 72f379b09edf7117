import Foundation

/// The run-cache: a stage's fingerprint (cmd, dep digests, param values, declared outs) → the
/// outputs that run produced, and the run that produced them. When a stale stage's fingerprint was
/// built before (an input reverted, a param set back), crx restores those outputs from the object
/// store instead of running the command.
///
/// On disk, two forms:
/// - `.crx/runcache/journal.v1` — what builds record: one line per entry, appended (`Journal`), a
///   later line for the same fingerprint replacing an earlier one:
///   `<fingerprint hex>\t<run id or empty>\t<number of outputs>` then `\t<xxh128 hex>\t<size>\t<nfiles
///   or ->\t<escaped out path>` per output. One append per stage instead of a file per stage (an
///   inode, a rename, an fsync); read once per process and then from where it was read to
///   (`table`); `crx gc` rewrites it with one line per fingerprint it keeps (`compact`).
/// - `.crx/runcache/<2 hex>/<30 hex>` — an entry as a file of its own, the form remotes exchange
///   (`crx pull` downloads into it; `crx push --run-cache` uploads what `entry` reads, rendered in
///   this form in a temp file), and what crx before the journal recorded:
///   ```
///   crx-run 2
///   run\t<run id>                                       the run that built them (optional)
///   <xxh128 hex>\t<size>\t<nfiles or ->\t<escaped out path>
///   ```
///   `crx-run 1` files (no `run` line; crx before 2026-11-23 kept the run in
///   `.crx/runs/fingerprints/`) are read too; a crx that knows only version 1 reads a version 2
///   entry as no entry, and runs the stage.
/// The journal is consulted first.
///
/// With a `barrier` (a build), entries are recorded without their own fsync and made durable by the
/// barrier; a torn entry after a power loss reads as no entry.
public struct RunCache: Sendable {
    public let directory: String
    /// Where fsyncs are deferred to; nil: each entry is fsynced when recorded.
    public var barrier: DurabilityBarrier?
    let journal: Journal
    /// What has been read of the journal (shared by copies of this value).
    private let table: Protected<Table>

    public init(directory: String) {
        self.directory = directory
        journal = Journal(path: directory + "/journal.v1")
        table = Protected(Table())
    }

    /// The fingerprint of a stage run with the given inputs.
    public static func fingerprint(cmd: [String], deps: [Lockfile.Entry], params: [String: [String: ParamValue]],
                                   outs: [Stage.Out]) -> Digest {
        var text = "crx-run 1\n"
        for c in cmd { text += "cmd\t\(Escaping.escape(c))\n" }
        for d in deps.sorted(by: { $0.path < $1.path }) { text += "dep\t\(d.hash.digest.hex)\t\(Escaping.escape(d.path))\n" }
        for file in params.keys.sorted() {
            for (key, value) in params[file]!.sorted(by: { $0.key < $1.key }) {
                text += "param\t\(Escaping.escape(file))\t\(Escaping.escape(key))\t\(Escaping.escape(value.canonical))\n"
            }
        }
        for o in outs.sorted(by: { $0.path < $1.path }) { text += "out\t\(o.cache)\t\(Escaping.escape(o.path))\n" }
        return XXH3Hasher.digest(text)
    }

    /// Where an entry's own file is (remotes' form; older crx's).
    func path(_ key: Digest) -> String {
        let hex = key.hex
        return "\(directory)/\(hex.prefix(2))/\(hex.dropFirst(2))"
    }

    /// An entry: the outputs a run produced, and that run (when the entry names it).
    public struct Entry: Sendable, Equatable {
        public var outs: [Lockfile.Entry]
        public var originalRun: String?
    }

    public func lookup(_ key: Digest) -> [Lockfile.Entry]? { entry(key)?.outs }

    public func entry(_ key: Digest) -> Entry? {
        if let found = journalEntries({ $0.entries[key] }) { return found }
        guard let data = FileManager.default.contents(atPath: path(key)),
              let text = String(data: data, encoding: .utf8) else { return nil }
        return Self.parse(text)
    }

    /// Records that a run with fingerprint `key` produced `outs`; `run`: that run's id.
    public func record(_ key: Digest, outs: [Lockfile.Entry], run: String? = nil) throws {
        _ = try journal.append(Array(Self.journalLine(key, Entry(outs: outs, originalRun: run)).utf8), barrier: barrier)
    }

    /// Every fingerprint with an entry (journal and files).
    public func allKeys() -> [Digest] {
        var keys = journalEntries { Set($0.entries.keys) }
        for file in (try? LocalFileSystem().listFiles(under: directory)) ?? [] {
            if let key = Digest(file.replacingOccurrences(of: "/", with: "")) { keys.insert(key) }
        }
        return Array(keys)
    }

    /// The entry of `key` (as `entry` finds it) written to a temp file in the file form remotes hold,
    /// for `push` to upload; the caller removes it. Nothing is left in the run-cache (push runs
    /// without the project lock), and what is uploaded is what `entry` — which the push checked the
    /// objects of — says, even where an older file of the same key says otherwise.
    public func uploadFile(_ key: Digest) throws -> String? {
        guard let entry = entry(key) else { return nil }
        let temp = "\(directory)/\(key.hex).crx-tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try LocalFileSystem().writeAtomically(Array(Self.render(entry).utf8), to: temp)
        return temp
    }

    /// Drops the entries of `keys` (their files, and their journal lines) and superseded journal
    /// lines: the journal is rewritten with one line per remaining fingerprint (atomic; call with the
    /// project lock held, so no build appends meanwhile). `crx gc`.
    public func compact(removing keys: Set<Digest>) throws {
        for key in keys { unlink(path(key)) }
        let (entries, lines) = journalEntries { ($0.entries, $0.lines) }
        guard entries.keys.contains(where: keys.contains) || lines > entries.count else { return }
        var text = ""
        for (key, entry) in entries where !keys.contains(key) { text += Self.journalLine(key, entry) + "\n" }
        try LocalFileSystem().writeAtomically(Array(text.utf8), to: journal.path)
        journal.reopen()
        table.withLock { $0 = Table() }
    }

    /// What has been read of the journal: its entries, the offset read to, the lines read, and the
    /// file's identity (a rewrite by `compact`, here or in another process, starts the reading over).
    struct Table {
        var entries: [Digest: Entry] = [:]
        var end: Int64 = 0
        var lines = 0
        var identity: (device: UInt64, inode: UInt64)?
    }

    /// `body` over what has been read of the journal, read on from where the last call stopped
    /// (another process, or another `RunCache` of this one, may have appended since).
    private func journalEntries<T>(_ body: (Table) -> T) -> T {
        table.withLock { state in
            let st = LocalFileSystem().stat(journal.path)
            let identity = st.map { ($0.device, $0.inode) }
            if let st, st.size < state.end || state.identity.map({ $0 != identity! }) == true { state = Table() }
            state.identity = identity
            let (lines, end) = journal.lines(from: state.end)
            for line in lines {
                state.lines += 1
                guard let (key, entry) = Self.parseLine(line) else { continue }
                state.entries[key] = entry
            }
            state.end = end
            return body(state)
        }
    }

    /// `<fingerprint>\t<run or empty>\t<number of outputs>` then 4 fields per output: the count
    /// makes a line torn at a field boundary unreadable rather than an entry with fewer outputs.
    static func journalLine(_ key: Digest, _ entry: Entry) -> String {
        var line = "\(key.hex)\t\(entry.originalRun.map(Escaping.escape) ?? "")\t\(entry.outs.count)"
        for o in entry.outs { line += "\t" + outFields(o).joined(separator: "\t") }
        return line
    }

    static func outFields(_ o: Lockfile.Entry) -> [String] {
        [o.hash.digest.hex, String(o.hash.size), o.hash.nfiles.map(String.init) ?? "-", Escaping.escape(o.path)]
    }

    static func out(_ f: ArraySlice<Substring>) -> Lockfile.Entry? {
        let f = Array(f)
        guard f.count == 4, let d = Digest(f[0]), let size = Int64(f[1]) else { return nil }
        return .init(path: Escaping.unescape(f[3]), hash: PathDigest(digest: d, size: size, nfiles: Int(f[2])))
    }

    /// A journal line read, or nil: not a whole entry (a torn line).
    static func parseLine(_ bytes: ArraySlice<UInt8>) -> (Digest, Entry)? {
        let text = String(decoding: bytes, as: UTF8.self)
        let f = text.split(separator: "\t", omittingEmptySubsequences: false)
        guard f.count >= 3, let key = Digest(f[0]), let n = Int(f[2]), n >= 0, f.count == 3 + 4 * n else { return nil }
        var entry = Entry(outs: [], originalRun: f[1].isEmpty ? nil : Escaping.unescape(f[1]))
        var i = 3
        while i < f.count {
            guard let o = out(f[i ..< i + 4]) else { return nil }
            entry.outs.append(o)
            i += 4
        }
        return (key, entry)
    }

    /// An entry's file text (version 1 or 2) read, or nil: not a whole entry.
    public static func parse(_ text: String) -> Entry? {
        var lines = text.split(separator: "\n")[...]
        guard let header = lines.popFirst(), header == "crx-run 1" || header == "crx-run 2" else { return nil }
        var result = Entry(outs: [], originalRun: nil)
        if header == "crx-run 2", let first = lines.first, first.hasPrefix("run\t") {
            result.originalRun = Escaping.unescape(first.dropFirst(4))
            lines = lines.dropFirst()
        }
        for line in lines {
            guard let o = out(line.split(separator: "\t", maxSplits: 3, omittingEmptySubsequences: false)[...]) else { return nil }
            result.outs.append(o)
        }
        return result
    }

    /// An entry as its own file (version 2).
    static func render(_ entry: Entry) -> String {
        var text = "crx-run 2\n"
        if let run = entry.originalRun { text += "run\t\(Escaping.escape(run))\n" }
        for o in entry.outs { text += Self.outFields(o).joined(separator: "\t") + "\n" }
        return text
    }
}
