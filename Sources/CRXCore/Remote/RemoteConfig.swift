import Foundation

/// The remotes of a project: `.crx/config` (committed, shared by the team) and
/// `.crx/config.local` (git-ignored, this machine's overrides), in git-config syntax:
/// ```
/// [core]
///     remote = storage                 # the default remote
/// [remote "storage"]
///     url = s3://bucket/prefix         # or http(s)://host/prefix, or a directory path
///     endpoint_url = http://127.0.0.1:9000   # S3-compatible servers
///     region = eu-west-1
///     profile = ci                     # ~/.aws/credentials profile
///     jobs = 16                        # parallel transfers
///     timeout = 60                     # seconds per request
/// ```
/// The local file's keys override the committed file's, key by key. Credentials are refused: they
/// come from the environment or the usual credential files.
public struct RemoteConfig: Sendable, Equatable {
    public var defaultRemote: String?
    /// remote name → key → value
    public var remotes: [String: [String: String]] = [:]
    /// Entries of other concerns sharing the file (`[core] executor`, `[slurm]`), kept when it is rewritten.
    public var otherEntries: [ConfigFile.Entry] = []

    public static let allowedKeys = ["url", "endpoint_url", "region", "profile", "jobs", "timeout"]
    static let secretWords = ["password", "secret", "token", "access_key", "credential", "key_id"]

    public init(defaultRemote: String? = nil, remotes: [String: [String: String]] = [:]) {
        self.defaultRemote = defaultRemote
        self.remotes = remotes
    }

    public static func committedPath(_ workspace: Workspace) -> String { workspace.crxDirectory + "/config" }
    public static func localPath(_ workspace: Workspace) -> String { workspace.crxDirectory + "/config.local" }

    public static func parse(_ text: String, file: String) throws -> RemoteConfig {
        var config = RemoteConfig()
        let parsed = try ConfigFile.parse(text, file: file)
        for s in parsed.sections {
            switch s.section {
            case "core", "slurm": continue // [slurm]: ExecutorConfig
            case "remote" where s.name.map({ !$0.isEmpty }) ?? false:
                config.remotes[s.name!] = config.remotes[s.name!] ?? [:]
            default:
                let inner = s.name.map { "\(s.section) \"\($0)\"" } ?? s.section
                throw RemoteConfigError("\(file):\(s.line): unknown section [\(inner)]; expected [core], [remote \"NAME\"] or [slurm]")
            }
        }
        for e in parsed.entries {
            if e.section == "remote", let name = e.name {
                config.remotes[name, default: [:]][e.key] = e.value
            } else if e.section == "core" && e.key == "remote" {
                config.defaultRemote = e.value
            } else {
                config.otherEntries.append(e)
            }
        }
        return config
    }

    public func render() -> String {
        var out = "# crx remotes (see docs/remote-cache.md). Credentials never go here: they come from the environment.\n"
        let otherCore = otherEntries.filter { $0.section == "core" }
        if defaultRemote != nil || !otherCore.isEmpty { out += "[core]\n" }
        if let defaultRemote { out += "\tremote = \(defaultRemote)\n" }
        for e in otherCore { out += "\t\(e.key) = \(e.value)\n" }
        for name in remotes.keys.sorted() {
            out += "[remote \"\(name)\"]\n"
            for key in remotes[name]!.keys.sorted() { out += "\t\(key) = \(remotes[name]![key]!)\n" }
        }
        var section: String?
        for e in otherEntries where e.section != "core" {
            if e.section != section { out += "[\(e.section)]\n"; section = e.section }
            out += "\t\(e.key) = \(e.value)\n"
        }
        return out
    }

    public static func load(_ path: String) throws -> RemoteConfig {
        guard let data = FileManager.default.contents(atPath: path) else { return RemoteConfig() }
        return try parse(String(decoding: data, as: UTF8.self), file: path)
    }

    public func save(to path: String) throws {
        try LocalFileSystem().writeAtomically(Array(render().utf8), to: path)
    }

    /// The committed file overlaid with the local one.
    public static func merged(_ workspace: Workspace) throws -> RemoteConfig {
        var config = try load(committedPath(workspace))
        let local = try load(localPath(workspace))
        if let d = local.defaultRemote { config.defaultRemote = d }
        for (name, keys) in local.remotes { config.remotes[name, default: [:]].merge(keys) { _, new in new } }
        return config
    }

