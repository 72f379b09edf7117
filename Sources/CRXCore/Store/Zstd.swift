internal import CZstd

/// zstd over libzstd: the only file that imports `CZstd`. One-frame-at-a-time compression (with
/// raw-block frames for incompressible chunks), whole-frame decompression and frame-table walking
/// for the framed object format (`FramedObject`), and streaming decompression of concatenated
/// frames for everything else.
public struct ZstdError: CRXError, Equatable {
    public var message: String
    public var exitCode: ExitStatus { .failure }
    init(_ operation: String, code: Int) {
        message = "zstd \(operation) failed: \(String(cString: ZSTD_getErrorName(code)))"
    }
    init(message: String) { self.message = message }
}

public final class ZstdDecompressor {
    private let ctx: OpaquePointer
    private let output: UnsafeMutableRawBufferPointer
    private var lastResult = 0

    public init() {
        guard let ctx = ZSTD_createDCtx() else { fatalError("libzstd: out of memory") }
        self.ctx = ctx
        output = .allocate(byteCount: ZSTD_DStreamOutSize(), alignment: 64)
    }

    deinit {
        ZSTD_freeDCtx(ctx)
        output.deallocate()
    }

    public static var recommendedInputSize: Int { ZSTD_DStreamInSize() }

    /// Decompresses `input`, handing plain bytes to `sink`.
    public func decompress(_ input: UnsafeRawBufferPointer, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        var inBuf = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        while true {
            var outBuf = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
            let result = ZSTD_decompressStream(ctx, &outBuf, &inBuf)
            if ZSTD_isError(result) != 0 { throw ZstdError("decompression", code: result) }
            lastResult = result
            if outBuf.pos > 0 { try sink(UnsafeRawBufferPointer(rebasing: output[0 ..< outBuf.pos])) }
            // Input used up and either the output not full, or the frame complete and flushed (0): calling
            // again would start reading a next frame and overwrite `lastResult` (content of exactly
            // n × 128 KiB was taken for a truncated frame).
            if inBuf.pos == inBuf.size && (outBuf.pos < outBuf.size || result == 0) { break }
        }
    }

    /// True when the input so far ended exactly at a frame boundary (a truncated object does not).
    public var atFrameEnd: Bool { lastResult == 0 }
}

/// One independent zstd frame per call, for the framed object format (`FramedObject`).
///
/// Each frame records its content size in its header (so a reader knows where each frame's bytes
/// go before decompressing it). A chunk whose samples do not compress (ratio above
/// `incompressibleRatio`) is written without compression effort as a frame of *raw blocks*: still
/// a standard zstd frame (`zstd -d` reads it). `encodeParts` gives such a frame as its headers
/// interleaved with slices of the input, so the writer hands the chunk buffer itself to `writev`
/// (no copy in user space); `encode` builds it contiguously (small objects, tests).
final class ZstdFrameEncoder {
    /// Compressed/plain size of the samples above which a chunk is stored as raw blocks.
    static let incompressibleRatio = 0.95
    /// Bytes compressed from each of three places (start, middle, end) to judge a chunk.
    static let sampleSize = 64 << 10
    /// zstd's largest block (raw blocks are at most this long).
    static let maxBlockSize = 128 << 10

    private let ctx: OpaquePointer
    private let output: UnsafeMutableRawBufferPointer
    let capacity: Int
    /// Whether the last `encode` stored its chunk as raw blocks.
    private(set) var lastWasRaw = false

    init(level: Int32, maxInput: Int) {
        guard let ctx = ZSTD_createCCtx() else { fatalError("libzstd: out of memory") }
        self.ctx = ctx
        ZSTD_CCtx_setParameter(ctx, ZSTD_c_compressionLevel, level)
        ZSTD_CCtx_setParameter(ctx, ZSTD_c_checksumFlag, 0)
        ZSTD_CCtx_setParameter(ctx, ZSTD_c_contentSizeFlag, 1)
        capacity = max(ZSTD_compressBound(maxInput), Self.rawFrameSize(maxInput))
        output = .allocate(byteCount: capacity, alignment: 64)
        headers = .allocate(byteCount: Self.rawFrameSize(maxInput) - maxInput, alignment: 8)
    }

