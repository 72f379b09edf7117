#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The parsed pipeline of the last run, reused while nothing it was parsed from has changed — as
/// ninja keeps `.ninja_deps` — so a no-op `crx status` does not re-parse (and re-template) a
/// 1,000-stage `pipeline.yaml` every time.
///
/// The key is every input of the parse: the project root, the pipeline file's name and content, and
/// each file templating read or looked for (`params.yaml`, `vars` files: content digest, "absent" or
/// "directory"), plus the identity of the crx executable (a new build may parse differently). A
/// lookup re-reads and re-hashes those files (XXH3, well under a millisecond for a large pipeline),
/// so an edit is seen whatever the clocks say. Only successful parses are stored: errors always come
/// from a real parse, with their file:line:column.
///
/// On disk, `.crx/state/pipeline.v1` (atomically replaced; missing, damaged, foreign or stale means
/// "parse again and rewrite"):
/// ```
/// "crx-pipeline 1\n"
/// u64 length of the rest, 16-byte XXH3-128 of the rest      (damage is detected, never trusted)
/// the rest: str root, str pipeline file, str executable identity,
///           u32 n inputs × (str path, str state: "-" | "d" | 32 hex digits),
///           u32 n stages × stage, u32 n sources × source       (see `Encoder` for each field)
/// ```
/// Integers are little-endian; `str` is a u32 byte count and UTF-8 bytes; optionals a 0/1 byte first.
public struct PipelineCache: Sendable {
    public static let magic = "crx-pipeline 2\n"
    public let file: String

    public init(file: String) { self.file = file }

    /// The definition stored for `key`, or nil (absent, damaged, or made from other inputs).
    /// `state(path)` tells what a recorded input is now.
    func lookup(root: String, pipelineFile: String, pipelineText: [UInt8],
                state: (String) -> String) -> PipelineDefinition? {
        guard let data = FileManager.default.contents(atPath: file) else { return nil }
        return data.withUnsafeBytes { raw -> PipelineDefinition? in
            var d = Decoder(bytes: raw.bindMemory(to: UInt8.self))
            guard d.expect(Self.magic), let length = d.u64(), let high = d.u64(), let low = d.u64(),
                  Int(length) == d.remaining else { return nil }
            let rest = UnsafeRawBufferPointer(rebasing: raw[(raw.count - Int(length))...])
            guard XXH3Hasher.digest(rest) == Digest(high: high, low: low) else { return nil }
            guard d.string() == root, d.string() == pipelineFile, d.string() == Self.executableIdentity,
                  let inputs = d.u32() else { return nil }
            let pipelineState = Self.contentState(pipelineText)
            for _ in 0..<inputs {
                guard let path = d.string(), let recorded = d.string() else { return nil }
                let now = path == pipelineFile ? pipelineState : state(path)
                guard now == recorded else { return nil }
            }
            return d.definition()
        }
    }

    /// Stores `definition`, parsed from `pipelineText` and the files `inputs` (root-relative).
    /// Best effort: a cache that cannot be written only costs a parse next time.
    func store(_ definition: PipelineDefinition, root: String, pipelineFile: String, pipelineText: [UInt8],
               inputs: [String], state: (String) -> String) {
        var e = Encoder()
        e.string(root)
        e.string(pipelineFile)
        e.string(Self.executableIdentity)
        var seen: Set<String> = [pipelineFile]
        let others = inputs.filter { seen.insert($0).inserted }
        e.u32(others.count + 1)
        e.string(pipelineFile)
        e.string(Self.contentState(pipelineText))
        for path in others {
            e.string(path)
            e.string(state(path))
        }
        e.definition(definition)
        let digest = e.bytes.withUnsafeBytes { XXH3Hasher.digest($0) }
        var out = Array(Self.magic.utf8)
        var header = Encoder()
        header.u64(UInt64(e.bytes.count))
        header.u64(digest.high)
        header.u64(digest.low)
        out += header.bytes
        out += e.bytes
        try? LocalFileSystem().writeAtomically(out, to: file)
    }

    /// What an input is now, as recorded in the key: `-` absent, `d` a directory, else its content digest.
    static func state(ofAbsolutePath path: String) -> String {
        let fs = LocalFileSystem()
        guard let st = fs.stat(path) else { return "-" }
        if st.kind == .directory { return "d" }
        guard let bytes = try? fs.readFile(path) else { return "?unreadable" }
        return contentState(bytes)
    }

    static func contentState(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { XXH3Hasher.digest($0) }.hex
    }