    public static func validate(name: String) throws {
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "_-.".contains($0) }) else {
            throw RemoteConfigError("remote name '\(name)' may only contain letters, digits, _ - .")
        }
    }

    public static func validate(key: String, value: String) throws {
        let lower = key.lowercased()
        if secretWords.contains(where: { lower.contains($0) }) {
            throw RemoteConfigError("'\(key)' looks like a credential; crx never stores credentials in its config. "
                + "Use the environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, CRX_REMOTE_<NAME>_USER/PASSWORD/TOKEN) or ~/.aws/credentials")
        }
        guard allowedKeys.contains(key) else {
            throw RemoteConfigError("unknown remote key '\(key)'; allowed: \(allowedKeys.joined(separator: ", "))")
        }
        if key == "url", let u = URL(string: value), u.password != nil {
            throw RemoteConfigError("the url contains a password; crx never stores credentials in its config. Set CRX_REMOTE_<NAME>_USER and CRX_REMOTE_<NAME>_PASSWORD instead")
        }
        if ["jobs", "timeout"].contains(key), Int(value).map({ $0 <= 0 }) ?? true {
            throw RemoteConfigError("'\(key)' must be a positive integer, not '\(value)'")
        }
    }

    /// The remote to use: `name`, else the default, else the only one.
    public func choose(_ name: String?) throws -> (name: String, settings: [String: String]) {
        if let name {
            guard let s = remotes[name] else {
                throw RemoteConfigError("no remote named '\(name)'" + (remotes.isEmpty ? "; add one: crx remote add NAME URL --default"
                    : "; known: \(remotes.keys.sorted().joined(separator: ", "))"))
            }
            return (name, s)
        }
        if let d = defaultRemote, let s = remotes[d] { return (d, s) }
        if remotes.count == 1, let only = remotes.first { return (only.key, only.value) }
        if remotes.isEmpty { throw RemoteConfigError("no remote configured; add one: crx remote add NAME URL --default") }
        throw RemoteConfigError("several remotes and no default; pass -r NAME or set one: crx remote add NAME URL --default")
    }

    /// Opens the chosen remote.
    public func open(_ name: String?, workspace: Workspace, environment: [String: String] = ProcessInfo.processInfo.environment,
                     jobs: Int? = nil) throws -> any RemoteStore {
        let (name, settings) = try choose(name)
        guard let url = settings["url"], !url.isEmpty else {
            throw RemoteConfigError("remote '\(name)' has no url; set one: crx remote modify \(name) url URL")
        }
        let parallel = jobs ?? settings["jobs"].flatMap(Int.init) ?? 16
        let timeout = settings["timeout"].flatMap(Double.init) ?? 60
        if url.hasPrefix("s3://") {
            let rest = url.dropFirst(5)
            let bucket = String(rest.prefix { $0 != "/" })
            guard !bucket.isEmpty else { throw RemoteConfigError("remote '\(name)': '\(url)' has no bucket (s3://BUCKET/PREFIX)") }
            let prefix = String(rest.dropFirst(bucket.count))
            let region = settings["region"] ?? environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] ?? "us-east-1"
            let credentials = try AWSCredentials.resolve(profile: settings["profile"], environment: environment)
            return try S3Remote(name: name, bucket: bucket, prefix: prefix, endpointURL: settings["endpoint_url"],
                                region: region, credentials: credentials, jobs: parallel, timeout: max(timeout, 120))
        }
        if url.hasPrefix("http://") || url.hasPrefix("https://") {
            guard let u = URL(string: url), u.host != nil else { throw RemoteConfigError("remote '\(name)': '\(url)' is not a valid URL") }
            return HTTPRemote(name: name, url: u, environment: environment, jobs: parallel, timeout: timeout)
        }
        var path = url.hasPrefix("file://") ? String(url.dropFirst(7)) : url
        if path.contains("://") { throw RemoteConfigError("remote '\(name)': unsupported URL kind '\(url)'; use s3://, http(s):// or a directory path") }
        if !path.hasPrefix("/") { path = ProjectPath.join(workspace.root, path) }
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        return DirectoryRemote(path: path)
    }
}
