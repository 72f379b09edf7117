#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The local cache: `.crx/cache/`.
///
/// Layout (versioned, so a future format lives beside this one):
/// ```
/// .crx/cache/v1/objects/<first 2 hex digits>/<remaining 30 hex digits>   one zstd frame (read-only, 0444)
/// .crx/cache/v1/tmp/                                                     objects being written
/// ```
/// An object file is exactly a zstd frame of the content (`zstd -d < object` restores it); its name
/// is the XXH3-128 of the uncompressed bytes. Writes go to `tmp/`, are hashed while compressed,
/// fsynced and renamed into place, so an object path either does not exist or holds a complete
/// frame of the right content. Identical content is stored once. Reads re-hash while decompressing
/// and refuse mismatches.
public struct LocalObjectStore: ObjectStore {
    public let directory: String
    public var compressionLevel: Int32
    /// Files above this size are compressed on all cores.
    public var multithreadThreshold: Int64 = 32 << 20

    public init(directory: String, compressionLevel: Int32 = 1) {
        self.directory = directory
        self.compressionLevel = compressionLevel
    }

    var objectsDirectory: String { directory + "/v1/objects" }
    var tempDirectory: String { directory + "/v1/tmp" }

    public func objectPath(_ d: Digest) -> String {
        let hex = d.hex
        return "\(objectsDirectory)/\(hex.prefix(2))/\(hex.dropFirst(2))"
    }

    public func contains(_ digest: Digest) -> Bool { access(objectPath(digest), F_OK) == 0 }

    public func insert(file path: String) throws -> StoredFile {
        let size = LocalFileSystem().stat(path)?.size ?? 0
        let cores = Int32(ProcessInfo.processInfo.activeProcessorCount)
        let workers: Int32 = size >= multithreadThreshold && cores > 1 ? cores : 0
        let sha = CryptoHasher(.sha256)
        let (digest, stored) = try writeObject(workers: workers) { feed in
            try FileHasher.stream(path: path) { chunk in
                sha.update(chunk)
                try feed(chunk)
            }
        }
        return StoredFile(digest: digest, size: stored, sha256: sha.finalize())
    }

    @discardableResult
    public func insert(bytes: [UInt8]) throws -> Digest {
        try writeObject(workers: 0) { feed in
            try bytes.withUnsafeBytes { try feed($0) }
            return Int64(bytes.count)
        }.digest
    }

    /// Streams content through XXH3 and zstd into a temp file, then publishes it under its digest.
    private func writeObject(workers: Int32,
                             produce: ((UnsafeRawBufferPointer) throws -> Void) throws -> Int64) throws -> (digest: Digest, size: Int64) {
        let fs = LocalFileSystem()
        try fs.createDirectory(tempDirectory)
        let temp = "\(tempDirectory)/\(getpid())-\(UInt64.random(in: 0 ... .max))"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw IOError("create cache object", path: temp, errno: errno) }
        var published = false
        defer {
            if !published { unlink(temp) }
        }
        let hasher = XXH3Hasher()
        let compressor = ZstdCompressor(level: compressionLevel, workers: workers)
        let size: Int64
        do {
            size = try produce { chunk in
                hasher.update(chunk)
                try compressor.compress(chunk, end: false) { try FileDescriptor.writeAll(fd, $0, path: temp) }
            }
            try compressor.compress(UnsafeRawBufferPointer(start: nil, count: 0), end: true) {
                try FileDescriptor.writeAll(fd, $0, path: temp)
            }
            guard fsync(fd) == 0 else { throw IOError("sync cache object", path: temp, errno: errno) }
            fchmod(fd, 0o444)
            close(fd)
        } catch {
            close(fd)
            throw error
        }
        let digest = hasher.finalize()
        let final = objectPath(digest)
        if access(final, F_OK) == 0 { return (digest, size) } // stored once; the temp file goes
        try fs.createDirectory((final as NSString).deletingLastPathComponent)
        guard rename(temp, final) == 0 else { throw IOError("publish cache object", path: final, errno: errno) }
        published = true
        return (digest, size)
    }

    /// Decompresses an object, verifying digest and frame completeness, into `sink`.
    private func decode(_ digest: Digest, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        let path = objectPath(digest)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { throw StoreError.missing(digest, path: path) }
            throw IOError("read cache object", path: path, errno: errno)
        }
        defer { close(fd) }
        let hasher = XXH3Hasher()
        let decompressor = ZstdDecompressor()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { buffer.deallocate() }
        var sawInput = false
        do {
            while true {
                let n = try FileDescriptor.readSome(fd, buffer, path: path)
                if n == 0 { break }
                sawInput = true
                try decompressor.decompress(UnsafeRawBufferPointer(rebasing: buffer[0 ..< n])) { plain in
                    hasher.update(plain)
                    try sink(plain)
                }
            }
        } catch let error as ZstdError {
            throw StoreError.corrupt(digest, objectPath: path, reason: error.message)
        }
        guard sawInput, decompressor.atFrameEnd else {
            throw StoreError.corrupt(digest, objectPath: path, reason: "truncated zstd frame")
        }
        let actual = hasher.finalize()
        guard actual == digest else {
            throw StoreError.corrupt(digest, objectPath: path, reason: "content hashes to \(actual)")
        }
    }

    public func read(_ digest: Digest) throws -> [UInt8] {
        var out: [UInt8] = []
        try decode(digest) { out.append(contentsOf: $0) }
        return out
    }

    public func materialize(_ digest: Digest, to path: String) throws {
        let fs = LocalFileSystem()
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty, fs.stat(parent) == nil { try fs.createDirectory(parent) }
        let temp = "\(path).crx-tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw IOError("create", path: temp, errno: errno) }
        var done = false
        defer {
            if !done { unlink(temp) }
        }
        do {
            try decode(digest) { try FileDescriptor.writeAll(fd, $0, path: temp) }
            close(fd)
        } catch {
            close(fd)
            throw error
        }
        // A previous output (possibly a directory) in the way is replaced.
        if let existing = fs.lstat(path), existing.kind == .directory { try fs.remove(path) }
        guard rename(temp, path) == 0 else { throw IOError("rename into place", path: path, errno: errno) }
        done = true
    }

    public func verify(_ digest: Digest) -> ObjectHealth {
        do {
            try decode(digest) { _ in }
            return .ok
        } catch StoreError.missing {
            return .missing
        } catch let StoreError.corrupt(_, _, reason) {
            return .corrupt(reason)
        } catch {
            return .corrupt("\(error)")
        }
    }

    public func allDigests() throws -> [Digest] {
        let fs = LocalFileSystem()
        guard fs.stat(objectsDirectory) != nil else { return [] }
        return try fs.listFiles(under: objectsDirectory).compactMap { Digest($0.replacingOccurrences(of: "/", with: "")) }
    }

    /// Removes temp files left by killed writers (only files older than a minute: a live writer's
    /// temp file is younger).
    public func removeStaleTemporaries() {
        let fs = LocalFileSystem()
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: tempDirectory) else { return }
        let cutoff = Int64((Date().timeIntervalSince1970 - 60) * 1e9)
        for name in names {
            let path = tempDirectory + "/" + name
            if let st = fs.lstat(path), st.mtimeNs < cutoff { unlink(path) }
        }
    }
}