    deinit {
        ZSTD_freeCCtx(ctx)
        output.deallocate()
        headers.deallocate()
    }

    /// A raw frame's frame header and block headers, back to back (`encodeParts`' scratch).
    private let headers: UnsafeMutableRawBufferPointer

    /// Encodes `input` (at most `maxInput` bytes) as one complete frame; the result is valid until
    /// the next call.
    func encode(_ input: UnsafeRawBufferPointer) throws -> UnsafeRawBufferPointer {
        lastWasRaw = try looksIncompressible(input)
        if lastWasRaw {
            return UnsafeRawBufferPointer(rebasing: output[0 ..< Self.writeRawFrame(input, into: output)])
        }
        let n = ZSTD_compress2(ctx, output.baseAddress, output.count, input.baseAddress, input.count)
        if ZSTD_isError(n) != 0 { throw ZstdError("compression", code: n) }
        return UnsafeRawBufferPointer(rebasing: output[0 ..< n])
    }

    /// Encodes `input` (at most `maxInput` bytes) as one complete frame given as the pieces to write
    /// in order (valid until the next call, and while `input` is): the compressed frame, or — for a
    /// raw frame — its frame header and block headers interleaved with slices of `input` itself, so
    /// that incompressible bytes go from the caller's buffer to the file without a copy (`writev`).
    /// The pieces concatenated are exactly the bytes `encode` returns.
    func encodeParts(_ input: UnsafeRawBufferPointer) throws -> [UnsafeRawBufferPointer] {
        lastWasRaw = try looksIncompressible(input)
        guard lastWasRaw else {
            let n = ZSTD_compress2(ctx, output.baseAddress, output.count, input.baseAddress, input.count)
            if ZSTD_isError(n) != 0 { throw ZstdError("compression", code: n) }
            return [UnsafeRawBufferPointer(rebasing: output[0 ..< n])]
        }
        precondition(headers.count >= Self.rawFrameSize(input.count) - input.count)
        var parts: [UnsafeRawBufferPointer] = []
        parts.reserveCapacity(2 * (input.count / Self.maxBlockSize + 1))
        var start = 0  // of the headers not yet handed out
        var p = Self.putRawFrameHeader(contentSize: input.count, into: headers)
        var offset = 0
        repeat {
            let n = min(Self.maxBlockSize, input.count - offset)
            p = Self.putRawBlockHeader(size: n, last: offset + n == input.count, into: headers, at: p)
            if n > 0 {
                parts.append(UnsafeRawBufferPointer(rebasing: headers[start ..< p]))
                parts.append(UnsafeRawBufferPointer(rebasing: input[offset ..< offset + n]))
                start = p
            }
            offset += n
        } while offset < input.count
        if start < p { parts.append(UnsafeRawBufferPointer(rebasing: headers[start ..< p])) }
        return parts
    }

    /// Compresses three samples (into the output buffer, as scratch); small inputs are never judged
    /// incompressible (zstd falls back to raw blocks by itself there).
    func looksIncompressible(_ input: UnsafeRawBufferPointer) throws -> Bool {
        let s = Self.sampleSize
        guard input.count >= 4 * s else { return false }
        var plain = 0, packed = 0
        for start in [0, input.count / 2 - s / 2, input.count - s] {
            let n = ZSTD_compress2(ctx, output.baseAddress, output.count, input.baseAddress! + start, s)
            if ZSTD_isError(n) != 0 { throw ZstdError("compression", code: n) }
            plain += s
            packed += n
        }
        return Double(packed) > Self.incompressibleRatio * Double(plain)
    }

    /// Size of the raw-block frame of `count` bytes.
    static func rawFrameSize(_ count: Int) -> Int {
        4 + 1 + 8 + 3 * max(1, (count + maxBlockSize - 1) / maxBlockSize) + count
    }

