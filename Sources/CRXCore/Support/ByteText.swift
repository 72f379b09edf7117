/// Numbers and digests read straight from byte ranges of crx's own line-based files (the lock,
/// the state cache), in exactly the forms crx writes them: no `String` per field, no allocation.
/// Every reader returns nil for anything else, and its caller falls back or skips the line. The
/// writers append the same forms to a byte buffer.
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

    /// Appends `Digest.hex` (32 lowercase hex digits).
    static func appendHex(_ digest: Digest, to out: inout [UInt8]) {
        let digits: StaticString = "0123456789abcdef"
        for word in [digest.high, digest.low] {
            for shift in stride(from: 60, through: 0, by: -4) {
                out.append(digits.utf8Start[Int((word >> UInt64(shift)) & 0xF)])
            }
        }
    }

    /// Appends `value` in decimal, as `description` writes it.
    static func appendDecimal(_ value: some BinaryInteger, to out: inout [UInt8]) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // room for 24 digits
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[count] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude > 0
            while count > 0 {
                count -= 1
                out.append(buffer[count])
            }
        }
    }
}
