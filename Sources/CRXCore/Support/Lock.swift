import Foundation

/// A mutex around a value: the one way crx shares mutable state between threads.
///
/// Every shared structure (the state cache's table, the lockfile being written, the scheduler's
/// bookkeeping) is a `Protected<T>`; `withLock` is the only access, so no lock can be forgotten.
public final class Protected<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()

    public init(_ value: Value) { self.value = value }

    @discardableResult
    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }

    public var snapshot: Value { withLock { $0 } }
}
