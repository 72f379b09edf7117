import Foundation
import Testing
@testable import CRXCore

/// The state file is read by a byte scanner: every entry `save` writes must come back the same.
@Suite struct StateCacheTests {
    @Test func everyEntryRoundTripsThroughTheFile() throws {
        let dir = TempDir()
        let file = dir.path + "/state.v1"
        let state = StateCache(file: file)
        let paths = ["a.txt", "dir/sub/b.csv", "tab\there", "new\nline", "back\\slash", "ünï/ファイル", "cr\rx", "sp ace"]
        var expected: [String: FileStat] = [:]
        for (i, path) in paths.enumerated() {
            // Real nanosecond timestamps have 19 digits; inodes use the whole 64 bits on some file systems.
            let st = FileStat(kind: .file, inode: i == 0 ? UInt64.max : UInt64(i) * 1_000_003, size: i == 1 ? Int64.max : Int64(i),
                              mtimeNs: 1_795_000_000_123_456_789 + Int64(i))
            expected[path] = st
            state.record(path, stat: st, digest: XXH3Hasher.digest(path), extra: i % 2 == 0 ? ["sha256": "ab", "lines": "\(i)"] : [:],
                         trusted: true)
        }
        try state.save()
        let reloaded = StateCache(file: file)
        #expect(reloaded.count == paths.count)
        for (path, st) in expected {
            let entry = try #require(reloaded.lookup(path, stat: st), "\(path)")
            #expect(entry.digest == XXH3Hasher.digest(path))
            #expect(entry == state.lookup(path, stat: st))
        }
    }

    /// A file system that keeps whole seconds gives every write within a second the same mtime: a
    /// hash taken 1–2 s after such an mtime is not trusted (a same-size rewrite could go unseen);
    /// a nanosecond mtime 100 ms old is, and so are old files and files crx itself wrote.
    @Test func wholeSecondMtimesNeedTheCoarseRacyWindow() {
        let state = StateCache(file: nil)
        let now = Int64(Date().timeIntervalSince1970 * 1e9)
        let coarse = FileStat(kind: .file, inode: 1, size: 1, mtimeNs: (now - 1_000_000_000) / 1_000_000_000 * 1_000_000_000)
        var fineMtime = now - 100_000_000
        if fineMtime % 1_000_000_000 == 0 { fineMtime -= 1 }
        let fine = FileStat(kind: .file, inode: 2, size: 1, mtimeNs: fineMtime)
        let old = FileStat(kind: .file, inode: 3, size: 1, mtimeNs: (now / 1_000_000_000 - 5) * 1_000_000_000)
        for (path, st) in [("coarse", coarse), ("fine", fine), ("old", old)] {
            state.record(path, stat: st, digest: XXH3Hasher.digest(path))
        }
        #expect(state.lookup("coarse", stat: coarse) == nil, "1–2 s after a whole-second mtime")
        #expect(state.lookup("fine", stat: fine) != nil)
        #expect(state.lookup("old", stat: old) != nil)
        state.record("coarse", stat: coarse, digest: XXH3Hasher.digest("coarse"), trusted: true)
        #expect(state.lookup("coarse", stat: coarse) != nil, "crx wrote it: no writer left")
    }

    @Test func aDamagedFileIsNotUsed() throws {
        let dir = TempDir()
        let file = dir.path + "/state.v1"
        let state = StateCache(file: file)
        let st = FileStat(kind: .file, inode: 7, size: 3, mtimeNs: 1_795_000_000_000_000_000)
        state.record("a", stat: st, digest: XXH3Hasher.digest("a"), trusted: true)
        try state.save()
        var bytes = try LocalFileSystem().readFile(file)
        #expect(StateCache(file: file).count == 1)
        bytes[bytes.count / 2] ^= 1     // one bit flipped: the checksum line no longer matches
        try LocalFileSystem().writeAtomically(bytes, to: file)
        #expect(StateCache(file: file).count == 0)
        try LocalFileSystem().writeAtomically(Array("crx-state 1\n".utf8), to: file)
        #expect(StateCache(file: file).count == 0)
    }

