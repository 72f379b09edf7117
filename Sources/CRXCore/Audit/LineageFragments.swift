import Foundation

/// Where each stage's share of the last `reports/lineage.json` lies in its bytes, and a digest of
/// what that share was made from, so the report after a repro encodes again only the stages whose
/// share changed and copies the others' bytes: at 1,000 stages encoding the whole 5.7 MB report
/// was most of what a repro that ran one stage did after the stage.
///
/// A stage's share is its element of `runs` and its entries of `artefacts`, each as `JSONReport`
/// writes it at that depth (indent 4). Its key is an XXH3 of everything those bytes are made of:
/// the stage's lock entry digest (command, deps, params, outs), the run behind it (the run id from
/// the run log's index — run records are never rewritten — or "none": then the run comes from the
/// previous report, which these fragments describe), the stage's `wdir` and declared outs, each
/// out's facts in the workspace (XXH3, SHA-256, or missing) and what each dep is (which pinned
/// source and its verification, which producing stage, or a plain file). The report's top level
/// (`generated_at`, `git`, the pipeline's digest, `sources`) is always built again.
///
/// ```
///   for each stage in the lock:  key ─▶ same as in the fragments? ─yes─▶ copy its bytes
///                                                   │ no
///                                                   ▼
///                                    build its run and artefacts, encode them at indent 4
///   top level around them (`JSONReport.Encoded`) ─▶ the bytes of JSONReport.encode(Lineage.build)
/// ```
///
/// On disk, `.crx/state/lineage-fragments.v1`, atomically replaced after the report; anything
/// unreadable, or a report whose bytes are not the ones described, means "encode every stage":
/// ```
/// crx-lineage-fragments 1
/// <xxh128 hex of the bytes of reports/lineage.json>
/// <key hex>\t<start>\t<end>\t<escaped stage name>         a stage: its run's byte range
/// \t<start>\t<end>\t<escaped artefact path>               then each of its artefacts
/// ```
struct LineageFragments: Sendable, Equatable {
    static let header = "crx-lineage-fragments 1"

    struct Artefact: Sendable, Equatable {
        var path: String
        var range: Range<Int>
    }

    struct Part: Sendable, Equatable {
        var key: Digest
        var run: Range<Int>
        var artefacts: [Artefact]
    }

    /// The XXH3 of the report the ranges point into.
    var report: Digest
    var parts: [String: Part]

    /// True when `bytes` are the report these fragments describe.
    func describes(_ bytes: [UInt8]) -> Bool {
        guard bytes.withUnsafeBytes({ XXH3Hasher.digest($0) }) == report else { return false }
        return parts.values.allSatisfy { part in
            part.run.upperBound <= bytes.count && part.artefacts.allSatisfy { $0.range.upperBound <= bytes.count }
        }
    }

    /// The artefacts' paths in the order the report lists them (Foundation's order of the keys).
    var artefactOrder: [String] {
        parts.values.flatMap(\.artefacts).sorted { $0.range.lowerBound < $1.range.lowerBound }.map(\.path)
    }

    func rendered() -> [UInt8] {
        var out = "\(Self.header)\n\(report.hex)\n"
        for name in parts.keys.sorted() {
            let part = parts[name]!
            out += "\(part.key.hex)\t\(part.run.lowerBound)\t\(part.run.upperBound)\t\(Escaping.escape(name))\n"
            for a in part.artefacts {
                out += "\t\(a.range.lowerBound)\t\(a.range.upperBound)\t\(Escaping.escape(a.path))\n"
            }
        }
        return Array(out.utf8)
    }

    /// The fragments in `file`; nil when it is absent or not exactly in the format above.
    static func load(file: String) -> LineageFragments? {
        guard let bytes = try? LocalFileSystem().readFile(file) else { return nil }
        return bytes.withUnsafeBufferPointer { parse($0) }
    }

    static func parse(_ text: String) -> LineageFragments? {
        Array(text.utf8).withUnsafeBufferPointer { parse($0) }
    }

