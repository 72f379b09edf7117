#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// An append-only file of records, one per line, each read back by the byte offset it was
/// appended at, or all at once from an offset on: the run log's records (`.crx/runs/journal.v1`)
/// and the run-cache's entries (`.crx/runcache/journal.v1`).
///
/// Why one file rather than a file per record: a build wrote a run record, a fingerprint file and a
/// run-cache entry per stage; each is an inode to allocate, a rename and an fsync, which at 1,000
/// stages was a large share of crx's own time per stage (inode allocation on ext4 is slower the more
/// files were deleted in the last minutes — every rebuild of a project). An append is one `write`.
///
/// Writing: under a mutex, one `write` of the whole line to an `O_APPEND` descriptor (so another
/// process appending at the same time cannot interleave inside it); the line's offset is the file
/// position after the write less its length. With a `barrier` (a build) the file is deferred to it
/// — synced before the next lock write, which is what makes a lock's runs durable — otherwise each
/// append is fsynced before `append` returns.
///
/// Damage: a crash can leave a torn last line. A line that is not a whole record reads as nothing
/// (its run is "unknown" in lineage, as a lost record file was), and the next writer first ends the
/// torn line, so later records start on a line of their own. A short or failed write is treated the
/// same way: the descriptor is dropped and the next append re-checks the tail.
final class Journal: @unchecked Sendable {
    let path: String
    /// The append descriptor (-1: not open yet, or dropped after a failed write).
    private let writer = Protected<Int32>(-1)
    /// A read descriptor, opened on first read (pread needs no lock).
    private let reader = Protected<Int32>(-1)
    /// A line longer than this is not a run record (lines are a few hundred bytes).
    static let maxLine = 16 << 20

    init(path: String) { self.path = path }

    deinit {
        writer.withLock { if $0 >= 0 { close($0) } }
        reader.withLock { if $0 >= 0 { close($0) } }
    }

    /// Appends `line` (no newline inside; one is added) and returns its offset in the file. With a
    /// `barrier` the fsync is left to it.
    func append(_ line: [UInt8], barrier: DurabilityBarrier?) throws -> Int64 {
        guard !line.contains(10) else { throw IOError("append a line holding a newline to", path: path, errno: EINVAL) }
        var bytes = line
        bytes.append(10)
        return try writer.withLock { fd -> Int64 in
            if fd < 0 { fd = try openForAppend() }
            do {
                try bytes.withUnsafeBytes { try FileDescriptor.writeAll(fd, $0, path: path) }
                let end = Int64(lseek(fd, 0, SEEK_CUR))
                guard end >= Int64(bytes.count) else { throw IOError("find the end of", path: path, errno: errno) }
                if let barrier {
                    barrier.deferred(path)
                } else if fsync(fd) != 0 {
                    throw IOError("sync", path: path, errno: errno)
                }
                return end - Int64(bytes.count)
            } catch {
                // The tail may be torn: the next append reopens and ends it first.
                close(fd)
                fd = -1
                throw error
            }
        }
    }

    /// Drops the open descriptors, after the file was replaced (`RunCache.compact`): the next append
    /// or read opens the new file, not the unlinked one.
    func reopen() {
        writer.withLock { if $0 >= 0 { close($0) }; $0 = -1 }
        reader.withLock { if $0 >= 0 { close($0) }; $0 = -1 }
    }

    /// Opens the journal for appending, ending a torn last line first.
    private func openForAppend() throws -> Int32 {
        let dir = (path as NSString).deletingLastPathComponent
        if LocalFileSystem().stat(dir) == nil { try LocalFileSystem().createDirectory(dir) }
        let fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw IOError("open", path: path, errno: errno) }
        var st = stat()
        var last: UInt8 = 10
        if fstat(fd, &st) == 0, st.st_size > 0, pread(fd, &last, 1, off_t(st.st_size - 1)) == 1, last != 10 {
            do {
                try [UInt8(10)].withUnsafeBytes { try FileDescriptor.writeAll(fd, $0, path: path) }
            } catch {
                close(fd)
                throw error
            }
        }
        return fd
    }

    /// The line at `offset` (without its newline), or nil: no such offset, or no newline after it
    /// (a torn last line).
    func line(at offset: Int64) -> [UInt8]? {
        guard offset >= 0 else { return nil }
        let fd = reader.withLock { fd -> Int32 in
            if fd < 0 { fd = open(path, O_RDONLY | O_CLOEXEC) }
            return fd
        }
        guard fd >= 0 else { return nil }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        var position = offset
        while out.count < Self.maxLine {
            let n = chunk.withUnsafeMutableBytes { FileDescriptor.preadSome(fd, $0, at: position) }
            guard n > 0 else { return nil }
            if let newline = chunk[0 ..< n].firstIndex(of: 10) {
                out.append(contentsOf: chunk[0 ..< newline])
                return out
            }
            out.append(contentsOf: chunk[0 ..< n])
            position += Int64(n)
        }
        return nil
    }

    /// The whole lines from `offset` to the end of the file, and the offset after the last of them
    /// (a torn last line is left for a later call, which sees it ended by the next append).
    func lines(from offset: Int64) -> (lines: [ArraySlice<UInt8>], end: Int64) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return ([], offset) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var position = offset
        while true {
            let n = chunk.withUnsafeMutableBytes { FileDescriptor.preadSome(fd, $0, at: position) }
            guard n > 0 else { break }
            bytes.append(contentsOf: chunk[0 ..< n])
            position += Int64(n)
        }
        guard let lastNewline = bytes.lastIndex(of: 10) else { return ([], offset) }
        let whole = bytes[..<lastNewline]
        return (whole.split(separator: 10, omittingEmptySubsequences: true), offset + Int64(lastNewline) + 1)
    }
}