    /// The running executable, by identity (device, inode, size, mtime): another build of crx may
    /// parse differently, so it never reuses this one's cache.
    static let executableIdentity: String = {
        guard let st = LocalFileSystem().stat("/proc/self/exe") else { return "unknown-executable" }
        return "exe:\(st.device):\(st.inode):\(st.size):\(st.mtimeNs)"
    }()

    // MARK: bytes

    struct Encoder {
        var bytes: [UInt8] = []

        mutating func u8(_ v: UInt8) { bytes.append(v) }
        mutating func u32(_ v: Int) { withUnsafeBytes(of: UInt32(truncatingIfNeeded: v).littleEndian) { bytes += $0 } }
        mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        mutating func int(_ v: Int) { u64(UInt64(bitPattern: Int64(v))) }
        mutating func bool(_ v: Bool) { u8(v ? 1 : 0) }
        mutating func string(_ s: String) {
            var s = s
            s.withUTF8 { utf8 in
                u32(utf8.count)
                bytes.append(contentsOf: utf8)
            }
        }
        mutating func optional<T>(_ v: T?, _ write: (inout Encoder, T) -> Void) {
            if let v {
                u8(1)
                write(&self, v)
            } else {
                u8(0)
            }
        }
        mutating func location(_ l: SourceLocation) {
            string(l.file)
            int(l.line)
            int(l.column)
        }

        mutating func definition(_ d: PipelineDefinition) {
            u32(d.stages.count)
            for s in d.stages { stage(s) }
            u32(d.sources.count)
            for s in d.sources { source(s) }
        }

        /// name, location, cmd, wdir, deps (path, location), params (file, key?, location),
        /// outs (path, kind, cache, persist, location), frozen, always_changed, desc?, timeout?,
        /// resources (cpus?, mem?, gpus?, time?, partition?, location?).
        mutating func stage(_ s: Stage) {
            string(s.name)
            location(s.location)
            u32(s.cmd.count)
            for c in s.cmd { string(c) }
            string(s.wdir)
            u32(s.deps.count)
            for d in s.deps {
                string(d.path)
                location(d.location)
            }
            u32(s.params.count)
            for p in s.params {
                string(p.file)
                optional(p.key) { $0.string($1) }
                location(p.location)
            }
            u32(s.outs.count)
            for o in s.outs {
                string(o.path)
                string(o.kind.rawValue)
                bool(o.cache)
                bool(o.persist)
                location(o.location)
            }
            bool(s.frozen)
            bool(s.alwaysChanged)
            optional(s.desc) { $0.string($1) }
            optional(s.timeout) { $0.u64($1.bitPattern) }
            let r = s.resources
            optional(r.cpus) { $0.u64(UInt64($1)) }
            optional(r.memoryMiB) { $0.u64(UInt64($1)) }
            optional(r.gpus) { $0.string($1) }
            optional(r.time) { $0.u64($1.bitPattern) }
            optional(r.partition) { $0.string($1) }
            optional(r.location) { $0.location($1) }
        }

        /// name, path, checksum (algorithm, hex), origin?, freshness? (warn?, error?: count, period),
        /// location, checksum location.
        mutating func source(_ s: Source) {
            string(s.name)
            string(s.path)
            string(s.checksum.algorithm.rawValue)
            string(s.checksum.hex)
            optional(s.origin) { $0.string($1) }
            optional(s.freshness) { e, f in
                for d in [f.warnAfter, f.errorAfter] {
                    e.optional(d) { e, d in
                        e.int(d.count)
                        e.string(d.period.rawValue)
                    }
                }
            }
            location(s.location)
            location(s.checksumLocation)
        }
    }

    struct Decoder {
        let bytes: UnsafeBufferPointer<UInt8>
        var position = 0

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        var remaining: Int { bytes.count - position }

