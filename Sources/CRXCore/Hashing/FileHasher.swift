#if canImport(Glibc)
import Glibc
#endif

/// Reads a file once, in fixed-size chunks, and hands every chunk to its consumers: the XXH3 hasher
/// always, and optionally more (the zstd compressor when caching, a SHA-256 for reports), so every
/// consumer shares one read pass. Memory stays at one chunk whatever the file size.
public enum FileHasher {
    /// 128 KiB: fits in L2, so the kernel's copy out of the page cache stays cheap (1 MiB chunks
    /// measured 2.4× its cost).
    public static let chunkSize = 128 << 10

    /// Digest and size of the file at `path` (`sizeHint`: see `stream`).
    public static func hash(path: String, sizeHint: Int64? = nil) throws -> (digest: Digest, size: Int64) {
        let hasher = XXH3Hasher()
        let size = try stream(path: path, sizeHint: sizeHint) { hasher.update($0) }
        return (hasher.finalize(), size)
    }

    /// Streams `path` chunk by chunk into `consume`; returns the byte count. `sizeHint`: the file's
    /// size when the caller knows it: a small file is read with a buffer of its size (at least
    /// 4 KiB) rather than a whole chunk — hashing a build's many small files allocated 128 KiB each,
    /// which malloc's heaps kept in pieces between the records built meanwhile. A file that grew
    /// since takes more reads, nothing else.
    @discardableResult
    public static func stream(path: String, sizeHint: Int64? = nil, _ consume: (UnsafeRawBufferPointer) throws -> Void) throws -> Int64 {
        let fd = try LocalFileSystem().openForStreaming(path)
        defer { close(fd) }
        let capacity = sizeHint.map { Int(min(Int64(chunkSize), max(4 << 10, $0 + 1))) } ?? chunkSize
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 64)
        defer { buffer.deallocate() }
        var total: Int64 = 0
        while true {
            let n = try FileDescriptor.readSome(fd, buffer, path: path)
            if n == 0 { break }
            try consume(UnsafeRawBufferPointer(rebasing: buffer[0 ..< n]))
            total += Int64(n)
        }
        return total
    }
}
