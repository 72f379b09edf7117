import Foundation
import Testing
@testable import CRXCore

@Suite struct HashingTests {
    @Test func xxh3MatchesReferenceVectors() {
        // Values printed by `xxh128sum` (xxHash 0.8.1).
        #expect(XXH3Hasher.digest("").hex == "99aa06d3014798d86001c324468d497f")
        #expect(XXH3Hasher.digest("abc").hex == "06b05ab6733a618578af5f94892f3950")
    }

    @Test func streamingEqualsOneShot() {
        let data = (0 ..< 3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let hasher = XXH3Hasher()
        for chunk in stride(from: 0, to: data.count, by: 65_537) {
            data[chunk ..< min(chunk + 65_537, data.count)].withUnsafeBytes { hasher.update($0) }
        }
        #expect(hasher.finalize() == XXH3Hasher.digest(data))
    }

    @Test func digestTextRoundTrip() throws {
        let d = XXH3Hasher.digest("abc")
        #expect(d.description == "xxh128:06b05ab6733a618578af5f94892f3950")
        #expect(Digest(d.description) == d)
        #expect(Digest(d.hex) == d)
        #expect(Digest("xxh128:zz") == nil)
        #expect(Digest("md5:06b05ab6733a618578af5f94892f3950") == nil)
    }

    @Test func fileHashMatchesContentDigest() throws {
        let dir = TempDir()
        let path = dir.write("f.txt", String(repeating: "hello world\n", count: 200_000))
        let (digest, size) = try FileHasher.hash(path: path)
        #expect(size == 2_400_000)
        #expect(digest == XXH3Hasher.digest(Array(String(repeating: "hello world\n", count: 200_000).utf8)))
    }

    @Test func stateCacheSkipsUnchangedFilesAndPersists() throws {
        let dir = TempDir()
        dir.write("a.txt", "one")
        let stateFile = dir.path + "/state"
        let state = StateCache(file: stateFile)
        let hasher = PathHasher(root: dir.path, state: state)
        let first = try #require(try hasher.digest(of: "a.txt"))
        let st = try #require(LocalFileSystem().stat(dir.path + "/a.txt"))
        // Fresh files are inside the racy window: not trusted yet.
        #expect(state.lookup("a.txt", stat: st) == nil)
        // A trusted record is used as is: a lying entry proves no re-read happens.
        let fake = XXH3Hasher.digest("not the content")
        state.record("a.txt", stat: st, digest: fake, trusted: true)
        #expect(try hasher.digest(of: "a.txt")?.digest == fake)
        try state.save()
        let reloaded = StateCache(file: stateFile)
        #expect(reloaded.lookup("a.txt", stat: st)?.digest == fake)
        // Any change of identity invalidates the entry.
        var changed = st
        changed.mtimeNs += 1
        #expect(reloaded.lookup("a.txt", stat: changed) == nil)
        #expect(first.digest == XXH3Hasher.digest("one"))
    }

    @Test func corruptStateFileIsAnEmptyCache() throws {
        let dir = TempDir()
        let file = dir.write("state", "garbage\u{0}\u{1}not a state file")
        #expect(StateCache(file: file).count == 0)
    }

    @Test func directoryDigestCoversNamesAndContents() throws {
        let dir = TempDir()
        dir.write("d/a.txt", "A")
        dir.write("d/sub/b.txt", "B")
        let hasher = PathHasher(root: dir.path, state: StateCache(file: nil))
        let d1 = try #require(try hasher.digest(of: "d"))
        #expect(d1.nfiles == 2)
        #expect(d1.size == 2)
        dir.write("d/c.txt", "C")
        let d2 = try #require(try hasher.digest(of: "d"))
        #expect(d2.nfiles == 3)
        #expect(d1.digest != d2.digest)
        try FileManager.default.removeItem(atPath: dir.path + "/d/c.txt")
        try FileManager.default.moveItem(atPath: dir.path + "/d/a.txt", toPath: dir.path + "/d/z.txt")
        #expect(try hasher.digest(of: "d")?.digest != d1.digest) // renamed file: different manifest
    }

    @Test func manifestBytesRoundTrip() {
        let m = DirectoryManifest(entries: [
            .init(path: "b\tweird\nname", digest: XXH3Hasher.digest("1"), size: 1),
            .init(path: "a.txt", digest: XXH3Hasher.digest("2"), size: 2),
        ])
        #expect(m.entries.first?.path == "a.txt")
        #expect(DirectoryManifest(bytes: m.bytes) == m)
        #expect(DirectoryManifest(bytes: Array("nope".utf8)) == nil)
    }
}
