import Foundation

/// `transform` applied to every element of `items` on every core at once, the results in the order
/// of `items` — for work that only reads and shares nothing unguarded (the snapshots of a plan).
/// Concurrency: one `BackgroundValue` per extra core takes elements from a shared counter
/// (`Protected`), the calling thread too; fewer than `minimumPerThread` elements per thread are
/// not worth a thread, and run on the calling thread alone.
public func parallelMap<Element: Sendable, Output: Sendable>(_ items: [Element], minimumPerThread: Int = 16,
                                                              _ transform: @escaping @Sendable (Element) -> Output) -> [Output] {
    let threads = min(ProcessInfo.processInfo.activeProcessorCount, items.count / max(1, minimumPerThread))
    guard threads > 1 else { return items.map(transform) }
    let next = Protected(0)
    let work: @Sendable () -> [(Int, Output)] = {
        var done: [(Int, Output)] = []
        while true {
            let k = next.withLock { n in
                defer { n += 1 }
                return n
            }
            guard k < items.count else { return done }
            done.append((k, transform(items[k])))
        }
    }
    let helpers = (1..<threads).map { _ in BackgroundValue(work) }
    var results = [Output?](repeating: nil, count: items.count)
    for (k, r) in work() { results[k] = r }
    for helper in helpers {
        for (k, r) in helper.take() { results[k] = r }
    }
    return results.map { $0! }
}
