import Foundation

/// What audit reports say about a file or directory: its XXH3-128 (crx's identity), cryptographic
/// digests (SHA-256 always; MD5 on request), size, line count for text, modification time.
public struct FileFacts: Sendable, Hashable {
    public var path: String
    public var xxh128: Digest
    public var size: Int64
    public var modified: Date
    public var sha256: String
    public var md5: String?
    /// Lines of a text file (nil for binary files and directories).
    public var lines: Int?
    /// Files in a directory (nil for a file).
    public var nfiles: Int?
}

/// Gathers `FileFacts` through the state cache: a file whose identity is remembered with the facts
/// asked for is not read; otherwise one read pass computes all of them and remembers them.
///
/// A directory's SHA-256 is that of its listing in `sha256sum` format — one line
/// `<sha256>  <relative path>\n` per file, sorted bytewise — so `sha256sum` can check it.
public struct FileAuditor: Sendable {
    public let root: String
    public let state: StateCache
    let fs = LocalFileSystem()

    public init(root: String, state: StateCache) {
        self.root = root
        self.state = state
    }

    /// Facts about a root-relative path; nil when it does not exist. `lines` and `md5` are asked
    /// for explicitly (sources need them; artefacts only need their SHA-256, which caching an
    /// output already remembered — so lineage reads nothing again).
    public func facts(_ path: String, md5: Bool = false, lines wantLines: Bool = false) throws -> FileFacts? {
        let absolute = ProjectPath.join(root, path)
        guard let st = fs.stat(absolute) else { return nil }
        let modified = Date(timeIntervalSince1970: Double(st.mtimeNs) / 1e9)
        if st.kind == .directory {
            var listing = ""
            var entries: [DirectoryManifest.Entry] = []
            for relative in try fs.listFiles(under: absolute) {
                guard let f = try facts(path + "/" + relative) else { continue }
                listing += "\(f.sha256)  \(relative)\n"
                entries.append(.init(path: relative, digest: f.xxh128, size: f.size))
            }
            let manifest = DirectoryManifest(entries: entries)
            return FileFacts(path: path, xxh128: manifest.digest, size: manifest.totalSize, modified: modified,
                             sha256: CryptoHasher.hex(.sha256, of: Array(listing.utf8)), md5: nil, lines: nil,
                             nfiles: entries.count)
        }
        if let e = state.lookup(path, stat: st), let sha = e.extra["sha256"], !wantLines || e.extra["lines"] != nil,
           !md5 || e.extra["md5"] != nil {
            return FileFacts(path: path, xxh128: e.digest, size: st.size, modified: modified, sha256: sha,
                             md5: e.extra["md5"], lines: e.extra["lines"].flatMap { Int($0) }, nfiles: nil)
        }
        let xxh = XXH3Hasher()
        let sha = CryptoHasher(.sha256)
        let md = md5 ? CryptoHasher(.md5) : nil
        var newlines = 0
        var binary = false
        try FileHasher.stream(path: absolute, sizeHint: st.size) { chunk in
            xxh.update(chunk)
            sha.update(chunk)
            md?.update(chunk)
            for byte in chunk {
                if byte == 10 { newlines += 1 } else if byte == 0 { binary = true }
            }
        }
        let lines: Int? = binary ? nil : newlines + (st.size > 0 && !endsWithNewline(absolute, size: st.size) ? 1 : 0)
        let digest = xxh.finalize()
        let shaHex = sha.finalize()
        let mdHex = md?.finalize()
        var extra = ["sha256": shaHex, "lines": lines.map(String.init) ?? "binary"]
        if let mdHex { extra["md5"] = mdHex }
        if let after = fs.stat(absolute), after == st { state.record(path, stat: st, digest: digest, extra: extra) }
        return FileFacts(path: path, xxh128: digest, size: st.size, modified: modified, sha256: shaHex, md5: mdHex,
                         lines: lines, nfiles: nil)
    }

    private func endsWithNewline(_ absolute: String, size: Int64) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: absolute) else { return true }
        defer { try? handle.close() }
        try? handle.seek(toOffset: UInt64(size - 1))
        return (try? handle.read(upToCount: 1)) == Data([10])
    }
}
