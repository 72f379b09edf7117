import Foundation

/// The git-config syntax of `.crx/config` and `.crx/config.local`, read into its entries:
/// ```
/// [core]
///     remote = storage
/// [remote "storage"]
///     url = s3://bucket/prefix
/// [slurm]
///     partition = batch
/// ```
/// Sections mean nothing here: `RemoteConfig` and `ExecutorConfig` each take theirs.
public struct ConfigFile: Sendable {
    public struct Entry: Sendable, Equatable {
        /// "core", "remote", "slurm", …
        public var section: String
        /// The quoted name of `[remote "NAME"]`.
        public var name: String?
        public var key: String
        public var value: String
        public var line: Int
    }

    public var entries: [Entry] = []
    /// Every section header seen (with its line), including empty ones.
    public var sections: [(section: String, name: String?, line: Int)] = []

    public static func parse(_ text: String, file: String) throws -> ConfigFile {
        var config = ConfigFile()
        var section: (String, String?) = ("core", nil)
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                let inner = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                if let quote = inner.firstIndex(of: "\"") {
                    let head = inner[..<quote].trimmingCharacters(in: .whitespaces)
                    let name = inner[inner.index(after: quote)...].split(separator: "\"").first.map(String.init) ?? ""
                    section = (head, name)
                } else {
                    section = (inner, nil)
                }
                config.sections.append((section.0, section.1, n + 1))
                continue
            }
            guard let eq = line.firstIndex(of: "=") else {
                throw RemoteConfigError("\(file):\(n + 1): expected 'key = value'")
            }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            config.entries.append(Entry(section: section.0, name: section.1, key: key, value: value, line: n + 1))
        }
        return config
    }

    /// The text of the committed file overlaid by the local one (local entries come last and win).
    public static func load(_ paths: [String]) throws -> ConfigFile {
        var merged = ConfigFile()
        for path in paths {
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            let c = try parse(String(decoding: data, as: UTF8.self), file: path)
            merged.entries += c.entries
            merged.sections += c.sections
        }
        return merged
    }
}
