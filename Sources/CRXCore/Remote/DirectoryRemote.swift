#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A remote that is a directory: local, or a network mount (NFS, SMB, sshfs). Uploads are copied to
/// a temp file beside their destination, fsynced and renamed, so a reader (another machine, a
/// concurrent push) sees a complete object or none.
public struct DirectoryRemote: RemoteStore {
    public let path: String
    public var displayName: String { path }

    public init(path: String) { self.path = path }

    func absolute(_ key: String) -> String { path + "/" + key }

    public func existing(_ keys: [String]) throws -> Set<String> {
        // A remote directory that does not exist yet holds nothing; the first push creates it.
        return Set(keys.filter { access(absolute($0), F_OK) == 0 })
    }

    public func upload(file: String, to key: String) throws {
        let destination = absolute(key)
        try LocalFileSystem().createDirectory((destination as NSString).deletingLastPathComponent)
        let temp = "\(destination).crx-tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        do {
            try Self.copy(file, to: temp)
            guard rename(temp, destination) == 0 else { throw IOError("publish", path: destination, errno: errno) }
        } catch {
            unlink(temp)
            throw error
        }
    }

    public func download(_ key: String, to file: String) throws {
        let source = absolute(key)
        guard access(source, F_OK) == 0 else { throw RemoteError.notFound(remote: displayName, key: key) }
        try Self.copy(source, to: file)
    }

    /// Copies a file's bytes (fsynced), creating or truncating the destination.
    static func copy(_ source: String, to destination: String) throws {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw IOError("read", path: source, errno: errno) }
        defer { close(input) }
        let output = open(destination, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard output >= 0 else { throw IOError("create", path: destination, errno: errno) }
        defer { close(output) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { buffer.deallocate() }
        while true {
            let n = try FileDescriptor.readSome(input, buffer, path: source)
            if n == 0 { break }
            try FileDescriptor.writeAll(output, UnsafeRawBufferPointer(rebasing: buffer[0 ..< n]), path: destination)
        }
        guard fsync(output) == 0 else { throw IOError("sync", path: destination, errno: errno) }
    }
}
