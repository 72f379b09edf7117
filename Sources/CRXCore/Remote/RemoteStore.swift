import Foundation

/// A remote cache: a place outside this machine (a directory, an HTTP/WebDAV server, an S3 bucket)
/// holding cache objects under the local cache's layout, relative to the remote's base:
/// ```
/// v1/objects/<2 hex>/<30 hex>    one zstd frame, exactly the local object file
/// v1/runcache/<2 hex>/<30 hex>   a run-cache entry (crx push --run-cache)
/// ```
/// Keys are those relative paths. Objects travel as stored; the caller verifies what it downloads
/// (`LocalObjectStore.adopt`). Implementations make every upload atomic: a key either does not
/// exist or holds a complete file (temp + rename on a directory; one PUT per object over HTTP/S3).
public protocol RemoteStore: Sendable {
    /// The remote, for messages (never with credentials).
    var displayName: String { get }
    /// Which of `keys` the remote holds (batched where the protocol allows).
    func existing(_ keys: [String]) throws -> Set<String>
    /// Uploads the file at the absolute path `file` as `key`.
    func upload(file: String, to key: String) throws
    /// Downloads `key` to the absolute path `file` (created; overwritten). Throws `RemoteError.notFound`.
    func download(_ key: String, to file: String) throws
}

/// Where things live on a remote.
public enum RemoteLayout {
    public static func object(_ d: Digest) -> String {
        let hex = d.hex
        return "v1/objects/\(hex.prefix(2))/\(hex.dropFirst(2))"
    }

    public static func runCacheEntry(_ d: Digest) -> String {
        let hex = d.hex
        return "v1/runcache/\(hex.prefix(2))/\(hex.dropFirst(2))"
    }
}

/// A remote operation that failed. `isTransient` ones are retried with backoff.
public enum RemoteError: CRXError, Equatable {
    /// The key is not on the remote.
    case notFound(remote: String, key: String)
    /// The server refused our credentials (or we had none).
    case unauthorized(remote: String, status: Int, hint: String)
    /// Connection refused/reset, timeout, HTTP 5xx or 429: worth another try.
    case transient(remote: String, detail: String)
    /// Any other refusal.
    case failed(remote: String, detail: String)
    /// A downloaded object did not decompress to its digest; it was discarded.
    case corrupt(remote: String, key: String, reason: String)

    public var exitCode: ExitStatus { .failure }
    public var isTransient: Bool { if case .transient = self { return true } else { return false } }

    public var message: String {
        switch self {
        case let .notFound(remote, key):
            return "\(key) is not on remote \(remote); push it from a machine that has it (crx push) or rebuild it (crx repro)"
        case let .unauthorized(remote, status, hint):
            return "remote \(remote) refused the credentials (HTTP \(status)); \(hint)"
        case let .transient(remote, detail):
            return "remote \(remote) is unreachable or failing (\(detail)); nothing partial was kept — check the server and run the command again"
        case let .failed(remote, detail):
            return "remote \(remote): \(detail)"
        case let .corrupt(remote, key, reason):
            return "object \(key) on remote \(remote) is corrupt (\(reason)); it was discarded, not used. "
                + "Delete it on the remote and push it again from a machine whose `crx verify` passes"
        }
    }
}

/// A wrong remote configuration or URL: exit 2, with what to do.
public struct RemoteConfigError: CRXError, Equatable {
    public var message: String
    public var exitCode: ExitStatus { .usage }
    public init(_ message: String) { self.message = message }
}
