#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The project lock (`.crx/lock`): one writer at a time per project.
///
/// An exclusive `flock` held for the life of a writing command (`repro`, `checkout`, `gc`). The
/// kernel drops it when the holder exits, however it exits, so a lock left by a killed process is
/// taken over at once. The file records the holder's pid and command for the waiting message.
/// Read-only commands (`status`, `dag`, `repro --dry-run`) never take it.
public final class ProjectLock: @unchecked Sendable {
    private let fd: Int32

    private init(fd: Int32) { self.fd = fd }
    deinit { close(fd) }

    public struct Timeout: CRXError {
        public var holder: String
        public var seconds: Double
        public var exitCode: ExitStatus { .failure }
        public var message: String {
            "another crx process (\(holder)) still holds the project lock after \(String(format: "%g", seconds))s; try again later or raise --lock-timeout"
        }
    }

    /// Takes the lock, waiting (and telling `onWait` once, with the holder) when another process has it.
    /// `timeout` nil waits forever.
    public static func acquire(directory: String, timeout: Double?, onWait: (String) -> Void) throws -> ProjectLock {
        try LocalFileSystem().createDirectory(directory)
        let path = directory + "/lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw IOError("open the project lock", path: path, errno: errno) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let holder = Self.holder(path)
            onWait(holder)
            let deadline = timeout.map { Date().addingTimeInterval($0) }
            while flock(fd, LOCK_EX | LOCK_NB) != 0 {
                if let deadline, Date() >= deadline {
                    close(fd)
                    throw Timeout(holder: holder, seconds: timeout ?? 0)
                }
                usleep(50_000)
            }
        }
        // Written before truncating, so a waiter never reads an empty file (only the old holder or the new).
        let note = "pid \(getpid()): \(CommandLine.arguments.joined(separator: " "))\n"
        _ = note.withCString { pwrite(fd, $0, strlen($0), 0) }
        ftruncate(fd, off_t(note.utf8.count))
        return ProjectLock(fd: fd)
    }

    /// Who holds the lock, from its first line. A holder that has just taken the lock writes that line
    /// a moment later: an empty file is read again briefly before saying "unknown".
    static func holder(_ path: String) -> String {
        for attempt in 0 ..< 10 {
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            let line = text.split(separator: "\n").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            if !line.isEmpty { return line }
            if attempt < 9 { usleep(20_000) }
        }
        return "unknown"
    }
}
