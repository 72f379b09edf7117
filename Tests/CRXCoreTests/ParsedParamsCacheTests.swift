#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
@testable import CRXCore

/// `.crx/state/params.v1`: a params file is parsed again whenever its bytes change — whatever its
/// size and mtime say — and never trusted when damaged.
@Suite struct ParsedParamsCacheTests {
    func project(_ params: String = "a: 1\nb: {c: 0.5, d: [x, null, true]}\n") -> TempDir {
        let dir = TempDir()
        dir.write("params.yaml", params)
        try! FileManager.default.createDirectory(atPath: dir.path + "/.crx", withIntermediateDirectories: true)
        return dir
    }

    var cacheFile: (TempDir) -> String { { $0.path + "/.crx/state/params.v1" } }

    /// A fresh process's view of the params file (nothing remembered in memory).
    func load(_ dir: TempDir, _ path: String = "params.yaml") throws -> ParamsFile? {
        try Workspace(root: dir.path, pipelineFile: "pipeline.yaml").paramsCache().file(path)
    }

    /// Replaces the stored value for the file's current bytes with `marker`: a load that returns
    /// `marker` came from the cache.
    func tamper(_ dir: TempDir, marker: ParamValue) throws {
        let bytes = try LocalFileSystem().readFile(dir.path + "/params.yaml")
        ParsedParamsCache(file: cacheFile(dir)).store(path: "params.yaml", content: XXH3Hasher.digest(bytes), value: marker)
    }

    @Test func theCachedValueIsTheParsedOne() throws {
        let dir = project()
        let parsed = try #require(try ParamsFile.load(absolutePath: dir.path + "/params.yaml", displayPath: "params.yaml"))
        #expect(try load(dir)?.root == parsed.root)
        #expect(FileManager.default.fileExists(atPath: cacheFile(dir)))
        let bytes = try LocalFileSystem().readFile(dir.path + "/params.yaml")
        let cached = try #require(ParsedParamsCache(file: cacheFile(dir)).lookup(path: "params.yaml", content: XXH3Hasher.digest(bytes)))
        #expect(cached == parsed.root)
        #expect(cached.canonical == parsed.root.canonical)
        #expect(try load(dir)?.value("b.c") == .double(0.5))
    }

    @Test func everyValueKindRoundTrips() throws {
        let dir = project()
        let value = ParamValue.dict(["n": .null, "t": .bool(true), "f": .bool(false), "i": .int(-7), "x": .double(-0.0),
                                     "nan": .double(.nan), "s": .string("é\t\"q\""), "l": .list([.int(1), .list([]), .dict([:])])])
        let cache = ParsedParamsCache(file: cacheFile(dir))
        let content = XXH3Hasher.digest("anything")
        cache.store(path: "p.yaml", content: content, value: value)
        let back = try #require(cache.lookup(path: "p.yaml", content: content))
        #expect(back == value)
        #expect(back.canonical == value.canonical)
        #expect(cache.lookup(path: "p.yaml", content: XXH3Hasher.digest("other")) == nil)
        #expect(cache.lookup(path: "q.yaml", content: content) == nil)
    }

    @Test func reusedWhileTheBytesAreUnchangedAndNotAfter() throws {
        let dir = project()
        _ = try load(dir)
        try tamper(dir, marker: .string("from-cache"))
        #expect(try load(dir)?.root == .string("from-cache"), "unchanged bytes reuse the cache")

        // an edit of the same size, with the mtime (and inode) put back: still seen
        let path = dir.path + "/params.yaml"
        let before = try #require(LocalFileSystem().stat(path))
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        let fd = open(path, O_WRONLY)
        #expect(pwrite(fd, "2", 1, 3) == 1)
        close(fd)
        try FileManager.default.setAttributes([.modificationDate: attributes[.modificationDate]!], ofItemAtPath: path)
        let after = try #require(LocalFileSystem().stat(path))
        #expect(after.size == before.size && after.inode == before.inode)
        #expect(try load(dir)?.value("a") == .int(2))

        // and a content change of any kind
        try tamper(dir, marker: .string("from-cache"))
        dir.write("params.yaml", "a: 3\n")
        #expect(try load(dir)?.value("a") == .int(3))
    }

    @Test func severalFilesAreKeptApart() throws {
        let dir = project()
        dir.write("other.yaml", "z: zed\n")
        _ = try load(dir)
        _ = try load(dir, "other.yaml")
        try tamper(dir, marker: .string("from-cache"))
        #expect(try load(dir, "other.yaml")?.value("z") == .string("zed"))
        #expect(try load(dir)?.root == .string("from-cache"))
    }

    @Test func aDamagedCacheIsIgnoredAndRebuilt() throws {
        let dir = project()
        let expected = try load(dir)?.root
        var bytes = try LocalFileSystem().readFile(cacheFile(dir))
        for cut in [0, 5, bytes.count / 2, bytes.count - 1] {
            try LocalFileSystem().writeAtomically(Array(bytes[..<cut]), to: cacheFile(dir))
            #expect(try load(dir)?.root == expected)
        }
        bytes[bytes.count - 2] ^= 0x40
        try LocalFileSystem().writeAtomically(bytes, to: cacheFile(dir))
        #expect(try load(dir)?.root == expected)
        dir.write(".crx/state/params.v1", "garbage")
        #expect(try load(dir)?.root == expected)
        #expect(ParsedParamsCache(file: cacheFile(dir)).entries()?.count == 1)
    }

    @Test func errorsComeFromAParseAndAreNotStored() throws {
        let dir = project()
        _ = try load(dir)
        dir.write("params.yaml", "a: [1\n")
        #expect(definitionError { _ = try load(dir) }?.location?.file == "params.yaml")
        #expect(definitionError { _ = try load(dir) } != nil)
    }

    @Test func noCacheIsWrittenOutsideAnInitialisedProject() throws {
        let dir = project()
        try FileManager.default.removeItem(atPath: dir.path + "/.crx")
        #expect(try load(dir)?.value("a") == .int(1))
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/.crx"))
    }
}