    /// Writes a zstd frame holding `input` as raw blocks (RFC 8878 §3.1.1): magic number, a frame
    /// header descriptor with Single_Segment set and the content size, then blocks of ≤ 128 KiB,
    /// each a 3-byte header (Last_Block bit, Block_Type 0 = Raw, Block_Size) and the bytes as they
    /// are. Returns the frame's length.
    static func writeRawFrame(_ input: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) -> Int {
        precondition(out.count >= rawFrameSize(input.count))
        var p = putRawFrameHeader(contentSize: input.count, into: out)
        var offset = 0
        repeat {
            let n = min(maxBlockSize, input.count - offset)
            p = putRawBlockHeader(size: n, last: offset + n == input.count, into: out, at: p)
            if n > 0 { (out.baseAddress! + p).copyMemory(from: input.baseAddress! + offset, byteCount: n) }
            p += n
            offset += n
        } while offset < input.count
        return p
    }

    /// Writes a raw frame's header for `contentSize` bytes at the start of `out`: the magic number,
    /// a frame header descriptor with Single_Segment set, and the Frame_Content_Size field (1, 2
    /// (value − 256), 4 or 8 bytes; no checksum, no dictionary). Returns its length (≤ 13).
    static func putRawFrameHeader(contentSize: Int, into out: UnsafeMutableRawBufferPointer) -> Int {
        var p = put(0xFD2F_B528, bytes: 4, into: out, at: 0)
        let size = UInt64(contentSize)
        let (flag, field, width): (UInt8, UInt64, Int) =
            size < 256 ? (0, size, 1) : size < 65_792 ? (1, size - 256, 2) : size <= UInt64(UInt32.max) ? (2, size, 4) : (3, size, 8)
        out[p] = flag << 6 | 1 << 5  // FCS_Field_Size, Single_Segment
        p += 1
        return put(field, bytes: width, into: out, at: p)
    }

    /// Writes the 3-byte header of a raw block of `size` bytes at `at`: Last_Block bit, Block_Type 0
    /// (Raw) in bits 1–2, Block_Size above. Returns the position after it.
    static func putRawBlockHeader(size: Int, last: Bool, into out: UnsafeMutableRawBufferPointer, at: Int) -> Int {
        put(UInt64(size) << 3 | (last ? 1 : 0), bytes: 3, into: out, at: at)
    }