    /// Reads the bytes line by line, numbers and digests where they lie (`ByteText`).
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> LineageFragments? {
        var lines: [Range<Int>] = []
        var lineStart = 0
        for i in 0 ..< bytes.count where bytes[i] == 0x0A {
            lines.append(lineStart ..< i)
            lineStart = i + 1
        }
        guard lineStart == bytes.count, lines.count >= 2,
              String(decoding: UnsafeBufferPointer(rebasing: bytes[lines[0]]), as: UTF8.self) == header,
              let report = ByteText.digestHex(bytes, from: lines[1].lowerBound, to: lines[1].upperBound) else { return nil }
        var parts: [String: Part] = [:]
        var current: String?
        for line in lines.dropFirst(2) {
            // Four tab-separated fields; the last (a name) may hold anything but a raw tab or newline.
            var tabs: [Int] = []
            for i in line where bytes[i] == 0x09 {
                tabs.append(i)
                if tabs.count == 3 { break }
            }
            guard tabs.count == 3, let start = ByteText.signed(bytes, from: tabs[0] + 1, to: tabs[1]),
                  let end = ByteText.signed(bytes, from: tabs[1] + 1, to: tabs[2]), 0 <= start, start <= end else { return nil }
            let nameBytes = UnsafeBufferPointer(rebasing: bytes[tabs[2] + 1 ..< line.upperBound])
            var name = String(decoding: nameBytes, as: UTF8.self)
            if nameBytes.contains(0x5C) { name = Escaping.unescape(Substring(name)) }
            let range = Int(start) ..< Int(end)
            if tabs[0] == line.lowerBound {
                guard let stage = current else { return nil }
                parts[stage]!.artefacts.append(Artefact(path: name, range: range))
            } else {
                guard let key = ByteText.digestHex(bytes, from: line.lowerBound, to: tabs[0]), parts[name] == nil else { return nil }
                parts[name] = Part(key: key, run: range, artefacts: [])
                current = name
            }
        }
        return LineageFragments(report: report, parts: parts)
    }
}

