import Foundation

/// The state cache: what crx remembers of every file it hashed, so an unchanged file is never read
/// again. A file is unchanged when its inode, size and mtime (ns) are those recorded.
///
/// Racy writes: a file modified within the file system's timestamp granularity of the moment crx
/// hashed it could keep the same mtime. An entry is therefore trusted only when the hash was taken
/// at least `racyWindowNs` (50 ms; `coarseRacyWindowNs`, 2 s, for an mtime of whole seconds) after
/// the file's mtime; otherwise the next lookup re-hashes (once).
///
/// On disk, `.crx/state/state.v1` (atomically replaced; a missing, unreadable, damaged or foreign
/// file is an empty cache — it is only a cache):
/// ```
/// crx-state 1
/// <xxh128 hex>\t<inode>\t<size>\t<mtime ns>\t<recorded ns>\t<extras or ->\t<escaped path>
/// end <xxh128 hex of every byte above>
/// ```
/// The last line is a checksum: a digest damaged on disk would otherwise be trusted for a file
/// whose identity still matches, and end up in the lock as the digest of a dep.
/// Paths are root-relative with `\\`, `\t`, `\n` escaped. Extras are facts about the same content
/// that audit reports asked for, computed in the same read pass: `sha256:<hex>,md5:<hex>,lines:<n>`.
public final class StateCache: @unchecked Sendable {
    public struct Entry: Sendable, Hashable {
        public var digest: Digest
        public var inode: UInt64
        public var size: Int64
        public var mtimeNs: Int64
        public var recordedNs: Int64
        /// Other facts about this content (`sha256`, `md5`, `lines`), when some report asked for them.
        public var extra: [String: String] = [:]
    }

    public static let header = "crx-state 1"
    public static let racyWindowNs: Int64 = 50_000_000
    /// The window for an mtime of whole seconds: a file system that keeps seconds only (ext3 with
    /// small inodes, some NFS and FUSE mounts; 2 s on FAT) truncates every write within the same
    /// second or two to the same mtime, so a hash taken less than that after it proves nothing. (A
    /// fine-grained mtime is a whole second once in 10⁹ — or for files unpacked from an archive, which
    /// are old: the wider window costs them nothing.)
    public static let coarseRacyWindowNs: Int64 = 2_000_000_000

    /// How long after `mtimeNs` a hash must have been taken to be trusted.
    static func racyWindow(mtimeNs: Int64) -> Int64 {
        mtimeNs % 1_000_000_000 == 0 ? coarseRacyWindowNs : racyWindowNs
    }

    private let file: String?
    private let table = Protected<(entries: [String: Entry], dirty: Bool, loaded: Bool)>(([:], false, false))
    /// The file's entries, read and parsed on another thread from `init` on, so that a caller can
    /// load the pipeline and the lock meanwhile; taken into `table` (under its lock) at first use.
    private let loading: BackgroundValue<[String: Entry]>?

    /// A cache persisted at `file`; nil keeps it in memory only. The file is read in the background.
    public init(file: String?) {
        self.file = file
        loading = file.map { file in
            BackgroundValue { FileManager.default.contents(atPath: file).flatMap(Self.parse) ?? [:] }
        }
    }

    /// Every access to the table goes through here: the first one waits for the file's entries.
    private func withTable<R>(_ body: (inout (entries: [String: Entry], dirty: Bool, loaded: Bool)) -> R) -> R {
        table.withLock { state in
            if !state.loaded {
                if let loading { state.entries = loading.take() }
                state.loaded = true
            }
            return body(&state)
        }
    }

    public var count: Int { withTable { $0.entries.count } }

    /// The remembered digest of `path` if `stat` still matches what was recorded.
    public func lookup(_ path: String, stat: FileStat) -> Entry? {
        withTable { state in
            guard let e = state.entries[path], e.inode == stat.inode, e.size == stat.size,
                  e.mtimeNs == stat.mtimeNs, e.recordedNs - e.mtimeNs >= Self.racyWindow(mtimeNs: e.mtimeNs) else { return nil }
            return e
        }
    }