    /// Writes `value`'s low `bytes` bytes little-endian at `at`; returns the position after them.
    private static func put(_ value: UInt64, bytes: Int, into out: UnsafeMutableRawBufferPointer, at: Int) -> Int {
        for i in 0 ..< bytes { out[at + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
        return at + bytes
    }
}

/// Decompresses one whole frame whose content size is known into a caller's buffer.
final class ZstdFrameDecoder {
    private let ctx: OpaquePointer

    init() {
        guard let ctx = ZSTD_createDCtx() else { fatalError("libzstd: out of memory") }
        self.ctx = ctx
    }

    deinit { ZSTD_freeDCtx(ctx) }

    /// Decompresses `frame` into `into`; returns the plain byte count.
    func decode(_ frame: UnsafeRawBufferPointer, into: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = ZSTD_decompressDCtx(ctx, into.baseAddress, into.count, frame.baseAddress, frame.count)
        if ZSTD_isError(n) != 0 { throw ZstdError("decompression", code: n) }
        return n
    }

    /// One frame of an object: where its bytes are and how many plain bytes it holds.
    struct Frame: Equatable {
        var offset: Int
        var length: Int
        var contentSize: Int
    }

    /// The frame starting at `offset` of an object of `size` bytes, found by walking its header and
    /// block headers (RFC 8878 §3.1.1) through `read(offset, count, into)`, which returns the bytes
    /// it copied. Nil when it is not a standard frame with a recorded content size of at most
    /// `maxContentSize`, or when its blocks run past the end (a skippable frame, a frame streamed
    /// without a size, damage): callers then decode sequentially, which names what is wrong.
    static func frame(at offset: Int, size: Int, maxContentSize: Int,
                      read: (Int, Int, UnsafeMutableRawPointer) -> Int) -> Frame? {
        var header = (UInt64(0), UInt64(0), UInt16(0))  // 18 bytes: the largest frame header
        return withUnsafeMutableBytes(of: &header) { h -> Frame? in
            let got = read(offset, min(18, size - offset), h.baseAddress!)
            guard got >= 6, h.loadUnaligned(as: UInt32.self) == UInt32(0xFD2F_B528).littleEndian else { return nil }
            let content = ZSTD_getFrameContentSize(h.baseAddress, got)
            // Also rules out ZSTD_CONTENTSIZE_UNKNOWN (2^64 − 1) and ZSTD_CONTENTSIZE_ERROR (2^64 − 2).
            guard content <= UInt64(maxContentSize) else { return nil }
            let descriptor = h[4]
            let singleSegment = descriptor & 0x20 != 0
            let fcsBytes = [singleSegment ? 1 : 0, 2, 4, 8][Int(descriptor >> 6)]
            let dictBytes = [0, 1, 2, 4][Int(descriptor & 3)]
            let checksum = descriptor & 0x04 != 0
            var p = offset + 5 + (singleSegment ? 0 : 1) + dictBytes + fcsBytes
            var block = (UInt8(0), UInt8(0), UInt8(0))
            while true {
                let n = withUnsafeMutableBytes(of: &block) { read(p, min(3, max(0, size - p)), $0.baseAddress!) }
                guard n == 3 else { return nil }
                let word = Int(block.0) | Int(block.1) << 8 | Int(block.2) << 16
                let type = (word >> 1) & 3, blockSize = word >> 3
                guard type != 3 else { return nil }
                p += 3 + (type == 1 ? 1 : blockSize)  // RLE blocks hold one byte
                guard p <= size else { return nil }
                if word & 1 == 1 { break }
            }
            if checksum { p += 4 }
            guard p <= size else { return nil }
            return Frame(offset: offset, length: p - offset, contentSize: Int(content))
        }
    }

    /// The content of `frame` (one whole frame, `contentSize` plain bytes) as slices of it, when it
    /// is a frame of raw blocks only (as `ZstdFrameEncoder` writes for incompressible chunks): a
    /// single segment recording `contentSize`, no dictionary, no checksum, every block raw and at
    /// most 128 KiB, the sizes adding up to `contentSize` and the last block ending the frame. Nil
    /// otherwise (compressed or RLE blocks, anything damaged): decompress it, which names the fault.
    static func rawPayloads(of frame: UnsafeRawBufferPointer, contentSize: Int) -> [UnsafeRawBufferPointer]? {
        guard frame.count >= 6, frame.loadUnaligned(as: UInt32.self) == UInt32(0xFD2F_B528).littleEndian else { return nil }
        // Single_Segment (the window is the content: any raw block fits it), no checksum, no
        // dictionary, the reserved bit clear; the recorded size is the one expected.
        let descriptor = frame[4]
        guard descriptor & 0x2F == 0x20, ZSTD_getFrameContentSize(frame.baseAddress, frame.count) == UInt64(contentSize) else { return nil }
        var p = 5 + [1, 2, 4, 8][Int(descriptor >> 6)]
        var payloads: [UnsafeRawBufferPointer] = []
        payloads.reserveCapacity(contentSize / ZstdFrameEncoder.maxBlockSize + 1)
        var total = 0
        while true {
            guard p + 3 <= frame.count else { return nil }
            let word = Int(frame[p]) | Int(frame[p + 1]) << 8 | Int(frame[p + 2]) << 16
            let size = word >> 3
            guard (word >> 1) & 3 == 0, size <= ZstdFrameEncoder.maxBlockSize, p + 3 + size <= frame.count else { return nil }
            if size > 0 { payloads.append(UnsafeRawBufferPointer(rebasing: frame[p + 3 ..< p + 3 + size])) }
            p += 3 + size
            total += size
            if word & 1 == 1 { break }
        }
        guard p == frame.count, total == contentSize else { return nil }
        return payloads
    }

    /// Every frame of an object held in memory (see `frame(at:size:maxContentSize:read:)`); nil
    /// unless the whole buffer is a clean sequence of frames.
    static func frames(of object: UnsafeRawBufferPointer, maxContentSize: Int) -> [Frame]? {
        var frames: [Frame] = []
        var offset = 0
        while offset < object.count {
            let next = frame(at: offset, size: object.count, maxContentSize: maxContentSize) { at, count, into in
                into.copyMemory(from: object.baseAddress! + at, byteCount: count)
                return count
            }
            guard let next else { return nil }
            frames.append(next)
            offset += next.length
        }
        return frames.isEmpty ? nil : frames
    }
}
