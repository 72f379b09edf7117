#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
@testable import CRXCore

/// Deterministic content for the framed-object tests.
enum Content {
    /// Bytes no compressor can shrink (SplitMix64).
    static func random(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
        var state = seed
        var out = [UInt8](repeating: 0, count: count)
        var i = 0
        while i < count {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            for b in 0 ..< 8 where i + b < count { out[i + b] = UInt8(truncatingIfNeeded: z >> (8 * UInt64(b))) }
            i += 8
        }
        return out
    }

    /// CSV-like text that compresses about 3×.
    static func text(_ count: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count + 64)
        var row = 0
        let noise = random(count / 8 + 64, seed: 7)
        while out.count < count {
            out += Array("\(row),\(Int(noise[row % noise.count]) * 37 + row % 1000),\(row % 3 == 0 ? "good" : "bad")\n".utf8)
            row += 1
        }
        return Array(out.prefix(count))
    }
}

@Suite struct FramedObjectTests {
    let frame = FramedObject.frameSize

    func store(_ dir: TempDir) -> LocalObjectStore { LocalObjectStore(directory: dir.path + "/cache") }

    func write(_ dir: TempDir, _ name: String, _ bytes: [UInt8]) throws -> String {
        let path = dir.path + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The frame table of a stored object, read from its headers.
    func frames(_ store: LocalObjectStore, _ digest: Digest) throws -> [ZstdFrameDecoder.Frame]? {
        try LocalFileSystem().readFile(store.objectPath(digest)).withUnsafeBytes {
            ZstdFrameDecoder.frames(of: $0, maxContentSize: FramedObject.frameSize)
        }
    }

    /// Stores `bytes` as a file, checks digest, SHA-256, frame layout, then restores and compares.
    @discardableResult
    func roundTrip(_ bytes: [UInt8], _ dir: TempDir) throws -> (store: LocalObjectStore, digest: Digest) {
        let store = store(dir)
        let stored = try store.insert(file: try write(dir, "in-\(bytes.count)", bytes))
        #expect(stored.digest == XXH3Hasher.digest(bytes))
        #expect(stored.size == Int64(bytes.count))
        #expect(stored.sha256 == CryptoHasher.hex(.sha256, of: bytes))
        let table = try #require(try frames(store, stored.digest))
        #expect(table.count == max(1, (bytes.count + frame - 1) / frame), "\(bytes.count) bytes in \(table.count) frames")
        #expect(table.dropLast().allSatisfy { $0.contentSize == frame })
        #expect(table.reduce(0) { $0 + $1.contentSize } == bytes.count)
        let out = dir.path + "/out/restored-\(bytes.count)"
        try store.materialize(stored.digest, to: out)
        #expect(try LocalFileSystem().readFile(out) == bytes, "restored bytes differ (\(bytes.count))")
        #expect(store.verify(stored.digest) == .ok)
        #expect(try store.read(stored.digest) == bytes, "the sequential decoder reads framed objects")
        return (store, stored.digest)
    }

    @Test func roundTripAtFrameBoundaries() throws {
        let text = Content.text(3 * frame + 5)
        for count in [0, 1, frame - 1, frame, frame + 1, 2 * frame, 3 * frame + 5] {
            try roundTrip(Array(text.prefix(count)), TempDir())
        }
    }

    /// A small input gets buffers of its own size; one that outgrew its size hint (a file that grew
    /// since it was stat'ed) still encodes to the bytes a whole frame's buffers give, and one that
    /// shrank loses nothing.
    @Test(arguments: [0, 1, 100, 5000, 4 << 20, (4 << 20) + 9])
    func sizeHintOnlyChangesTheBuffers(count: Int) throws {
        let dir = TempDir()
        let bytes = Content.text(count)
        let path = try write(dir, "in", bytes)
        func encoded(hint: Int64) throws -> (bytes: [UInt8], hashed: Digest, total: Int64) {
            let input = try LocalFileSystem().openForStreaming(path)
            defer { close(input) }
            let outPath = dir.path + "/out-\(hint)"
            let output = open(outPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            defer { close(output) }
            let hasher = XXH3Hasher()
            let total = try FramedObject.encode(input: input, inputPath: path, output: output, outputPath: outPath, level: 1,
                                                threads: FramedObject.threads(for: Int64(count)), sizeHint: hint,
                                                hash: { hasher.update($0) }, audit: { _ in })
            return (try LocalFileSystem().readFile(outPath), hasher.finalize(), total)
        }
        let whole = try encoded(hint: Int64(frame))
        #expect(whole.total == Int64(count))
        #expect(whole.hashed == XXH3Hasher.digest(bytes))
        for hint in [0, count / 2, count, count + 1000] {
            let got = try encoded(hint: Int64(hint))
            #expect(got.bytes == whole.bytes, "hint \(hint)")
            #expect(got.hashed == whole.hashed && got.total == whole.total, "hint \(hint)")
        }
    }

    @Test func incompressibleChunksAreStoredAsRawBlocks() throws {
        let dir = TempDir()
        let bytes = Content.random(2 * frame + 123)
        let (store, digest) = try roundTrip(bytes, dir)
        let objectSize = try #require(LocalFileSystem().stat(store.objectPath(digest))).size
        // Raw blocks: 3 bytes per 128 KiB plus a frame header; zstd's own attempt costs no less, and the
        // content is stored whole.
        #expect(objectSize >= Int64(bytes.count) && objectSize < Int64(bytes.count) + 1024, "\(objectSize)")
        let encoder = ZstdFrameEncoder(level: 1, maxInput: frame)
        _ = try bytes.withUnsafeBytes { try encoder.encode(UnsafeRawBufferPointer(rebasing: $0[0 ..< frame])) }
        #expect(encoder.lastWasRaw, "random bytes were compressed")
        let text = Content.text(frame)
        _ = try text.withUnsafeBytes { try encoder.encode($0) }
        #expect(!encoder.lastWasRaw, "compressible text was stored raw")
    }

    @Test func mixedFileCompressesOnlyItsCompressibleFrames() throws {
        let dir = TempDir()
        let bytes = Content.random(frame) + Content.text(frame) + Content.random(frame / 2, seed: 9)
        let (store, digest) = try roundTrip(bytes, dir)
        let table = try #require(try frames(store, digest))
        #expect(table[0].length > frame, "random frame stored raw")
        #expect(table[1].length < frame / 2, "text frame compressed: \(table[1].length)")
        #expect(table[2].length > frame / 2)
    }

    @Test func compressibleLargeFileIsSmallerThanOneThird() throws {
        let dir = TempDir()
        let bytes = Content.text(2 * frame + 77)
        let (store, digest) = try roundTrip(bytes, dir)
        let objectSize = try #require(LocalFileSystem().stat(store.objectPath(digest))).size
        #expect(objectSize < Int64(bytes.count) / 2, "\(objectSize)")
    }

    @Test func insertBytesWritesFramesToo() throws {
        let dir = TempDir()
        let store = store(dir)
        let bytes = Content.text(frame + 10)
        let digest = try store.insert(bytes: bytes)
        #expect(try frames(store, digest)?.count == 2)
        #expect(try store.read(digest) == bytes)
    }

    @Test func rawFramesAreStandardZstd() throws {
        for count in [0, 1, 255, 256, 65_791, 65_792, 128 << 10, (128 << 10) + 1, frame] {
            let bytes = Content.random(count, seed: UInt64(count))
            let out = UnsafeMutableRawBufferPointer.allocate(byteCount: ZstdFrameEncoder.rawFrameSize(count), alignment: 8)
            defer { out.deallocate() }
            let n = bytes.withUnsafeBytes { ZstdFrameEncoder.writeRawFrame($0, into: out) }
            let frameBytes = UnsafeRawBufferPointer(rebasing: out[0 ..< n])
            #expect(ZstdFrameDecoder.frames(of: frameBytes, maxContentSize: frame) == [.init(offset: 0, length: n, contentSize: count)])
            var plain: [UInt8] = []
            let d = ZstdDecompressor()
            try d.decompress(frameBytes) { plain += $0 }
            #expect(d.atFrameEnd)
            #expect(plain == bytes, "raw frame of \(count) bytes")
        }
    }

    /// The pieces `encodeParts` hands to `writev` are, end to end, the frame `encode` builds — raw
    /// (headers between slices of the input, which is not copied) or compressed.
    @Test func encodePartsConcatenateToTheEncodedFrame() throws {
        let encoder = ZstdFrameEncoder(level: 1, maxInput: frame)
        let block = ZstdFrameEncoder.maxBlockSize
        for (bytes, raw) in [(Content.random(frame), true), (Content.random(frame - 1, seed: 3), true),
                             (Content.random(3 * block, seed: 4), true), (Content.random(5 * block + 17, seed: 5), true),
                             (Content.text(frame), false), (Content.random(1000), false), ([], false)] {
            try bytes.withUnsafeBytes { input in
                let whole = Array(try encoder.encode(input))
                let parts = try encoder.encodeParts(input)
                #expect(encoder.lastWasRaw == raw, "\(bytes.count) bytes")
                #expect(parts.flatMap { Array($0) } == whole, "\(bytes.count) bytes")
                if raw {
                    let start = input.baseAddress!, end = input.baseAddress! + input.count
                    let slices = parts.filter { $0.baseAddress! >= start && $0.baseAddress! < end }
                    #expect(slices.allSatisfy { $0.baseAddress! + $0.count <= end })
                    #expect(slices.reduce(0) { $0 + $1.count } == bytes.count, "raw payloads are the input, not copies")
                }
            }
        }
    }

    /// `writeAll` writes every part in order, across more vectors than one `writev` takes.
    @Test func gatheredWriteKeepsOrderAcrossCalls() throws {
        let dir = TempDir()
        let bytes = Content.random(3000 * 7 + 5, seed: 11)
        let path = dir.path + "/gathered"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        try #require(fd >= 0)
        let n = try bytes.withUnsafeBytes { all in
            var parts: [UnsafeRawBufferPointer] = []
            var offset = 0
            while offset < all.count {  // 3000+ parts of 7 bytes, with empty ones between
                parts.append(UnsafeRawBufferPointer(rebasing: all[offset ..< min(all.count, offset + 7)]))
                parts.append(UnsafeRawBufferPointer(rebasing: all[offset ..< offset]))
                offset += 7
            }
            return try FramedObject.writeAll(fd, parts, path: path)
        }
        close(fd)
        #expect(n == bytes.count)
        #expect(try LocalFileSystem().readFile(path) == bytes)
    }

    /// Reading a chunk in pieces hands every byte to the hash once, in order.
    @Test func piecewiseReadHashesEveryByteInOrder() throws {
        let dir = TempDir()
        let bytes = Content.random(FramedObject.piece * 3 + 99, seed: 12)
        let path = try write(dir, "pieces", bytes)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        defer { close(fd) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: FramedObject.piece * 2 + 1, alignment: 64)
        defer { buffer.deallocate() }
        var seen: [UInt8] = [], pieces = 0
        for _ in 0 ..< 3 {
            let n = try FramedObject.readFull(fd, buffer, path: path, piece: FramedObject.piece) { seen += $0; pieces += 1 }
            #expect(Array(UnsafeRawBufferPointer(rebasing: buffer[0 ..< n])) == Array(seen.suffix(n)))
        }
        #expect(seen == bytes)
        #expect(pieces == 5, "piece, piece, 1 byte; then piece, 98 bytes")
        lseek(fd, 0, SEEK_SET)  // without a piece size: whole-buffer reads
        #expect(try FramedObject.readFull(fd, buffer, path: path) == buffer.count)
        #expect(Array(UnsafeRawBufferPointer(rebasing: buffer[0 ..< 10])) == Array(bytes.prefix(10)))
    }

    /// Checkout takes a raw frame's content straight from its blocks — only when the frame is exactly
    /// what the encoder writes; anything else is left to zstd (which names the damage).
    @Test func rawPayloadsAreTheContentOfCleanRawFramesOnly() throws {
        let block = ZstdFrameEncoder.maxBlockSize
        for count in [0, 1, 255, 256, 65_792, block, block + 1, 3 * block + 5, frame] {
            let bytes = Content.random(count, seed: UInt64(count) + 100)
            var raw = [UInt8](repeating: 0, count: ZstdFrameEncoder.rawFrameSize(count))
            let n = raw.withUnsafeMutableBytes { out in bytes.withUnsafeBytes { ZstdFrameEncoder.writeRawFrame($0, into: out) } }
            raw.removeSubrange(n...)
            raw.withUnsafeBytes { f in
                #expect(ZstdFrameDecoder.rawPayloads(of: f, contentSize: count)?.flatMap { Array($0) } == bytes, "\(count) bytes")
                #expect(ZstdFrameDecoder.rawPayloads(of: f, contentSize: count + 1) == nil, "size other than recorded")
                #expect(ZstdFrameDecoder.rawPayloads(of: UnsafeRawBufferPointer(rebasing: f.dropLast()), contentSize: count) == nil,
                        "cut short (\(count))")
            }
            guard count > block else { continue }
            let header = 5 + (count < 256 ? 1 : count < 65_792 ? 2 : 4)
            for (at, flip) in [(4, UInt8(0x04)),                            // checksum flag
                               (header, 0x02),                              // first block compressed
                               (header, 0x08),                              // first block one byte longer
                               (header + 3 + block + 2, 0x10)] {            // second block's size changed
                var damaged = raw
                damaged[at] ^= flip
                damaged.withUnsafeBytes { f in
                    #expect(ZstdFrameDecoder.rawPayloads(of: f, contentSize: count) == nil, "byte \(at) ^ \(flip) of \(count)")
                }
            }
        }
        let text = Content.text(frame)
        let encoder = ZstdFrameEncoder(level: 1, maxInput: frame)
        try text.withUnsafeBytes { t in
            let compressed = try encoder.encode(t)
            #expect(ZstdFrameDecoder.rawPayloads(of: compressed, contentSize: frame) == nil, "compressed frame")
        }
    }

    /// An object written by crx fbee42a (`yes crx-old | head -c 5242880`, stored by that binary): one
    /// streamed zstd frame without a content size, holding more than one frame of the new format.
    static let legacyObject = "KLUv/QBIhAAAQGNyeC1vbGQKAQD1/8sLF0wAAAhjAQD8/zkQAkwAAAhjAQD8/zkQAkwAAAhjAQD8/zkQAkwAAAhjAQD8/zkQAkwAAAhjAQD8/zkQAkwAAAhjAQD8/zkQAkwAAAhjAQD8/zkQAkwAAAhjAQD8/zkQAkwAAAhjAQD8/zkQAkwAAAhjAQD8/zkQAkwAAAhjAQD8/zkQAkwAAAhjAQD8/zkQAkwAAAhjAQD8/zkQAkwAAAhjAQD8/zkQAkwAAAhjAQD8/zkQAkwAAAhjAQD8/zkQAkwAAAhjAQD8/zkQAkwAAAhjAQD8/zkQAkwAAAhjAQD8/zkQAkwAAAhjAQD8/zkQAkwAAAhjAQD8/zkQAkwAAAhjAQD8/zkQAkwAAAhjAQD8/zkQAkwAAAhjAQD8/zkQAkwAAAhjAQD8/zkQAkwAAAhjAQD8/zkQAkwAAAhjAQD8/zkQAkwAAAhjAQD8/zkQAkwAAAhjAQD8/zkQAkwAAAhjAQD8/zkQAkwAAAhjAQD8/zkQAkwAAAhjAQD8/zkQAkwAAAhjAQD8/zkQAkwAAAhjAQD8/zkQAkwAAAhjAQD8/zkQAkwAAAhjAQD8/zkQAkwAAAhjAQD8/zkQAkwAAAhjAQD8/zkQAkwAAAhjAQD8/zkQAgEAAA=="

    @Test func singleFrameObjectsOfEarlierVersionsStillRead() throws {
        let dir = TempDir()
        let store = store(dir)
        let content = Array(String(repeating: "crx-old\n", count: 5 << 17).utf8)
        let digest = XXH3Hasher.digest(content)
        let legacy = try #require(Data(base64Encoded: Self.legacyObject))
        let path = store.objectPath(digest)
        try LocalFileSystem().createDirectory((path as NSString).deletingLastPathComponent)
        try legacy.write(to: URL(fileURLWithPath: path))
        #expect(try legacy.withUnsafeBytes { ZstdFrameDecoder.frames(of: $0, maxContentSize: frame) } == nil,
                "the legacy object has no frame table: the sequential decoder reads it")
        #expect(store.verify(digest) == .ok)
        try store.materialize(digest, to: dir.path + "/out.txt")
        #expect(try LocalFileSystem().readFile(dir.path + "/out.txt") == content)
        // Storing the same content again keeps the valid legacy object.
        let again = try store.insert(file: try write(dir, "same.txt", content))
        #expect(again.digest == digest)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == legacy)
    }

