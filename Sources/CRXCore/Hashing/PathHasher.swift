/// What crx records of a dep or an out: its digest, total size and, for a directory, its file count.
public struct PathDigest: Sendable, Hashable {
    public var digest: Digest
    public var size: Int64
    /// Number of files for a directory; nil for a file.
    public var nfiles: Int?

    public init(digest: Digest, size: Int64, nfiles: Int? = nil) {
        self.digest = digest
        self.size = size
        self.nfiles = nfiles
    }

    public var isDirectory: Bool { nfiles != nil }
}

/// Hashes workspace paths (files and directories) through the state cache: a file whose identity
/// (inode, size, mtime) is remembered is not read.
public struct PathHasher: Sendable {
    public let root: String
    public let fs: LocalFileSystem
    public let state: StateCache
    /// When set, a file the state cache does not vouch for is not read: `NotRemembered` is thrown
    /// instead (for deciding cheaply, with stats only, whether anything needs hashing at all).
    public var rememberedOnly = false

    /// Thrown in `rememberedOnly` mode for the first file that would have to be read.
    public struct NotRemembered: Error, Sendable {
        public let path: String
    }

    public init(root: String, state: StateCache, fs: LocalFileSystem = LocalFileSystem()) {
        self.root = root
        self.state = state
        self.fs = fs
    }

    /// The digest of a root-relative path, or nil when it does not exist.
    public func digest(of path: String) throws -> PathDigest? {
        let absolute = ProjectPath.join(root, path)
        guard let st = fs.stat(absolute) else { return nil }
        if st.kind == .directory {
            let manifest = try self.manifest(of: path)
            return PathDigest(digest: manifest.digest, size: manifest.totalSize, nfiles: manifest.entries.count)
        }
        return PathDigest(digest: try fileDigest(path, stat: st).digest, size: st.size)
    }

    /// The manifest of a directory, hashing each file through the state cache.
    public func manifest(of path: String) throws -> DirectoryManifest {
        let absolute = ProjectPath.join(root, path)
        var entries: [DirectoryManifest.Entry] = []
        for relative in try fs.listFiles(under: absolute) {
            let filePath = path.isEmpty ? relative : path + "/" + relative
            guard let st = fs.stat(ProjectPath.join(root, filePath)) else { continue }
            let d = try fileDigest(filePath, stat: st)
            entries.append(.init(path: relative, digest: d.digest, size: st.size))
        }
        return DirectoryManifest(entries: entries)
    }

    /// A file's digest: from the state cache when its identity matches, else read once and remembered.
    public func fileDigest(_ path: String, stat: FileStat) throws -> StateCache.Entry {
        if let hit = state.lookup(path, stat: stat) { return hit }
        if rememberedOnly { throw NotRemembered(path: path) }
        let (digest, _) = try FileHasher.hash(path: ProjectPath.join(root, path), sizeHint: stat.size)
        // Re-stat: if the file changed while it was read, the digest must not be remembered.
        if let after = fs.stat(ProjectPath.join(root, path)), after == stat {
            state.record(path, stat: stat, digest: digest)
        }
        return StateCache.Entry(digest: digest, inode: stat.inode, size: stat.size, mtimeNs: stat.mtimeNs,
                                recordedNs: 0)
    }
}