        mutating func expect(_ text: String) -> Bool {
            let utf8 = Array(text.utf8)
            guard remaining >= utf8.count, utf8.indices.allSatisfy({ bytes[position + $0] == utf8[$0] }) else { return false }
            position += utf8.count
            return true
        }
        mutating func u8() -> UInt8? {
            guard remaining >= 1 else { return nil }
            defer { position += 1 }
            return bytes[position]
        }
        mutating func u32() -> Int? {
            guard remaining >= 4 else { return nil }
            var v: UInt32 = 0
            for k in 0..<4 { v |= UInt32(bytes[position + k]) << (8 * k) }
            position += 4
            return Int(v)
        }
        mutating func u64() -> UInt64? {
            guard remaining >= 8 else { return nil }
            var v: UInt64 = 0
            for k in 0..<8 { v |= UInt64(bytes[position + k]) << (8 * k) }
            position += 8
            return v
        }
        mutating func int() -> Int? { u64().map { Int(Int64(bitPattern: $0)) } }
        mutating func bool() -> Bool? {
            switch u8() {
            case 0?: return false
            case 1?: return true
            default: return nil
            }
        }
        mutating func string() -> String? {
            guard let n = u32(), remaining >= n else { return nil }
            defer { position += n }
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[position..<position + n]), as: UTF8.self)
        }
        /// Reads a 0/1 flag, then the value when 1. nil: malformed; .some(nil): absent.
        mutating func optional<T>(_ read: (inout Decoder) -> T?) -> T?? {
            switch u8() {
            case 0?: return .some(nil)
            case 1?: return read(&self).map { .some($0) }
            default: return nil
            }
        }
        mutating func location() -> SourceLocation? {
            guard let file = string(), let line = int(), let column = int() else { return nil }
            return SourceLocation(file: file, line: line, column: column)
        }

        /// The definition, or nil when the bytes are malformed (or have bytes left over).
        mutating func definition() -> PipelineDefinition? {
            guard let n = u32() else { return nil }
            var stages: [Stage] = []
            stages.reserveCapacity(n)
            for _ in 0..<n {
                guard let s = stage() else { return nil }
                stages.append(s)
            }
            guard let m = u32() else { return nil }
            var sources: [Source] = []
            for _ in 0..<m {
                guard let s = source() else { return nil }
                sources.append(s)
            }
            guard remaining == 0 else { return nil }
            return PipelineDefinition(stages: stages, sources: sources)
        }

        mutating func stage() -> Stage? {
            guard let name = string(), let location = location(), let nc = u32() else { return nil }
            var cmd: [String] = []
            for _ in 0..<nc {
                guard let c = string() else { return nil }
                cmd.append(c)
            }
            guard let wdir = string(), let nd = u32() else { return nil }
            var deps: [Stage.Dep] = []
            deps.reserveCapacity(nd)
            for _ in 0..<nd {
                guard let path = string(), let l = self.location() else { return nil }
                deps.append(.init(path: path, location: l))
            }
            guard let np = u32() else { return nil }
            var params: [Stage.ParamRef] = []
            for _ in 0..<np {
                guard let file = string(), let key = optional({ $0.string() }), let l = self.location() else { return nil }
                params.append(.init(file: file, key: key, location: l))
            }
            guard let no = u32() else { return nil }
            var outs: [Stage.Out] = []
            for _ in 0..<no {
                guard let path = string(), let kind = string().flatMap(Stage.Out.Kind.init(rawValue:)),
                      let cache = bool(), let persist = bool(), let l = self.location() else { return nil }
                outs.append(.init(path: path, kind: kind, cache: cache, persist: persist, location: l))
            }
            guard let frozen = bool(), let alwaysChanged = bool(), let desc = optional({ $0.string() }),
                  let timeout = optional({ $0.u64().map(Double.init(bitPattern:)) }) else { return nil }
            guard let cpus = optional({ $0.u64().map { Int($0) } }), let mem = optional({ $0.u64().map { Int($0) } }),
                  let gpus = optional({ $0.string() }), let time = optional({ $0.u64().map(Double.init(bitPattern:)) }),
                  let partition = optional({ $0.string() }), let resourcesAt = optional({ $0.location() }) else { return nil }
            let resources = StageResources(cpus: cpus, memoryMiB: mem, gpus: gpus, time: time, partition: partition, location: resourcesAt)
            return Stage(name: name, location: location, cmd: cmd, wdir: wdir, deps: deps, params: params, outs: outs,
                         frozen: frozen, alwaysChanged: alwaysChanged, desc: desc, timeout: timeout, resources: resources)
        }

        mutating func source() -> Source? {
            guard let name = string(), let path = string(),
                  let algorithm = string().flatMap(Checksum.Algorithm.init(rawValue:)), let hex = string(),
                  let origin = optional({ $0.string() }) else { return nil }
            let freshness = optional { d -> FreshnessSLA? in
                var durations: [FreshnessSLA.Duration?] = []
                for _ in 0..<2 {
                    guard let duration = d.optional({ d -> FreshnessSLA.Duration? in
                        guard let count = d.int(), let period = d.string().flatMap(FreshnessSLA.Duration.Period.init(rawValue:)) else { return nil }
                        return FreshnessSLA.Duration(count: count, period: period)
                    }) else { return nil }
                    durations.append(duration)
                }
                return FreshnessSLA(warnAfter: durations[0], errorAfter: durations[1])
            }
            guard let freshness, let location = self.location(), let checksumLocation = self.location() else { return nil }
            return Source(name: name, path: path, checksum: Checksum(algorithm: algorithm, hex: hex), origin: origin,
                          freshness: freshness, location: location, checksumLocation: checksumLocation)
        }
    }
}
