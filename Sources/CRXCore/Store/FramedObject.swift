#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The bytes of a cache object, and the two parallel pipelines that write and read them.
///
/// An object is a sequence of one or more **independent zstd frames**, concatenated:
/// ```
/// frame 0 | frame 1 | … | frame n−1        each frame = the next ≤ 4 MiB (`frameSize`) of the content
/// ```
/// - Every frame is a standard zstd frame (RFC 8878) with its content size in its header and no
///   checksum (the object's name, the XXH3-128 of the whole content, is the checksum). So the object
///   file is a valid `.zst` stream: `zstd -d < object` restores the content.
/// - A frame is either zstd-compressed (level `LocalObjectStore.compressionLevel`) or, when three
///   64 KiB samples of its chunk do not compress below 95% (`ZstdFrameEncoder`), a frame of *raw
///   blocks*: the chunk's bytes as they are behind 3-byte block headers, written at copy speed.
/// - Content of up to `frameSize` bytes (most objects) is a single frame.
/// - Objects written before this format (crx ≤ fbee42a) are one streamed frame, possibly without a
///   content size; they stay valid and are read by the sequential decoder.
///
/// Writing (`encode`): `threads` workers each take the next chunk in turn (read in 128 KiB pieces,
/// each hashed by XXH3 while still in L2, under the read lock; then SHA-256 in chunk order),
/// compress their own chunk in parallel, and append their frame in chunk order with `writev` — a
/// raw frame goes out as its headers interleaved with slices of the chunk buffer, uncopied — handing
/// every 32 MiB written to disk writeback at once, so the final fsync is short. Reading (`decode`):
/// workers take the next frame in turn, found by walking the frame and block headers (no index is
/// stored: `ZstdFrameDecoder.frame(at:…)`), read and decompress it in parallel (a frame of raw
/// blocks is not decompressed: its blocks are written and hashed from the read buffer), `pwritev`
/// its content at its offset (the sum of the earlier frames' content sizes), and feed XXH3 in frame
/// order — the caller checks the digest before it publishes anything.
///
/// Concurrency: the workers share one `Shared`: `readLock` guards the read position (which chunk or
/// frame is next), an `NSCondition` the per-step counters that keep hashing and writing in order,
/// and the first failure, which stops every worker and is rethrown on the caller's thread. Each
/// worker owns its buffers and its zstd context; the hashers are only touched by the worker whose
/// turn it is.
enum FramedObject {
    /// Content bytes per frame: large enough for level-1 compression to lose nothing measurable to
    /// frame independence (its window is 512 KiB), small enough for 2+ threads on a 1 GiB file.
    static let frameSize = 4 << 20

    /// Compressing workers for a file of `size` bytes: one more than the cores for multi-frame
    /// content (a worker waiting for its turn to hash or write leaves its core to the spare one),
    /// else the caller alone.
    static func threads(for size: Int64) -> Int { size > Int64(frameSize) ? cores + 1 : 1 }

    /// Threads for multi-frame work: the machine's cores (at least 2, so that reading, hashing and
    /// writing overlap with compression).
    static var cores: Int { max(2, ProcessInfo.processInfo.activeProcessorCount) }

    /// What the workers share: ordered steps (step `k`'s counter is the next chunk allowed through
    /// it), the read position, and the first failure. Guarded by `condition`, except `claimed`,
    /// `finished` and `total`, which only the holder of `readLock` touches.
    final class Shared: @unchecked Sendable {
        private let condition = NSCondition()
        private var next: [Int]
        private var failure: Error?
        let readLock = NSLock()
        var claimed = 0
        var finished = false
        var total: Int64 = 0

        /// Bytes written but not yet handed to writeback (touched only in the write step).
        private var unflushed: (start: Int64, count: Int64) = (0, 0)

        init(steps: Int) { next = Array(repeating: 0, count: steps) }

