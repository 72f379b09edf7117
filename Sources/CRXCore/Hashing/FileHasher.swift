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

    /// Digest and size of the file at `path`.
    public static func hash(path: String) throws -> (digest: Digest, size: Int64) {
        let hasher = XXH3Hasher()
        let size = try stream(path: path) { hasher.update($0) }
        return (hasher.finalize(), size)
    }

    /// Streams `path` chunk by chunk into `consume`; returns the byte count.
    @discardableResult
    public static func stream(path: String, _ consume: (UnsafeRawBufferPointer) throws -> Void) throws -> Int64 {
        let fd = try LocalFileSystem().openForStreaming(path)
        defer { close(fd) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 64)
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