extension Lineage {
    /// The report's bytes — exactly `JSONReport.encode(build(now:previous:))` — their fragments and
    /// the stages whose share was encoded (not copied).
    /// `reusing`: the report on disk and the fragments that describe it; the share of a stage whose
    /// key is the same is copied from it. Nil when the top level cannot be encoded here (never with
    /// the values `header` makes): the caller encodes the whole report instead.
    func encode(now: Date, previous: @autoclosure () -> [String: Any]?,
                reusing old: (bytes: [UInt8], fragments: LineageFragments)?) throws
        -> (bytes: [UInt8], fragments: LineageFragments, encodedStages: [String])? {
        var carriedRead: [String: [String: Any]]?
        func carried(_ entry: String) -> [String: Any]? {
            if carriedRead == nil { carriedRead = Self.carriedRuns(previous()) }
            return carriedRead![entry]
        }
        let sourcesByPath = self.sourcesByPath
        var runs: [Any] = []
        var artefacts: [String: Any] = [:]
        /// Tag of an `Encoded` value → its stage, and its artefact's path (nil: the stage's run).
        var tags: [(stage: String, artefact: String?)] = []
        var keys: [String: Digest] = [:]
        var encodedStages: [String] = []
        var fragment = JSONReport.Writer(capacity: 0)
        // What the report will take: its fragments, their keys and separators, the top level. Reserved
        // at once, the report's 57 MB at 10,000 stages are not grown by doubling (128 MB at its peak).
        var reportSize = 1 << 16
        func add(_ e: JSONReport.Encoded, artefact: String?) -> JSONReport.Encoded {
            reportSize += e.bytes.count + (artefact?.utf8.count ?? 0) + 16
            return e
        }
        func encoded(_ value: [String: Any], stage: String, artefact: String?) throws -> JSONReport.Encoded {
            let bytes = try JSONReport.encodeNested(value, indent: 4, with: &fragment)
            tags.append((stage, artefact))
            return add(JSONReport.Encoded(bytes: bytes[...], tag: tags.count - 1), artefact: artefact)
        }
        for stage in pipeline.stages {
            guard let record = lock.stages[stage.name] else { continue }
            let entry = entryDigest(stage.name, record)
            let runID = runLog.currentRunID(stage: stage.name, lockEntry: entry)
            let facts = try record.outs.map { try auditor.facts($0.path) }
            let key = fragmentKey(stage, record: record, entry: entry, runID: runID, facts: facts, sourcesByPath: sourcesByPath)
            keys[stage.name] = key
            if let old, let part = old.fragments.parts[stage.name], part.key == key {
                tags.append((stage.name, nil))
                runs.append(add(JSONReport.Encoded(bytes: old.bytes[part.run], tag: tags.count - 1), artefact: nil))
                for a in part.artefacts {
                    tags.append((stage.name, a.path))
                    artefacts[a.path] = add(JSONReport.Encoded(bytes: old.bytes[a.range], tag: tags.count - 1), artefact: a.path)
                }
                continue
            }
            encodedStages.append(stage.name)
            let run = runID == nil ? nil : runLog.current(stage: stage.name, lockEntry: entry)
            let part = try self.part(stage, record: record, entry: entry, run: run, carried: run == nil ? carried(entry) : nil,
                                     facts: facts, sourcesByPath: sourcesByPath)
            runs.append(try encoded(part.run, stage: stage.name, artefact: nil))
            for (path, value) in part.artefacts {
                artefacts[path] = try encoded(value, stage: stage.name, artefact: path)
            }
        }
        var writer = JSONReport.Writer(capacity: reportSize)
        if let old { writer.learnOrder(old.fragments.artefactOrder) }
        guard writer.write(header(now: now, runs: runs, artefacts: artefacts), indent: 0) else { return nil }
        writer.out.append(10)
        // `artefacts` comes before `runs` in the report.
        var runRanges: [String: Range<Int>] = [:]
        var artefactRanges: [String: [LineageFragments.Artefact]] = [:]
        for (tag, range) in writer.spans {
            let (stage, artefact) = tags[tag]
            if let artefact {
                artefactRanges[stage, default: []].append(.init(path: artefact, range: range))
            } else {
                runRanges[stage] = range
            }
        }
        var parts: [String: LineageFragments.Part] = [:]
        for (stage, run) in runRanges {
            guard let key = keys[stage] else { continue }
            parts[stage] = .init(key: key, run: run, artefacts: artefactRanges[stage] ?? [])
        }
        return (writer.out, LineageFragments(report: writer.out.withUnsafeBytes { XXH3Hasher.digest($0) }, parts: parts), encodedStages)
    }

    /// The digest of everything a stage's share of the report is made of (see `LineageFragments`).
    func fragmentKey(_ stage: Stage, record: Lockfile.StageRecord, entry: String, runID: String?, facts: [FileFacts?],
                     sourcesByPath: [String: SourceCheck]) -> Digest {
        let hasher = XXH3Hasher()
        func add(_ text: String) {
            var text = text
            text.withUTF8 { hasher.update(UnsafeRawBufferPointer($0)) }
            withUnsafeBytes(of: UInt8(0)) { hasher.update($0) }
        }
        func add(_ digest: Digest) {
            withUnsafeBytes(of: (digest.high, digest.low)) { hasher.update($0) }
        }
        add(LineageFragments.header)
        add(CRXVersion.string)
        add(stage.name)
        add(entry)
        add(runID ?? "-")
        add(stage.wdir)
        for (out, facts) in zip(record.outs, facts) {
            add(out.path)
            if let declared = stage.outs.first(where: { $0.path == out.path }) {
                add("\(declared.kind) \(declared.cache)")
            } else {
                add("-")
            }
            if let facts {
                add(facts.xxh128)
                add(facts.sha256)
            } else {
                add("-")
            }
        }
        for dep in record.deps {
            if let check = sourcesByPath[dep.path] {
                add("source \(check.source.name) \(check.source.checksum) \(check.status.rawValue)")
            } else if let producer = pipeline.producer(of: dep.path) {
                add("artefact \(producer.stage.name)")
            } else {
                add("file")
            }
        }
        return hasher.finalize()
    }
}
