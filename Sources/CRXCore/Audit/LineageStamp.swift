import Foundation

/// What the last `reports/lineage.json` was built from, so a repro that changed nothing does not
/// rebuild it: at 1,000 stages building and encoding the lineage cost more than the whole no-op
/// check of the pipeline (and ran `git status`).
///
/// The inputs are the lock file, the pipeline file and the run index (`.crx/runs/index.json`, by
/// content), the crx version and each source's verification (name, status, XXH3); the report
/// itself by identity (device, inode, size, mtime), so a deleted or edited lineage.json is rebuilt.
/// When a repro ran, restored or failed nothing and the stamp matches, the report on disk is the
/// one this repro would write (apart from `generated_at`, and `git`, which describes the commit of
/// the last build that changed something).
///
/// On disk, `.crx/state/lineage.v1` (atomically replaced; anything unreadable means "rebuild"):
/// ```
/// crx-lineage-stamp 1
/// <xxh128 hex of the inputs>
/// <device>:<inode>:<size>:<mtime ns> of reports/lineage.json
/// ```
public struct LineageStamp: Sendable {
    public static let header = "crx-lineage-stamp 1"
    public let file: String
    let inputs: Digest
    let reportPath: String

    /// The stamp of the lineage `workspace`'s current lock, pipeline file, run index and `checks` make.
    public init(workspace: Workspace, pipeline: Pipeline, checks: [SourceCheck], reportPath: String) {
        file = workspace.crxDirectory + "/state/lineage.v1"
        self.reportPath = reportPath
        let fs = LocalFileSystem()
        let hasher = XXH3Hasher()
        func add(_ text: String) {
            hasher.update(Array(text.utf8))
            hasher.update([0])
        }
        func addFile(_ path: String) {
            let bytes = (try? fs.readFile(path)) ?? []
            add("\(bytes.count)")
            bytes.withUnsafeBytes { hasher.update($0) }
        }
        add(CRXVersion.string)
        addFile(workspace.lockPath)
        addFile(ProjectPath.join(workspace.root, pipeline.file))
        addFile(workspace.crxDirectory + "/runs/index.json")
        for c in checks {
            add(c.source.name)
            add(c.status.rawValue)
            add(c.facts?.xxh128.hex ?? "-")
        }
        inputs = hasher.finalize()
    }

    var reportIdentity: String? {
        LocalFileSystem().stat(reportPath).map { "\($0.device):\($0.inode):\($0.size):\($0.mtimeNs)" }
    }

    /// True when the report on disk was written from these same inputs.
    public func matchesStored() -> Bool {
        guard let identity = reportIdentity, let data = FileManager.default.contents(atPath: file) else { return false }
        return String(decoding: data, as: UTF8.self) == "\(Self.header)\n\(inputs.hex)\n\(identity)\n"
    }

    /// Records that the report on disk was just written from these inputs (best effort).
    public func store() {
        guard let identity = reportIdentity else { return }
        try? LocalFileSystem().writeAtomically(Array("\(Self.header)\n\(inputs.hex)\n\(identity)\n".utf8), to: file)
    }
}
