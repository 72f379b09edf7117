#if canImport(Glibc)
import Glibc
#endif
import Foundation
import CRXCore

/// The one place crx writes to the terminal.
enum Printer {
    private static let lock = NSLock()

    static func out(_ text: String, terminator: String = "\n") { write(text + terminator, to: 1) }
    static func err(_ text: String) { write(text + "\n", to: 2) }
    static func error(_ text: String) { err("crx: error: " + text) }

    static func write(_ text: String, to fd: Int32) {
        lock.lock()
        defer { lock.unlock() }
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBytes { writeAll(fd, UnsafeRawBufferPointer($0)) }
    }

    static func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < buffer.count {
            let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if n < 0 { if errno == EINTR { continue } else { return } }
            offset += n
        }
    }

    static func json(_ value: Any) {
        if let dict = value as? [String: Any], dict.isEmpty { return out("{}") }
        let data = (try? JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        out(String(decoding: data, as: UTF8.self))
    }

    static func reasonObject(_ r: StaleReason) -> [String: Any] {
        var d: [String: Any] = [:]
        for (k, v) in r.fields {
            if ["added", "removed"].contains(k) { d[k] = v.isEmpty ? [] : v.split(separator: "\n").map(String.init) } else { d[k] = v }
        }
        return d
    }
}

/// Stage output to the terminal: as is when one stage runs at a time, each line prefixed with
/// `[stage]` when several may run at once.
final class TerminalSink: OutputSink, @unchecked Sendable {
    let prefixed: Bool
    let quiet: Bool
    private var partial: [String: [UInt8]] = [:]
    private let lock = NSLock()

    init(prefixed: Bool, quiet: Bool = false) {
        self.prefixed = prefixed
        self.quiet = quiet
    }

    func write(stage: String, _ bytes: UnsafeRawBufferPointer, toStderr: Bool) {
        if quiet { return }
        let fd: Int32 = toStderr ? 2 : 1
        guard prefixed else {
            lock.lock()
            Printer.writeAll(fd, bytes)
            lock.unlock()
            return
        }
        lock.lock()
        defer { lock.unlock() }
        let key = stage + (toStderr ? "\u{1}e" : "\u{1}o")
        var buffer = partial[key] ?? []
        for byte in bytes {
            buffer.append(byte)
            if byte == UInt8(ascii: "\n") {
                let line = Array("[\(stage)] ".utf8) + buffer
                line.withUnsafeBytes { Printer.writeAll(fd, $0) }
                buffer.removeAll(keepingCapacity: true)
            }
        }
        partial[key] = buffer
    }

    func flush() {
        lock.lock()
        defer { lock.unlock() }
        for (key, buffer) in partial where !buffer.isEmpty {
            let stage = String(key.dropLast(2))
            let line = Array("[\(stage)] ".utf8) + buffer + [10]
            line.withUnsafeBytes { Printer.writeAll(key.hasSuffix("e") ? 2 : 1, $0) }
        }
        partial = [:]
    }
}