    /// Remembers `digest` for `path` as it is now. `trusted`: no process can still be writing the
    /// file (crx wrote it, or its writer exited), so the racy window does not apply.
    public func record(_ path: String, stat: FileStat, digest: Digest, extra: [String: String] = [:], trusted: Bool = false) {
        var now = Int64(Date().timeIntervalSince1970 * 1e9)
        if trusted { now = max(now, stat.mtimeNs + Self.racyWindow(mtimeNs: stat.mtimeNs)) }
        withTable { state in
            var facts = extra
            if let old = state.entries[path], old.digest == digest { facts.merge(old.extra) { new, _ in new } }
            let entry = Entry(digest: digest, inode: stat.inode, size: stat.size, mtimeNs: stat.mtimeNs,
                              recordedNs: now, extra: facts)
            if state.entries[path] != entry {
                state.entries[path] = entry
                state.dirty = true
            }
        }
    }

    public func forget(_ path: String) {
        withTable { state in
            if state.entries.removeValue(forKey: path) != nil { state.dirty = true }
        }
    }

    /// Writes the cache back if anything changed. Failure to save is not fatal to a build: the
    /// caller may ignore it (the next run just re-hashes).
    public func save() throws {
        guard let file else { return }
        let (entries, dirty) = withTable { ($0.entries, $0.dirty) }
        guard dirty else { return }
        try LocalFileSystem().writeAtomically(Self.render(entries), to: file)
        withTable { $0.dirty = false }
    }

