import Foundation

/// A value computed on a thread of its own from the moment it is made, and waited for where it is
/// first needed — for reading two independent files at once (the state cache while the pipeline
/// loads). Concurrency: `compute` runs once, on its thread; `take` blocks until it has finished
/// and hands the value over (this object keeps no reference, so the taker's copy is unique): it is
/// called once, from any thread.
public final class BackgroundValue<Value: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    /// Guarded by `condition`.
    private var result: Value?

    public init(_ compute: @escaping @Sendable () -> Value) {
        let thread = Thread { [self] in
            let computed = compute()
            condition.lock()
            result = computed
            condition.broadcast()
            condition.unlock()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// The value, waited for; unlike `take`, it stays for later calls (each gets a copy: for small
    /// values that may be asked for more than once).
    public var value: Value {
        condition.lock()
        defer { condition.unlock() }
        while result == nil { condition.wait() }
        return result!
    }

    public func take() -> Value {
        condition.lock()
        defer { condition.unlock() }
        while result == nil { condition.wait() }
        defer { result = nil }
        return result!
    }
}
