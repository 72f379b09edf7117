/// A content-addressed store of blobs, keyed by the XXH3-128 of their *uncompressed* content.
///
/// The local cache (`LocalObjectStore`) implements it; a remote cache will too. Every read is
/// verified: a store never hands out bytes whose digest differs from the key.
public protocol ObjectStore: Sendable {
    func contains(_ digest: Digest) -> Bool
    /// Stores the file at an absolute path in one read pass (XXH3, SHA-256 and compression
    /// together) and returns what it learnt.
    func insert(file path: String) throws -> StoredFile
    /// Stores a small blob (e.g. a directory manifest).
    @discardableResult func insert(bytes: [UInt8]) throws -> Digest
    /// Writes the verified content of `digest` to the absolute `path` atomically.
    func materialize(_ digest: Digest, to path: String) throws
    /// The verified content of a small object.
    func read(_ digest: Digest) throws -> [UInt8]
    /// Decompresses and re-hashes an object.
    func verify(_ digest: Digest) -> ObjectHealth
    /// Every object's digest.
    func allDigests() throws -> [Digest]
}

/// What storing a file established about it.
public struct StoredFile: Sendable, Hashable {
    public var digest: Digest
    public var size: Int64
    /// SHA-256 (hex) of the content, for audit reports.
    public var sha256: String
}

public enum ObjectHealth: Sendable, Equatable {
    case ok
    case missing
    case corrupt(String)
}

public enum StoreError: CRXError, Equatable {
    case missing(Digest, path: String)
    case corrupt(Digest, objectPath: String, reason: String)

    public var exitCode: ExitStatus { .failure }
    public var message: String {
        switch self {
        case let .missing(d, path):
            return "object \(d) for '\(path)' is not in the cache; re-run the stage that produces it (crx repro --force STAGE)"
        case let .corrupt(d, objectPath, reason):
            return "cache object \(d) is corrupt (\(reason)): \(objectPath). Nothing was written from it. "
                + "Rebuild the producing stage (`crx repro STAGE`, or `crx repro --force STAGE`): crx replaces the damaged object; then `crx verify`."
        }
    }
}
