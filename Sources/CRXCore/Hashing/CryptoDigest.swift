internal import CCrypto

/// Cryptographic digests (SHA-256, MD5) over OpenSSL's libcrypto: the only file that imports
/// `CCrypto`. crx identifies content by XXH3-128; these exist for audit trails — the checksums data
/// providers publish (sha256, md5) and the digests provenance formats expect (sha256).
public final class CryptoHasher {
    public enum Algorithm: String, Sendable, CaseIterable {
        case sha256, md5
    }

    public let algorithm: Algorithm
    private let context: OpaquePointer

    public init(_ algorithm: Algorithm) {
        self.algorithm = algorithm
        guard let context = EVP_MD_CTX_new() else { fatalError("libcrypto: out of memory") }
        self.context = context
        let md = algorithm == .sha256 ? EVP_sha256() : EVP_md5()
        EVP_DigestInit_ex(context, md, nil)
    }

    deinit { EVP_MD_CTX_free(context) }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        EVP_DigestUpdate(context, bytes.baseAddress, bytes.count)
    }

    /// Lowercase hex.
    public func finalize() -> String {
        var out = [UInt8](repeating: 0, count: 64)
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &out, &length)
        return out.prefix(Int(length)).map { byte in
            let s = String(byte, radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined()
    }

    public static func hex(_ algorithm: Algorithm, of bytes: some Sequence<UInt8>) -> String {
        let h = CryptoHasher(algorithm)
        Array(bytes).withUnsafeBytes { h.update($0) }
        return h.finalize()
    }
}

/// HMAC-SHA256 (for signing S3 requests, AWS Signature Version 4).
public enum HMACSHA256 {
    public static func mac(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        key.withUnsafeBufferPointer { k in
            message.withUnsafeBufferPointer { m in
                _ = HMAC(EVP_sha256(), k.baseAddress, Int32(k.count), m.baseAddress, m.count, &out, &length)
            }
        }
        return Array(out.prefix(Int(length)))
    }

    public static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        bytes.withUnsafeBufferPointer { b in _ = EVP_Digest(b.baseAddress, b.count, &out, &length, EVP_sha256(), nil) }
        return out
    }
}
