/// Errors crx reports to its user.
///
/// Every area of crx throws its own error enum; each conforms to `CRXError`, which says how the
/// error is rendered (one message, with its source location when it has one) and which exit code
/// it maps to. The `crx` executable renders errors once, at the edge, with a fixed `crx: error:`
/// prefix. Internal bugs are not `CRXError`s: they are preconditions.

/// A position in a file crx read (pipeline.yaml, params.yaml, pipeline.lock): 1-based line and column.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }

    /// Where the first byte that is not valid UTF-8 is (1-based line and column, columns counted in
    /// characters), or nil when all of `bytes` is valid UTF-8.
    public static func firstInvalidUTF8(in bytes: some Collection<UInt8>, file: String) -> SourceLocation? {
        let b = Array(bytes)
        var i = 0, line = 1, column = 1
        while i < b.count {
            let lead = b[i]
            let length: Int
            switch lead {
            case 0x00 ... 0x7F: length = 1
            case 0xC2 ... 0xDF: length = 2
            case 0xE0 ... 0xEF: length = 3
            case 0xF0 ... 0xF4: length = 4
            default: return SourceLocation(file: file, line: line, column: column)
            }
            guard i + length <= b.count else { return SourceLocation(file: file, line: line, column: column) }
            for k in 1 ..< length where b[i + k] & 0xC0 != 0x80 { return SourceLocation(file: file, line: line, column: column) }
            // Overlong forms, surrogates and code points above U+10FFFF.
            if length == 3 && ((lead == 0xE0 && b[i + 1] < 0xA0) || (lead == 0xED && b[i + 1] > 0x9F))
                || length == 4 && ((lead == 0xF0 && b[i + 1] < 0x90) || (lead == 0xF4 && b[i + 1] > 0x8F)) {
                return SourceLocation(file: file, line: line, column: column)
            }
            if lead == 0x0A { line += 1; column = 1 } else { column += 1 }
            i += length
        }
        return nil
    }
}

/// The exit codes crx uses. They are part of its interface (documented in the README).
public enum ExitStatus: Int32, Sendable {
    case success = 0
    /// A stage failed, an output was missing, an object was corrupt, something is stale with `--exit-code`.
    case failure = 1
    /// The pipeline definition or the command line is wrong.
    case usage = 2
    /// Interrupted by SIGINT (128 + 2) or SIGTERM (128 + 15).
    case interrupted = 130
    case terminated = 143
}

/// An error crx explains to its user.
public protocol CRXError: Error, CustomStringConvertible {
    /// Where the problem is, when it is in a file.
    var location: SourceLocation? { get }
    /// What went wrong and what to do about it (without the location prefix).
    var message: String { get }
    var exitCode: ExitStatus { get }
}

extension CRXError {
    public var location: SourceLocation? { nil }
    public var description: String {
        if let location { return "\(location): \(message)" }
        return message
    }
}

/// A wrong pipeline definition or command line: exit 2.
public struct DefinitionError: CRXError, Equatable {
    public var location: SourceLocation?
    public var message: String
    public var exitCode: ExitStatus { .usage }

    public init(_ message: String, at location: SourceLocation? = nil) {
        self.message = message
        self.location = location
    }
}

/// A failing file-system or system call, with the path it concerned: exit 1.
public struct IOError: CRXError, Equatable {
    public var path: String
    public var operation: String
    public var errno: Int32
    public var exitCode: ExitStatus { .failure }

    public init(_ operation: String, path: String, errno: Int32) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    public var message: String {
        let reason = String(cString: strerror(errno))
        var text = "cannot \(operation) '\(path)': \(reason)"
        if errno == ENOSPC || errno == EDQUOT { text += " (free some disk space and run again; nothing half-written was kept)" }
        if errno == EFBIG { text += " (the file-size limit was reached; nothing half-written was kept)" }
        return text
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
