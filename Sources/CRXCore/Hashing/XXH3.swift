internal import CXXHash

/// Streaming XXH3-128 over libxxhash: the only file that imports `CXXHash`.
///
/// Memory is one small state whatever the input size; callers feed fixed-size chunks.
public final class XXH3Hasher {
    private let state: OpaquePointer

    public init() {
        guard let state = XXH3_createState() else { fatalError("libxxhash: out of memory") }
        self.state = state
        XXH3_128bits_reset(state)
    }

    deinit { XXH3_freeState(state) }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        #if arch(x86_64)
        XXH3_128bits_update_dispatch(state, bytes.baseAddress, bytes.count)  // AVX2 where the CPU has it
        #else
        XXH3_128bits_update(state, bytes.baseAddress, bytes.count)
        #endif
    }

    public func update(_ bytes: some Sequence<UInt8>) {
        let array = Array(bytes)
        array.withUnsafeBytes { update($0) }
    }

    public func finalize() -> Digest {
        let value = XXH3_128bits_digest(state)
        return Digest(high: value.high64, low: value.low64)
    }

    /// One-shot digest of a buffer.
    public static func digest(_ bytes: UnsafeRawBufferPointer) -> Digest {
        let value = XXH3_128bits(bytes.baseAddress, bytes.count)
        return Digest(high: value.high64, low: value.low64)
    }

    public static func digest(_ bytes: some Sequence<UInt8>) -> Digest {
        Array(bytes).withUnsafeBytes { digest($0) }
    }

    public static func digest(_ string: String) -> Digest { digest(Array(string.utf8)) }
}
