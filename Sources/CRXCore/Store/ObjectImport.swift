#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Taking an object file that came from elsewhere (a remote) into the local cache: it is
/// decompressed and re-hashed first, and renamed into place only when it is a complete zstd frame
/// of exactly the content its name promises. Anything else is deleted and refused.
extension LocalObjectStore {
    /// A fresh path under the cache's `tmp/` for a download.
    public func temporaryPath(_ tag: String = "dl") throws -> String {
        try LocalFileSystem().createDirectory(tempDirectory)
        return "\(tempDirectory)/\(tag)-\(getpid())-\(UInt64.random(in: 0 ... .max))"
    }

    /// Why the object file at `path` does not hold `digest`, or nil when it does.
    public static func problem(objectFile path: String, digest: Digest) -> String? {
        do {
            try decode(objectFile: path, as: digest, output: nil)
            return nil
        } catch let StoreError.corrupt(_, _, reason) {
            return reason
        } catch StoreError.missing {
            return "unreadable: \(String(cString: strerror(ENOENT)))"
        } catch {
            return "\(error)"
        }
    }

    /// Verifies the downloaded object file at `temp` and publishes it as `digest` (read-only), or
    /// deletes it and returns why it was refused.
    ///
    /// Durable as the store's own inserts are, since a lock may refer to it: with a `barrier` (a
    /// build) it is deferred to it once renamed, so it is synced before the lock that records it is
    /// written; without one (`crx fetch`, `crx pull`) it is fsynced before its rename, by the transfer
    /// worker that downloaded it (in parallel with the others).
    public func adopt(_ temp: String, as digest: Digest) throws -> String? {
        if let problem = Self.problem(objectFile: temp, digest: digest) {
            unlink(temp)
            return problem
        }
        chmod(temp, 0o444)
        let final = objectPath(digest)
        do {
            if barrier == nil { try DurabilityBarrier.fsync(temp) }
            try LocalFileSystem().createDirectory((final as NSString).deletingLastPathComponent)
            guard rename(temp, final) == 0 else { throw IOError("publish cache object", path: final, errno: errno) }
        } catch {
            unlink(temp)
            throw error
        }
        barrier?.deferred(final)
        return nil
    }
}
