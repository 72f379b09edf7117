import Foundation

/// The parsed params files of earlier runs, reused while a file's bytes are unchanged — as
/// `PipelineCache` reuses the parsed pipeline — so a no-op `crx status` does not parse a
/// 1,000-key `params.yaml` with Yams every time.
///
/// The key is the file's root-relative path, its content (XXH3-128 of its bytes, which a lookup
/// has just read: an edit is seen whatever the clocks say, so no mtime granularity or racy-write
/// case arises) and the identity of the crx executable (another build may parse differently).
/// Only successful parses are stored: errors always come from a real parse, with file:line:column.
///
/// On disk, `.crx/state/params.v1` (atomically replaced; missing, damaged, foreign or stale means
/// "parse again and rewrite"):
/// ```
/// "crx-params 1\n"
/// u64 length of the rest, 16-byte XXH3-128 of the rest      (damage is detected, never trusted)
/// the rest: str executable identity,
///           u32 n files × (str path, u64 u64 content digest, value)
/// value:    u8 tag, then 0 null | 1 false | 2 true | 3 int: u64 | 4 double: u64 bits |
///           5 string: str | 6 list: u32 n × value | 7 dict: u32 n × (str key, value)
/// ```
/// Integers and strings are encoded as in `PipelineCache`.
public struct ParsedParamsCache: Sendable {
    public static let magic = "crx-params 1\n"
    public let file: String

    public init(file: String) { self.file = file }

    /// The parsed value stored for `path` with content `content`, or nil.
    public func lookup(path: String, content: Digest) -> ParamValue? {
        entries()?[path].flatMap { $0.content == content ? $0.value : nil }
    }

    /// Stores the parse of `path` (content `content`), keeping the other files' entries. Best effort:
    /// a cache that cannot be written only costs a parse next time.
    public func store(path: String, content: Digest, value: ParamValue) {
        var all = entries() ?? [:]
        all[path] = (content, value)
        var e = PipelineCache.Encoder()
        e.string(PipelineCache.executableIdentity)
        e.u32(all.count)
        for (path, entry) in all.sorted(by: { $0.key < $1.key }) {
            e.string(path)
            e.u64(entry.content.high)
            e.u64(entry.content.low)
            e.paramValue(entry.value)
        }
        let digest = e.bytes.withUnsafeBytes { XXH3Hasher.digest($0) }
        var header = PipelineCache.Encoder()
        header.u64(UInt64(e.bytes.count))
        header.u64(digest.high)
        header.u64(digest.low)
        try? LocalFileSystem().writeAtomically(Array(Self.magic.utf8) + header.bytes + e.bytes, to: file)
    }

    /// Every entry of the file made by this executable; nil when absent, damaged or foreign.
    func entries() -> [String: (content: Digest, value: ParamValue)]? {
        guard let data = FileManager.default.contents(atPath: file) else { return nil }
        return data.withUnsafeBytes { raw -> [String: (content: Digest, value: ParamValue)]? in
            var d = PipelineCache.Decoder(bytes: raw.bindMemory(to: UInt8.self))
            guard d.expect(Self.magic), let length = d.u64(), let high = d.u64(), let low = d.u64(),
                  Int(length) == d.remaining else { return nil }
            let rest = UnsafeRawBufferPointer(rebasing: raw[(raw.count - Int(length))...])
            guard XXH3Hasher.digest(rest) == Digest(high: high, low: low),
                  d.string() == PipelineCache.executableIdentity, let n = d.u32() else { return nil }
            var result: [String: (content: Digest, value: ParamValue)] = [:]
            for _ in 0..<n {
                guard let path = d.string(), let high = d.u64(), let low = d.u64(),
                      let value = d.paramValue(depth: 0) else { return nil }
                result[path] = (Digest(high: high, low: low), value)
            }
            guard d.remaining == 0 else { return nil }
            return result
        }
    }
}

extension PipelineCache.Encoder {
    mutating func paramValue(_ v: ParamValue) {
        switch v {
        case .null: u8(0)
        case let .bool(b): u8(b ? 2 : 1)
        case let .int(i):
            u8(3)
            int(i)
        case let .double(x):
            u8(4)
            u64(x.bitPattern)
        case let .string(s):
            u8(5)
            string(s)
        case let .list(items):
            u8(6)
            u32(items.count)
            for item in items { paramValue(item) }
        case let .dict(map):
            u8(7)
            u32(map.count)
            for (key, value) in map {
                string(key)
                paramValue(value)
            }
        }
    }
}

extension PipelineCache.Decoder {
    /// A value, or nil when the bytes are malformed (or nested implausibly deep).
    mutating func paramValue(depth: Int) -> ParamValue? {
        guard depth < 512, let tag = u8() else { return nil }
        switch tag {
        case 0: return .null
        case 1: return .bool(false)
        case 2: return .bool(true)
        case 3: return int().map { .int($0) }
        case 4: return u64().map { .double(Double(bitPattern: $0)) }
        case 5: return string().map { .string($0) }
        case 6:
            guard let n = u32(), n <= remaining else { return nil }
            var items: [ParamValue] = []
            items.reserveCapacity(n)
            for _ in 0..<n {
                guard let item = paramValue(depth: depth + 1) else { return nil }
                items.append(item)
            }
            return .list(items)
        case 7:
            guard let n = u32(), n <= remaining else { return nil }
            var map: [String: ParamValue] = [:]
            map.reserveCapacity(n)
            for _ in 0..<n {
                guard let key = string(), let value = paramValue(depth: depth + 1) else { return nil }
                map[key] = value
            }
            return .dict(map)
        default: return nil
        }
    }
}