    /// The file's bytes for `entries` (sorted by path), written straight into one buffer: at 20,000
    /// files formatting each line through `String` interpolation was most of the cost of saving.
    static func render(_ entries: [String: Entry]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(entries.count * 140 + 64)
        out.append(contentsOf: header.utf8)
        out.append(0x0A)
        let tab: UInt8 = 0x09
        for path in entries.keys.sorted() {
            let e = entries[path]!
            ByteText.appendHex(e.digest, to: &out)
            out.append(tab)
            ByteText.appendDecimal(e.inode, to: &out)
            out.append(tab)
            ByteText.appendDecimal(e.size, to: &out)
            out.append(tab)
            ByteText.appendDecimal(e.mtimeNs, to: &out)
            out.append(tab)
            ByteText.appendDecimal(e.recordedNs, to: &out)
            out.append(tab)
            if e.extra.isEmpty { out.append(UInt8(ascii: "-")) } else { out.append(contentsOf: render(e.extra).utf8) }
            out.append(tab)
            if path.utf8.contains(where: { $0 == 0x5C || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) {
                out.append(contentsOf: Escaping.escape(path).utf8)
            } else {
                out.append(contentsOf: path.utf8)
            }
            out.append(0x0A)
        }
        let checksum = out.withUnsafeBytes { XXH3Hasher.digest($0) }
        out.append(contentsOf: trailer.utf8)
        ByteText.appendHex(checksum, to: &out)
        out.append(0x0A)
        return out
    }

    static func render(_ extra: [String: String]) -> String {
        extra.isEmpty ? "-" : extra.keys.sorted().map { "\($0):\(extra[$0]!)" }.joined(separator: ",")
    }

    /// The extras field (`-`, or `key:value` pairs joined by `,`) of the file's bytes in [from, to),
    /// making strings only of the keys and values; a pair with an empty key or value is skipped.
    static func parseExtra(_ bytes: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> [String: String] {
        if to - from == 1 && bytes[from] == UInt8(ascii: "-") { return [:] }
        var result: [String: String] = [:]
        var start = from
        while start < to {
            var end = start
            var colon = -1
            while end < to && bytes[end] != UInt8(ascii: ",") {
                if colon < 0 && bytes[end] == UInt8(ascii: ":") { colon = end }
                end += 1
            }
            if colon > start && colon + 1 < end {
                result[String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<colon]), as: UTF8.self)] =
                    String(decoding: UnsafeBufferPointer(rebasing: bytes[(colon + 1)..<end]), as: UTF8.self)
            }
            start = end + 1
        }
        return result
    }

    static let trailer = "end "

    static func parse(_ data: Data) -> [String: Entry]? {
        data.withUnsafeBytes { raw in parse(raw.bindMemory(to: UInt8.self)) }
    }

    /// Reads the file's bytes in one pass, without splitting it into strings: a line's numbers and
    /// digest are parsed where they lie; only paths (and extras) become strings. A malformed line
    /// is skipped, a bad header or checksum rejects the whole file.
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> [String: Entry]? {
        let n = bytes.count
        guard n > 0, bytes[n - 1] == 0x0A else { return nil }
        // The checksum line: the file is whole and undamaged, or it is not used at all.
        var lastBreak = n - 2
        while lastBreak >= 0 && bytes[lastBreak] != 0x0A { lastBreak -= 1 }
        guard lastBreak >= 0 else { return nil }
        let body = UnsafeBufferPointer(rebasing: bytes[0...lastBreak])
        let trailerStart = lastBreak + 1
        let trailerBytes = Array(trailer.utf8)
        guard n - 1 - trailerStart == trailerBytes.count + 32,
              trailerBytes.indices.allSatisfy({ bytes[trailerStart + $0] == trailerBytes[$0] }),
              let stored = ByteText.digestHex(bytes, from: trailerStart + trailerBytes.count, to: n - 1),
              stored == XXH3Hasher.digest(UnsafeRawBufferPointer(body)) else { return nil }
        // The header line.
        let headerBytes = Array(header.utf8)
        guard body.count > headerBytes.count, bytes[headerBytes.count] == 0x0A,
              headerBytes.indices.allSatisfy({ bytes[$0] == headerBytes[$0] }) else { return nil }
        var entries: [String: Entry] = [:]
        entries.reserveCapacity(body.count / 110)
        var i = headerBytes.count + 1
        while i < body.count {
            var lineEnd = i
            while bytes[lineEnd] != 0x0A { lineEnd += 1 }
            defer { i = lineEnd + 1 }
            // Seven tab-separated fields; the path (last) may hold anything but escaped tabs.
            var fields: [(Int, Int)] = []
            fields.reserveCapacity(7)
            var fieldStart = i
            var k = i
            while k < lineEnd && fields.count < 6 {
                if bytes[k] == 0x09 {
                    fields.append((fieldStart, k))
                    fieldStart = k + 1
                }
                k += 1
            }
            guard fields.count == 6 else { continue }
            fields.append((fieldStart, lineEnd))
            guard let d = ByteText.digestHex(bytes, from: fields[0].0, to: fields[0].1),
                  let ino = ByteText.unsigned(bytes, from: fields[1].0, to: fields[1].1),
                  let size = ByteText.signed(bytes, from: fields[2].0, to: fields[2].1),
                  let mtime = ByteText.signed(bytes, from: fields[3].0, to: fields[3].1),
                  let rec = ByteText.signed(bytes, from: fields[4].0, to: fields[4].1) else { continue }
            let extra = Self.parseExtra(bytes, from: fields[5].0, to: fields[5].1)
            let pathBytes = UnsafeBufferPointer(rebasing: bytes[fields[6].0..<fields[6].1])
            var path = String(decoding: pathBytes, as: UTF8.self)
            if pathBytes.contains(0x5C) { path = Escaping.unescape(Substring(path)) }
            entries[path] = Entry(digest: d, inode: ino, size: size, mtimeNs: mtime, recordedNs: rec, extra: extra)
        }
        return entries
    }
}

/// Escaping of paths in crx's line-based files: `\` → `\\`, tab → `\t`, newline → `\n`.
public enum Escaping {
    /// Over Unicode scalars, not Characters: "\r\n" is one Character, equal to neither "\r" nor "\n".
    public static func escape(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 == 0x5C || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) else { return s }
        var out = String.UnicodeScalarView()
        for c in s.unicodeScalars {
            switch c {
            case "\\": out.append(contentsOf: "\\\\".unicodeScalars)
            case "\t": out.append(contentsOf: "\\t".unicodeScalars)
            case "\n": out.append(contentsOf: "\\n".unicodeScalars)
            case "\r": out.append(contentsOf: "\\r".unicodeScalars)
            default: out.append(c)
            }
        }
        return String(out)
    }

    public static func unescape(_ s: Substring) -> String {
        guard s.utf8.contains(0x5C) else { return String(s) }
        var out = String.UnicodeScalarView()
        var escaped = false
        for c in s.unicodeScalars {
            if escaped {
                switch c {
                case "t": out.append("\t")
                case "n": out.append("\n")
                case "r": out.append("\r")
                default: out.append(c)
                }
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else {
                out.append(c)
            }
        }
        return String(out)
    }
}