    @Test func numbersAndDigestsAreWrittenAsSwiftPrintsThem() {
        func decimal(_ v: some BinaryInteger) -> String {
            var out: [UInt8] = []
            ByteText.appendDecimal(v, to: &out)
            return String(decoding: out, as: UTF8.self)
        }
        for v: Int64 in [0, 7, -1, 10, -10, 1_795_000_000_123_456_789, .max, .min] { #expect(decimal(v) == "\(v)") }
        for v: UInt64 in [0, 9, 100, .max] { #expect(decimal(v) == "\(v)") }
        for d in [Digest(high: 0, low: 0), Digest(high: 1, low: .max), XXH3Hasher.digest("x")] {
            var out: [UInt8] = []
            ByteText.appendHex(d, to: &out)
            #expect(String(decoding: out, as: UTF8.self) == d.hex)
        }
    }

    @Test func numbersAreReadExactlyAsSwiftPrintsThem() {
        func signed(_ s: String) -> Int64? { Array(s.utf8).withUnsafeBufferPointer { ByteText.signed($0, from: 0, to: $0.count) } }
        func unsigned(_ s: String) -> UInt64? { Array(s.utf8).withUnsafeBufferPointer { ByteText.unsigned($0, from: 0, to: $0.count) } }
        for v: Int64 in [0, 1, -1, 42, 1_795_000_000_123_456_789, .max, .min] { #expect(signed("\(v)") == v) }
        for v: UInt64 in [0, 9, .max] { #expect(unsigned("\(v)") == v) }
        for bad in ["", "-", "+1", "01", "-0", "1a", " 1", "9223372036854775808", "-9223372036854775809"] { #expect(signed(bad) == nil, "\(bad)") }
        #expect(unsigned("18446744073709551616") == nil)
    }

    @Test func extrasAreReadFromTheirBytes() {
        func parse(_ s: String) -> [String: String] { Array(s.utf8).withUnsafeBufferPointer { StateCache.parseExtra($0, from: 0, to: $0.count) } }
        #expect(parse("-") == [:])
        #expect(parse("lines:12,md5:ab,sha256:cd") == ["lines": "12", "md5": "ab", "sha256": "cd"])
        #expect(parse("a:b:c") == ["a": "b:c"])
        #expect(parse("noval:,:nokey,plain,k:v,") == ["k": "v"])
        let extra = ["sha256": String(repeating: "e", count: 64), "lines": "3"]
        #expect(parse(StateCache.render(extra)) == extra)
    }

    /// The file is read on another thread from `init` on; whatever is done first (a lookup, a
    /// record, a save) sees its entries, and a record made before the load finished is kept.
    @Test func theBackgroundLoadIsSeenByTheFirstAccessWhateverItIs() throws {
        let dir = TempDir()
        let file = dir.path + "/state.v1"
        let st = { (i: Int) in FileStat(kind: .file, inode: UInt64(i), size: 1, mtimeNs: 1_795_000_000_000_000_000) }
        let state = StateCache(file: file)
        for i in 0..<1000 { state.record("f\(i)", stat: st(i), digest: XXH3Hasher.digest("\(i)"), trusted: true) }
        try state.save()
        // a record first: the loaded entries and the new one are saved together
        let first = StateCache(file: file)
        first.record("new", stat: st(5000), digest: XXH3Hasher.digest("new"), trusted: true)
        try first.save()
        let reloaded = StateCache(file: file)
        #expect(reloaded.count == 1001)
        #expect(reloaded.lookup("f999", stat: st(999))?.digest == XXH3Hasher.digest("999"))
        #expect(reloaded.lookup("new", stat: st(5000)) != nil)
        // a cache dropped before anything asked for it does no harm
        _ = StateCache(file: file)
        #expect(StateCache(file: dir.path + "/absent").count == 0)
    }
}
