import Foundation

/// The run-cache: a stage's fingerprint (cmd, dep digests, param values, declared outs) → the
/// outputs that run produced. When a stale stage's fingerprint was built before (an input
/// reverted, a param set back), crx restores those outputs from the object store instead of
/// running the command.
///
/// On disk: `.crx/runcache/<2 hex>/<30 hex>` (the fingerprint), written atomically:
/// ```
/// crx-run 2
/// run\t<run id>                                       the run that built them (optional)
/// <xxh128 hex>\t<size>\t<nfiles or ->\t<escaped out path>
/// ```
/// `crx-run 1` entries (no `run` line; crx before 2026-11-23 kept the run in
/// `.crx/runs/fingerprints/`) are read too; a crx that knows only version 1 reads a version 2
/// entry as no entry, and runs the stage.
///
/// With a `barrier` (a build), entries are written without their own fsync and made durable by the
/// barrier; a torn entry after a power loss reads as no entry.
public struct RunCache: Sendable {
    public let directory: String
    /// Where fsyncs are deferred to; nil: each entry is fsynced before its rename.
    public var barrier: DurabilityBarrier?

    public init(directory: String) { self.directory = directory }

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
        guard let data = FileManager.default.contents(atPath: path(key)),
              let text = String(data: data, encoding: .utf8) else { return nil }
        return Self.parse(text)
    }

    /// An entry's text (version 1 or 2) read, or nil: not a whole entry.
    public static func parse(_ text: String) -> Entry? {
        var lines = text.split(separator: "\n")[...]
        guard let header = lines.popFirst(), header == "crx-run 1" || header == "crx-run 2" else { return nil }
        var result = Entry(outs: [], originalRun: nil)
        if header == "crx-run 2", let first = lines.first, first.hasPrefix("run\t") {
            result.originalRun = String(first.dropFirst(4))
            lines = lines.dropFirst()
        }
        for line in lines {
            let f = line.split(separator: "\t", maxSplits: 3, omittingEmptySubsequences: false)
            guard f.count == 4, let d = Digest(f[0]), let size = Int64(f[1]) else { return nil }
            result.outs.append(.init(path: Escaping.unescape(f[3]), hash: PathDigest(digest: d, size: size, nfiles: Int(f[2]))))
        }
        return result
    }

    /// Records that a run with fingerprint `key` produced `outs`; `run`: that run's id.
    public func record(_ key: Digest, outs: [Lockfile.Entry], run: String? = nil) throws {
        var text = "crx-run 2\n"
        if let run, !run.contains("\n") { text += "run\t\(run)\n" }
        for o in outs { text += "\(o.hash.digest.hex)\t\(o.hash.size)\t\(o.hash.nfiles.map(String.init) ?? "-")\t\(Escaping.escape(o.path))\n" }
        try LocalFileSystem().writeAtomically(Array(text.utf8), to: path(key), barrier: barrier)
    }

    public func allKeys() -> [Digest] {
        (try? LocalFileSystem().listFiles(under: directory))?.compactMap { Digest($0.replacingOccurrences(of: "/", with: "")) } ?? []
    }
}
