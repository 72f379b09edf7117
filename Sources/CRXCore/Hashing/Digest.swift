/// A 128-bit content digest: XXH3-128 of the uncompressed bytes.
///
/// Written as `xxh128:` followed by 32 lowercase hex digits in XXH3's canonical (big-endian) order,
/// the same digits `xxh128sum` prints. Directories are identified by the digest of their
/// manifest (see `DirectoryManifest`).
public struct Digest: Sendable, Hashable, Comparable, CustomStringConvertible {
    public static let algorithm = "xxh128"

    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// 32 hex digits.
    public var hex: String {
        let h = String(high, radix: 16), l = String(low, radix: 16)
        return String(repeating: "0", count: 16 - h.count) + h + String(repeating: "0", count: 16 - l.count) + l
    }

    /// `xxh128:<hex>`.
    public var description: String { "\(Self.algorithm):\(hex)" }

    /// Parses 32 hex digits, or `xxh128:` followed by them.
    public init?(_ text: some StringProtocol) {
        var hex = Substring(text)
        if hex.hasPrefix("\(Self.algorithm):") { hex = hex.dropFirst(Self.algorithm.count + 1) }
        guard hex.utf8.count == 32,
              let high = UInt64(hex.prefix(16), radix: 16),
              let low = UInt64(hex.suffix(16), radix: 16) else { return nil }
        self.init(high: high, low: low)
    }

    public static func < (a: Digest, b: Digest) -> Bool { (a.high, a.low) < (b.high, b.low) }
}