    @Test(arguments: ["payload", "header", "truncateFrame", "swapFrames", "rawPayload", "rawBlockHeader"])
    func corruptFrameInMultiFrameObjectIsDetected(kind: String) throws {
        let dir = TempDir()
        let bytes = Content.text(2 * frame) + Content.random(frame + 999)  // 2 compressed frames, 1 raw, 1 small
        let (store, digest) = try roundTrip(bytes, dir)
        let table = try #require(try frames(store, digest))
        #expect(table.count == 4)
        let object = store.objectPath(digest)
        chmod(object, 0o644)
        var raw = try LocalFileSystem().readFile(object)
        switch kind {
        case "payload": raw[table[1].offset + table[1].length / 2] ^= 0x20  // inside frame 1's compressed data
        case "header": raw[table[2].offset + 4] ^= 0x40                     // frame 2's header descriptor
        case "truncateFrame": raw.removeSubrange(table[1].offset + 10 ..< table[1].offset + 20)
        case "rawPayload": raw[table[2].offset + table[2].length / 2] ^= 0x20         // inside frame 2's raw blocks
        case "rawBlockHeader": raw[table[2].offset + 9 + 3 + (128 << 10) + 2] ^= 0x10  // frame 2's second block size
        default:  // frames 0 and 2 swapped: each frame is valid alone, the content is not
            let f0 = Array(raw[table[0].offset ..< table[0].offset + table[0].length])
            let f1 = Array(raw[table[1].offset ..< table[1].offset + table[1].length])
            let f2 = Array(raw[table[2].offset ..< table[2].offset + table[2].length])
            raw = f2 + f1 + f0 + Array(raw[table[3].offset...])
        }
        try Data(raw).write(to: URL(fileURLWithPath: object))
        guard case .corrupt = store.verify(digest) else { Issue.record("\(kind): not detected"); return }
        let target = dir.path + "/workspace/out.bin"
        try LocalFileSystem().createDirectory(dir.path + "/workspace")
        #expect(throws: StoreError.self) { try store.materialize(digest, to: target) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path + "/workspace").isEmpty,
                "\(kind): something was written from a corrupt object")
        #expect(LocalObjectStore.problem(objectFile: object, digest: digest) != nil)
    }
}
