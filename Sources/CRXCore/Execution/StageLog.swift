#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A stage's log, `.crx/logs/<stage>.log`: each command of its latest run (`$ cmd`) and everything
/// the commands printed, as the local executor ran them.
///
/// The file is created only when there is something to keep — output, or a failure (`keep()`) —
/// and a log already there is truncated and rewritten (its inode reused). A stage that succeeds
/// silently on its first run therefore gets no log: most stages of a large pipeline print nothing,
/// and one more file per stage was one more inode to allocate per run (on ext4 the slowest part of
/// creating a file, after many deletions).
struct StageLog {
    let path: String
    /// The open log, or -1: not created (yet), or it could not be opened.
    private var fd: Int32
    /// Headers written before the file exists.
    private var pending: [UInt8] = []
    private var failedToOpen = false

    init(path: String) {
        self.path = path
        fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
    }

    /// Notes the command about to run.
    mutating func header(_ command: String) {
        let bytes = Array("$ \(command)\n".utf8)
        if fd >= 0 {
            bytes.withUnsafeBytes { _ = write(fd, $0.baseAddress, $0.count) }
        } else {
            pending += bytes
        }
    }

    /// Output of a command (created now, if it was not there).
    mutating func output(_ chunk: UnsafeRawBufferPointer) {
        openIfNeeded()
        if fd >= 0 { _ = write(fd, chunk.baseAddress, chunk.count) }
    }

    /// The run failed: the log exists, with the commands run so far, for the user to read.
    mutating func keep() { openIfNeeded() }

    mutating func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    private mutating func openIfNeeded() {
        guard fd < 0, !failedToOpen else { return }
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            failedToOpen = true
            return
        }
        if !pending.isEmpty { pending.withUnsafeBytes { _ = write(fd, $0.baseAddress, $0.count) } }
        pending = []
    }
}
