import Foundation

/// The transfer engine: moves a list of objects to or from a remote on `jobs` threads, retrying
/// transient failures with exponential backoff, reporting progress, and summing up what moved.
///
/// A failure that survives its retries is recorded with its key; a transient one (the server went
/// away) stops the transfer — nothing starts after it, running items finish — so a dead server
/// costs seconds, not one timeout per object. What completed stays complete: every item is atomic.
public enum Transfer {
    public struct Item: Sendable {
        public var key: String
        /// The local object file (upload source, or download destination's final path).
        public var path: String
        public var digest: Digest?
        public var bytes: Int64
        public init(key: String, path: String, digest: Digest?, bytes: Int64) {
            self.key = key
            self.path = path
            self.digest = digest
            self.bytes = bytes
        }
    }

    public struct Progress: Sendable {
        public var done: Int
        public var total: Int
        public var bytes: Int64
    }

    public struct Summary: Sendable {
        public var objects = 0
        public var bytes: Int64 = 0
        public var seconds: Double = 0
        public var failures: [(key: String, error: RemoteError)] = []
        public var stopped = false
    }

    /// Runs `body` on every item. `body` returns the bytes it moved.
    public static func run(_ items: [Item], jobs: Int, progress: (@Sendable (Progress) -> Void)? = nil,
                           body: @escaping @Sendable (Item) throws -> Int64) -> Summary {
        let started = Date()
        let state = Protected((summary: Summary(), done: 0))
        let stop = Protected(false)
        try? ParallelWork.run(count: items.count, jobs: jobs, shouldStop: { stop.snapshot }) { i in
            let item = items[i]
            do {
                let moved = try Retry.run { try body(item) }
                let p = state.withLock { s -> Progress in
                    s.summary.objects += 1
                    s.summary.bytes += moved
                    s.done += 1
                    return Progress(done: s.done, total: items.count, bytes: s.summary.bytes)
                }
                progress?(p)
            } catch let error as RemoteError {
                state.withLock { $0.summary.failures.append((item.key, error)); $0.done += 1 }
                if error.isTransient || { if case .unauthorized = error { return true } else { return false } }() {
                    stop.withLock { $0 = true }
                }
            } catch {
                state.withLock { $0.summary.failures.append((item.key, .failed(remote: "", detail: "\(error)"))); $0.done += 1 }
                stop.withLock { $0 = true }
            }
        }
        var summary = state.snapshot.summary
        summary.stopped = stop.snapshot
        summary.seconds = Date().timeIntervalSince(started)
        return summary
    }
}

/// Retries a remote call on transient failures: 4 attempts, backoff 0.25 s, 0.5 s, 1 s (± jitter).
public enum Retry {
    public static func run<T>(attempts: Int = 4, _ body: () throws -> T) throws -> T {
        var delay = 0.25
        var attempt = 1
        while true {
            do {
                return try body()
            } catch let error as RemoteError where error.isTransient && attempt < attempts {
                Thread.sleep(forTimeInterval: delay * Double.random(in: 0.8 ... 1.2))
                delay *= 2
                attempt += 1
            }
        }
    }
}

/// Runs `body(0..<count)` on up to `jobs` threads. The first error stops new work and is rethrown.
public enum ParallelWork {
    public static func run(count: Int, jobs: Int, shouldStop: @escaping @Sendable () -> Bool = { false },
                           _ body: @escaping @Sendable (Int) throws -> Void) throws {
        guard count > 0 else { return }
        let next = Protected(0)
        let firstError = Protected<Error?>(nil)
        let group = DispatchGroup()
        for _ in 0 ..< max(1, min(jobs, count)) {
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                while true {
                    if firstError.snapshot != nil || shouldStop() { return }
                    let i = next.withLock { n -> Int in n += 1; return n - 1 }
                    if i >= count { return }
                    do { try body(i) } catch {
                        firstError.withLock { if $0 == nil { $0 = error } }
                        return
                    }
                }
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        group.wait()
        if let error = firstError.snapshot { throw error }
    }
}
