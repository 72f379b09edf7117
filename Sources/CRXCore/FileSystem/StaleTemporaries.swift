#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Temp files that killed crx processes left beside the files they were replacing.
///
/// Every atomic write goes through `<target>.crx-tmp-<pid>-<random>` (a restored directory through
/// `<target>.crx-tmp-<pid>`) and a rename; a crx killed in between leaves the temp file behind. A
/// writer holding the project lock removes those whose writer no longer exists: beside the lock,
/// the outputs, the reports, and in `.crx/` (state, run records, run-cache).
public enum StaleTemporaries {
    static let marker = ".crx-tmp-"

    /// True when no process `pid` exists (a live pid, even of another user, is kept).
    static func isDead(_ pid: pid_t) -> Bool {
        pid > 0 && kill(pid, 0) != 0 && errno == ESRCH
    }

    /// The writer's pid encoded in a temp name, if `name` is one.
    static func writer(of name: String) -> pid_t? {
        guard let range = name.range(of: marker, options: .backwards) else { return nil }
        let rest = name[range.upperBound...]
        return pid_t(rest.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
    }

    /// Removes, in each directory (not below), the temp files and staging directories of dead writers.
    /// Returns the root-relative paths removed. Best effort: a failure to remove is ignored.
    @discardableResult
    public static func sweep(_ directories: [String]) -> [String] {
        let fs = LocalFileSystem()
        var removed: [String] = []
        for directory in Set(directories) {
            guard let names = fs.entryNames(in: directory, keep: { name, _ in strstr(name, marker) != nil }) else { continue }
            for name in names {
                guard let pid = writer(of: name), isDead(pid) else { continue }
                let path = directory + "/" + name
                if (try? fs.remove(path)) != nil { removed.append(path) }
            }
        }
        return removed
    }
}

extension Workspace {
    /// Removes what killed crx processes left half-written in this project (call with the project lock
    /// held): temp files beside the lock, the pipeline's outputs and the reports, and in `.crx/`.
    @discardableResult
    public func removeStaleTemporaries(pipeline: Pipeline?) -> [String] {
        var directories = [ProjectPath.parent(lockPath), root + "/reports", crxDirectory, crxDirectory + "/state",
                           crxDirectory + "/runs",
                           crxDirectory + "/runs/fingerprints", logsDirectory]  // fingerprints/: older crx
        let runcache = crxDirectory + "/runcache"
        directories.append(runcache)
        let subdirectories = LocalFileSystem().entryNames(in: runcache) { _, type in type == UInt8(DT_DIR) || type == UInt8(DT_UNKNOWN) }
        for sub in subdirectories ?? [] { directories.append(runcache + "/" + sub) }
        for stage in pipeline?.stages ?? [] {
            for out in stage.outs { directories.append(ProjectPath.join(root, ProjectPath.parent(out.path))) }
        }
        objectStore().removeStaleTemporaries()
        return StaleTemporaries.sweep(directories)
    }
}
