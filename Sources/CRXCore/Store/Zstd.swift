internal import CZstd

/// zstd over libzstd: the only file that imports `CZstd`. Streaming compression into one frame
/// (multi-threaded when asked) and streaming decompression of concatenated frames.
public struct ZstdError: CRXError, Equatable {
    public var message: String
    public var exitCode: ExitStatus { .failure }
    init(_ operation: String, code: Int) {
        message = "zstd \(operation) failed: \(String(cString: ZSTD_getErrorName(code)))"
    }
}

public final class ZstdCompressor {
    private let ctx: OpaquePointer
    private let output: UnsafeMutableRawBufferPointer

    /// `level` 1…19; `workers` > 0 compresses on that many extra threads.
    public init(level: Int32 = 1, workers: Int32 = 0) {
        guard let ctx = ZSTD_createCCtx() else { fatalError("libzstd: out of memory") }
        self.ctx = ctx
        ZSTD_CCtx_setParameter(ctx, ZSTD_c_compressionLevel, level)
        ZSTD_CCtx_setParameter(ctx, ZSTD_c_checksumFlag, 0)
        if workers > 0 { ZSTD_CCtx_setParameter(ctx, ZSTD_c_nbWorkers, workers) }
        output = .allocate(byteCount: ZSTD_CStreamOutSize(), alignment: 64)
    }

    deinit {
        ZSTD_freeCCtx(ctx)
        output.deallocate()
    }

    /// Compresses `input`, handing compressed bytes to `sink` as they are produced.
    /// Call with `end: true` (and possibly empty input) to finish the frame.
    public func compress(_ input: UnsafeRawBufferPointer, end: Bool,
                         sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        var inBuf = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        let mode = end ? ZSTD_e_end : ZSTD_e_continue
        while true {
            var outBuf = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
            let remaining = ZSTD_compressStream2(ctx, &outBuf, &inBuf, mode)
            if ZSTD_isError(remaining) != 0 { throw ZstdError("compression", code: remaining) }
            if outBuf.pos > 0 { try sink(UnsafeRawBufferPointer(rebasing: output[0 ..< outBuf.pos])) }
            if end ? remaining == 0 : inBuf.pos == inBuf.size { break }
        }
    }
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
