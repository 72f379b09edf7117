import Foundation
import Yams

/// A pinned raw input: a file the pipeline starts from, with the checksum its provider published.
///
/// Declared in the `sources:` section of pipeline.yaml; stages use it as an ordinary dep (by path).
/// Before any stage that depends on it runs, crx verifies the checksum (`SourceVerifier`).
public struct Source: Sendable, Hashable {
    public var name: String
    /// Root-relative path.
    public var path: String
    public var checksum: Checksum
    public var origin: String?
    public var freshness: FreshnessSLA?
    public var location: SourceLocation
    /// Where the checksum's value sits in the pipeline file (for `crx sources pin`).
    public var checksumLocation: SourceLocation
}

/// `sha256:<hex>`, `md5:<hex>` or `xxh128:<hex>`.
public struct Checksum: Sendable, Hashable, CustomStringConvertible {
    public enum Algorithm: String, Sendable, CaseIterable { case sha256, md5, xxh128 }
    public var algorithm: Algorithm
    public var hex: String

    public init(algorithm: Algorithm, hex: String) {
        self.algorithm = algorithm
        self.hex = hex.lowercased()
    }

    public init?(_ text: String) {
        let parts = text.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, let a = Algorithm(rawValue: parts[0].lowercased()) else { return nil }
        let hex = parts[1].lowercased()
        let length = a == .sha256 ? 64 : 32
        guard hex.count == length, hex.allSatisfy(\.isHexDigit) else { return nil }
        self.init(algorithm: a, hex: String(hex))
    }

    public var description: String { "\(algorithm.rawValue):\(hex)" }
}

/// A freshness SLA: how old a source's content may get before it warns, and before it errors.
public struct FreshnessSLA: Sendable, Hashable {
    public var warnAfter: Duration?
    public var errorAfter: Duration?

    /// A duration written `30m`, `24h`, `7d`, `2w` (or a bare number of hours).
    public struct Duration: Sendable, Hashable, CustomStringConvertible {
        public enum Period: String, Sendable { case minute, hour, day, week }
        public var count: Int
        public var period: Period

        public init(count: Int, period: Period) {
            self.count = count
            self.period = period
        }

        public init?(_ text: String) {
            let t = text.trimmingCharacters(in: .whitespaces).lowercased()
            guard let unit = t.last else { return nil }
            if let hours = Int(t) { self.init(count: hours, period: .hour); return }
            guard let n = Int(t.dropLast()), n >= 0 else { return nil }
            switch unit {
            case "m": self.init(count: n, period: .minute)
            case "h": self.init(count: n, period: .hour)
            case "d": self.init(count: n, period: .day)
            case "w": self.init(count: n, period: .week)
            default: return nil
            }
        }

        public var seconds: Double {
            let unit: Double = switch period {
            case .minute: 60
            case .hour: 3600
            case .day: 86400
            case .week: 604_800
            }
            return Double(count) * unit
        }

        public var description: String { "\(count)\(period.rawValue.prefix(1))" }
    }

    public init(warnAfter: Duration?, errorAfter: Duration?) {
        self.warnAfter = warnAfter
        self.errorAfter = errorAfter
    }
}

/// Parses the `sources:` section:
/// ```yaml
/// sources:
///   defaults: {freshness: {warn_after: 24h, error_after: 7d}}   # optional: SLA for every source
///   applications:
///     path: data/raw/germancredit.csv
///     checksum: sha256:2c0bae00…
///     origin: "UCI Statlog German Credit"
///     freshness: {warn_after: 24h, error_after: 7d}
/// ```
struct SourceParser {
    static let keys: Set<String> = ["path", "checksum", "origin", "freshness", "desc"]
    let file: String
    let baseDirectory: String
    let root: String

    func parse(_ node: Node) throws -> [Source] {
        if node.tagName == .null { return [] }
        guard case let .mapping(map) = node else {
            throw DefinitionError("'sources' must be a mapping of source names to {path, checksum, …}", at: node.location(in: file))
        }
        var defaultSLA: FreshnessSLA?
        if let defaults = map["defaults"] {
            guard case let .mapping(d) = defaults else {
                throw DefinitionError("'sources.defaults' must be a mapping", at: defaults.location(in: file))
            }
            for (k, _) in d where k.string != "freshness" {
                throw DefinitionError("unknown key '\(k.string ?? "?")' in sources.defaults (allowed: freshness)", at: k.location(in: file))
            }
            if let f = d["freshness"] { defaultSLA = try sla(f) }
        }
        var sources: [Source] = []
        var paths: [String: String] = [:]
        for (k, v) in map {
            guard let name = k.string, name != "defaults" else { continue }
            guard case let .mapping(fields) = v else {
                throw DefinitionError("source '\(name)' must be a mapping with 'path' and 'checksum'", at: v.location(in: file))
            }
            for (fk, _) in fields {
                let key = fk.string ?? ""
                if !Self.keys.contains(key) {
                    throw DefinitionError("source '\(name)': unknown key '\(key)'; allowed: \(Self.keys.sorted().joined(separator: ", "))",
                                          at: fk.location(in: file))
                }
            }
            guard let pathNode = fields["path"], let pathText = pathNode.string, !pathText.isEmpty else {
                throw DefinitionError("source '\(name)' has no 'path'", at: k.location(in: file))
            }
            guard let path = ProjectPath.resolve(pathText, relativeTo: baseDirectory, root: root), !path.isEmpty else {
                throw DefinitionError("source '\(name)': path '\(pathText)' is outside the project", at: pathNode.location(in: file))
            }
            if let other = paths[path] {
                throw DefinitionError("sources '\(other)' and '\(name)' have the same path '\(path)'", at: pathNode.location(in: file))
            }
            paths[path] = name
            guard let checksumNode = fields["checksum"], let text = checksumNode.string else {
                throw DefinitionError("source '\(name)' has no 'checksum' (e.g. sha256:<64 hex digits>; `crx sources pin \(name)` writes it)",
                                      at: k.location(in: file))
            }
            guard let checksum = Checksum(text) else {
                throw DefinitionError("source '\(name)': checksum '\(text)' is not sha256:<64 hex>, md5:<32 hex> or xxh128:<32 hex>",
                                      at: checksumNode.location(in: file))
            }
            var sla = defaultSLA
            if let f = fields["freshness"] { sla = try self.sla(f) }
            sources.append(Source(name: name, path: path, checksum: checksum, origin: fields["origin"]?.string, freshness: sla,
                                  location: k.location(in: file), checksumLocation: checksumNode.location(in: file)))
        }
        return sources
    }

    private func sla(_ node: Node) throws -> FreshnessSLA {
        guard case let .mapping(m) = node else {
            throw DefinitionError("'freshness' must be a mapping {warn_after: 24h, error_after: 7d}", at: node.location(in: file))
        }
        var result = FreshnessSLA(warnAfter: nil, errorAfter: nil)
        for (k, v) in m {
            guard let key = k.string, key == "warn_after" || key == "error_after" else {
                throw DefinitionError("unknown freshness key '\(k.string ?? "?")' (allowed: warn_after, error_after)", at: k.location(in: file))
            }
            guard let text = v.string, let d = FreshnessSLA.Duration(text) else {
                throw DefinitionError("'\(key)' must be a duration like 30m, 24h, 7d or 2w", at: v.location(in: file))
            }
            if key == "warn_after" { result.warnAfter = d } else { result.errorAfter = d }
        }
        return result
    }
}