        /// Starts writing every 32 MiB just written to disk (without waiting), so the fsync that
        /// publishes the object waits for the last few MiB instead of the whole file.
        func startWriteback(_ fd: Int32, added: Int) {
            unflushed.count += Int64(added)
            guard unflushed.count >= 32 << 20 else { return }
            _ = FramedObject.syncFileRange?(fd, unflushed.start, unflushed.count, 2)  // SYNC_FILE_RANGE_WRITE
            unflushed = (unflushed.start + unflushed.count, 0)
        }

        /// Runs `body` for chunk `index` once every earlier chunk has passed step `step`; false when
        /// a worker failed (then `body` is not run) or `body` threw.
        func inOrder(_ step: Int, _ index: Int, _ body: () throws -> Void) -> Bool {
            condition.lock()
            while next[step] != index && failure == nil { condition.wait() }
            let stop = failure != nil
            condition.unlock()
            if stop { return false }
            do { try body() } catch { fail(error); return false }
            condition.lock()
            next[step] = index + 1
            condition.broadcast()
            condition.unlock()
            return true
        }

        var error: Error? {
            condition.lock()
            defer { condition.unlock() }
            return failure
        }

        func fail(_ error: Error) {
            condition.lock()
            if failure == nil { failure = error }
            condition.broadcast()
            condition.unlock()
        }
    }

