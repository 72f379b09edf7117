/// Numbers and digests read straight from byte ranges of crx's own line-based files (the lock,
/// the state cache), in exactly the forms crx writes them: no `String` per field, no allocation.
/// Every reader returns nil for anything else, and its caller falls back or skips the line.
enum ByteText {
    /// Lowercase hex digits in [from, to) (at most 16), as a number.
    static func hex(_ bytes: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> UInt64? {
        guard from < to, to - from <= 16 else { return nil }
        var v: UInt64 = 0
        for i in from..<to {
            let b = bytes[i]
            let d: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = b - UInt8(ascii: "a") + 10
            default: return nil
            }
            v = v << 4 | UInt64(d)
        }
        return v
    }

    /// Exactly 32 lowercase hex digits (`Digest.hex`).
    static func digestHex(_ bytes: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> Digest? {
        guard to - from == 32, let high = hex(bytes, from: from, to: from + 16),
              let low = hex(bytes, from: from + 16, to: to) else { return nil }
        return Digest(high: high, low: low)
    }

    /// `xxh128:` and 32 lowercase hex digits (`Digest.description`).
    static func digest(_ bytes: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> Digest? {
        let prefix: StaticString = "xxh128:"
        let n = prefix.utf8CodeUnitCount
        guard to - from == n + 32 else { return nil }
        for k in 0..<n where bytes[from + k] != prefix.utf8Start[k] { return nil }
        return digestHex(bytes, from: from + n, to: to)
    }

    /// A decimal integer as Swift prints an `Int64`: `0`, or an optional `-` and digits with no
    /// leading zero, within Int64's range.
    static func signed(_ bytes: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> Int64? {
        let negative = from < to && bytes[from] == UInt8(ascii: "-")
        guard let magnitude = unsigned(bytes, from: negative ? from + 1 : from, to: to) else { return nil }
        if negative {
            guard magnitude != 0, magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }

    /// An unsigned decimal as Swift prints a `UInt64`: no sign, no leading zero, no overflow.
    static func unsigned(_ bytes: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> UInt64? {
        guard from < to, to - from <= 20 else { return nil }
        if bytes[from] == UInt8(ascii: "0") && to - from > 1 { return nil }
        var v: UInt64 = 0
        for i in from..<to {
            let b = bytes[i]
            guard b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") else { return nil }
            let (times10, o1) = v.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(b - UInt8(ascii: "0")))
            guard !o1 && !o2 else { return nil }
            v = sum
        }
        return v
    }
}