    /// Linux's `sync_file_range(2)` (Glibc's module map does not export it), nil elsewhere.
    static let syncFileRange: (@convention(c) (Int32, Int64, Int64, UInt32) -> Int32)? = {
        #if os(Linux)
        guard let symbol = dlsym(nil, "sync_file_range") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int32, Int64, Int64, UInt32) -> Int32).self)
        #else
        return nil
        #endif
    }()

    /// Runs `worker` on `threads` threads (the caller's among them) and returns when all are done.
    static func run(threads: Int, _ worker: () -> Void) {
        if threads <= 1 { return worker() }
        withoutActuallyEscaping(worker) { worker in
            let box = UncheckedSendable(worker)
            DispatchQueue.concurrentPerform(iterations: threads) { _ in box.value() }
        }
    }

    /// Reads `input` to its end and writes its framed encoding to `output`; every chunk is passed in
    /// order to `hash` (while holding the read lock: keep it cheap) and to `audit` (its own ordered
    /// step, overlapping other chunks' reads and compression). Returns the content's byte count.
    ///
    /// `sizeHint`: the input's size when known. Content smaller than a frame gets a buffer and an
    /// encoder of its own size (one byte more, to see its end) instead of a frame's: a build caching
    /// 10,000 small outputs allocated 8 MiB per output, which made malloc serve large buffers from
    /// its heaps (its mmap threshold rises to the largest buffer freed) and fragment them. Content
    /// that grew past the hint gets a whole frame's buffer as soon as it fills the small one; the
    /// bytes are the same either way.
    static func encode(input: Int32, inputPath: String, output: Int32, outputPath: String,
                       level: Int32, threads: Int, sizeHint: Int64 = Int64(frameSize),
                       hash: (UnsafeRawBufferPointer) -> Void,
                       audit: (UnsafeRawBufferPointer) -> Void) throws -> Int64 {
        let auditStep = 0, writeStep = 1
        let shared = Shared(steps: 2)
        let firstCapacity = Int(min(Int64(frameSize), max(sizeHint, 0) + 1))
        run(threads: threads) {
            var buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: firstCapacity, alignment: 64)
            defer { buffer.deallocate() }
            var encoder: ZstdFrameEncoder?
            var encoderInput = 0
            while true {
                var index = 0, count = 0
                shared.readLock.lock()
                do {
                    if shared.finished || shared.error != nil { shared.readLock.unlock(); return }
                    index = shared.claimed
                    // In L2-sized pieces, each hashed right after it is read (while still in cache).
                    count = try readFull(input, buffer, path: inputPath, piece: piece, hash)
                    if count == buffer.count && count < frameSize {
                        // Bigger than the hint said: on with a whole frame (the bytes read stay first).
                        let whole = UnsafeMutableRawBufferPointer.allocate(byteCount: frameSize, alignment: 64)
                        whole.copyMemory(from: UnsafeRawBufferPointer(buffer))
                        buffer.deallocate()
                        buffer = whole
                        count += try readFull(input, UnsafeMutableRawBufferPointer(rebasing: buffer[count...]), path: inputPath,
                                              piece: piece, hash)
                    }
                    if count == 0 && index > 0 { shared.finished = true; shared.readLock.unlock(); return }
                    if count < frameSize { shared.finished = true }
                    shared.total += Int64(count)
                    shared.claimed += 1
                    shared.readLock.unlock()
                } catch {
                    shared.fail(error)
                    shared.readLock.unlock()
                    return
                }
                let chunk = UnsafeRawBufferPointer(rebasing: buffer[0 ..< count])
                guard shared.inOrder(auditStep, index, { audit(chunk) }) else { return }
                let frame: [UnsafeRawBufferPointer]
                do {
                    if encoder == nil || encoderInput < count {
                        encoderInput = buffer.count
                        encoder = ZstdFrameEncoder(level: level, maxInput: encoderInput)
                    }
                    frame = try encoder!.encodeParts(chunk)
                } catch {
                    shared.fail(error)
                    return
                }
                guard shared.inOrder(writeStep, index, {
                    let written = try writeAll(output, frame, path: outputPath)
                    shared.startWriteback(output, added: written)
                }) else { return }
            }
        }
        if let error = shared.error { throw error }
        return shared.total
    }

    /// Decompresses the framed object open at `fd` (`size` bytes, starting with `first`, found by
    /// `ZstdFrameDecoder.frame(at:…)`) on `threads` threads: workers take the next frame in turn
    /// (walking its block headers with `pread`), read and decompress it into their own buffers,
    /// write its content with `pwrite` at its offset in `output` (when given) and feed it to `hash`
    /// in frame order. Throws `ZstdError` for a frame that is damaged or does not decode to its
    /// recorded size; the caller compares the digest.
    static func decode(_ fd: Int32, size: Int, path: String, first: ZstdFrameDecoder.Frame, threads: Int,
                       output: Int32?, outputPath: String, hash: (UnsafeRawBufferPointer) -> Void) throws {
        let hashStep = 0
        let shared = Shared(steps: 1)
        var nextFrame: ZstdFrameDecoder.Frame? = first  // guarded by shared.readLock, as is `position`
        var position: Int64 = 0
        run(threads: threads) {
            var packed = UnsafeMutableRawBufferPointer.allocate(byteCount: max(first.length, 1), alignment: 64)
            var plain = UnsafeMutableRawBufferPointer.allocate(byteCount: max(first.contentSize, 1), alignment: 64)
            defer { packed.deallocate(); plain.deallocate() }
            let decoder = ZstdFrameDecoder()
            while true {
                var frame: ZstdFrameDecoder.Frame
                var content: [UnsafeRawBufferPointer] = []  // the frame's plain bytes, in order
                var index = 0, at: Int64 = 0
                shared.readLock.lock()
                do {
                    guard shared.error == nil, let claimed = nextFrame else { shared.readLock.unlock(); return }
                    frame = claimed
                    index = shared.claimed
                    at = position
                    shared.claimed += 1
                    position += Int64(frame.contentSize)
                    let end = frame.offset + frame.length
                    if end == size {
                        nextFrame = nil
                    } else {
                        nextFrame = ZstdFrameDecoder.frame(at: end, size: size, maxContentSize: frameSize) { offset, count, into in
                            preadFull(fd, UnsafeMutableRawBufferPointer(start: into, count: count), at: offset)
                        }
                        guard nextFrame != nil else { throw ZstdError(message: "damaged or truncated frame at byte \(end)") }
                    }
                    shared.readLock.unlock()
                } catch {
                    shared.fail(error)
                    shared.readLock.unlock()
                    return
                }
                do {
                    if packed.count < frame.length {
                        packed.deallocate()
                        packed = .allocate(byteCount: frame.length, alignment: 64)
                    }
                    if plain.count < frame.contentSize {
                        plain.deallocate()
                        plain = .allocate(byteCount: frame.contentSize, alignment: 64)
                    }
                    let source = UnsafeMutableRawBufferPointer(rebasing: packed[0 ..< frame.length])
                    guard preadFull(fd, source, at: frame.offset) == frame.length else {
                        throw ZstdError(message: "frame at byte \(frame.offset) is cut short")
                    }
                    if let raw = ZstdFrameDecoder.rawPayloads(of: UnsafeRawBufferPointer(source), contentSize: frame.contentSize) {
                        content = raw  // a raw frame's content is its blocks as they are: nothing to decompress
                    } else {
                        let n = try decoder.decode(UnsafeRawBufferPointer(source),
                                                   into: UnsafeMutableRawBufferPointer(rebasing: plain[0 ..< frame.contentSize]))
                        guard n == frame.contentSize else {
                            throw ZstdError(message: "frame \(index) holds \(n) bytes, its header says \(frame.contentSize)")
                        }
                        content = [UnsafeRawBufferPointer(rebasing: plain[0 ..< n])]
                    }
                    if let output { try writeAll(output, content, at: at, path: outputPath) }
                } catch {
                    shared.fail(error)
                    return
                }
                guard shared.inOrder(hashStep, index, { content.forEach(hash) }) else { return }
            }
        }
        if let error = shared.error { throw error }
    }

    /// Reads up to `buffer.count` bytes at `offset`; returns how many (fewer only at end of file or
    /// on an error).
    @discardableResult
    static func preadFull(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, at offset: Int) -> Int {
        var done = 0
        while done < buffer.count {
            let n = FileDescriptor.preadSome(fd, UnsafeMutableRawBufferPointer(rebasing: buffer[done...]), at: Int64(offset + done))
            if n <= 0 { break }
            done += n
        }
        return done
    }

    /// Bytes read per `read(2)` while filling a chunk: the size of a raw block, small enough that
    /// the piece just read is still in the core's L2 cache when it is hashed.
    static let piece = 128 << 10

    /// Fills `buffer` from `fd` (short only at end of file) in reads of at most `piece` bytes,
    /// handing each piece read to `hash` in order. Returns the byte count.
    static func readFull(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, path: String, piece: Int = Int.max,
                         _ hash: (UnsafeRawBufferPointer) -> Void = { _ in }) throws -> Int {
        var filled = 0
        while filled < buffer.count {
            let end = filled + min(buffer.count - filled, piece)
            let n = try FileDescriptor.readSome(fd, UnsafeMutableRawBufferPointer(rebasing: buffer[filled ..< end]), path: path)
            if n == 0 { break }
            hash(UnsafeRawBufferPointer(rebasing: buffer[filled ..< filled + n]))
            filled += n
        }
        return filled
    }

    /// Writes `parts` in order with `writev(2)` — or `pwritev(2)` at `offset` when given — (the
    /// kernel copies each from where it is; no gathering copy), resuming after short writes.
    /// Returns the byte count.
    @discardableResult
    static func writeAll(_ fd: Int32, _ parts: [UnsafeRawBufferPointer], at offset: Int64? = nil, path: String) throws -> Int {
        var vectors = parts.filter { $0.count > 0 }.map { iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count) }
        var first = 0, total = 0
        while first < vectors.count {
            let n = vectors.withUnsafeBufferPointer { v in
                let count = Int32(min(v.count - first, 1024))  // IOV_MAX on Linux
                guard let offset else { return writev(fd, v.baseAddress! + first, count) }
                return pwritev(fd, v.baseAddress! + first, count, off_t(offset) + off_t(total))
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw IOError("write", path: path, errno: errno)
            }
            total += n
            var left = n  // skip what was written: whole vectors, then part of one
            while left > 0 && left >= vectors[first].iov_len { left -= vectors[first].iov_len; first += 1 }
            if left > 0 {
                vectors[first].iov_base += left
                vectors[first].iov_len -= left
            }
        }
        return total
    }

    static func pwriteAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, at offset: Int64, path: String) throws {
        var done = 0
        while done < buffer.count {
            let n = pwrite(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw IOError("write", path: path, errno: errno)
            }
            done += n
        }
    }
}

/// Hands a value to concurrent workers that the caller knows are synchronised (see `Shared`).
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
