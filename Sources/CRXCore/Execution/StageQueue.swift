/// The scheduler's queue of the stages a repro selected: which are ready to start (every selected
/// upstream stage has finished), which still wait, and which an upstream failure blocks.
///
/// Each queued stage keeps a count of its unfinished upstream stages, decremented when one finishes,
/// so a whole build costs O(stages + edges) — scanning every pending stage at each wake-up cost
/// O(stages²). Ready stages start in selection (dependency) order, as that scan started them.
/// ```
///   a ──▶ c ──▶ d       start: a, b ready; c waits on 2 (a, b); d waits on 1 (c)
///   b ──▶ c             finish(a): c waits on 1     finish(b): c ready
///                       finish(c, blocking): d blocked by c (removed, reported)
/// ```
/// Not thread-safe: the scheduler owns it (under its condition).
struct StageQueue {
    private enum State { case unselected, waiting, ready, started, finished(blocks: Bool) }

    private let upstream: [[Int]]
    private let downstream: [[Int]]
    /// Selection order; `position[i]` is stage i's index in it (-1: not selected).
    private let selected: [Int]
    private var position: [Int]
    private var state: [State]
    private var unfinishedUpstream: [Int]
    /// Positions of ready stages, largest first (so the earliest is `popLast`).
    private var ready: [Int] = []
    private var queued: Int

    /// `upstream`/`downstream`: the pipeline's edges (every stage); only selected stages count.
    init(selected: [Int], upstream: [[Int]], downstream: [[Int]]) {
        self.selected = selected
        let count = upstream.count
        position = Array(repeating: -1, count: count)
        for (p, i) in selected.enumerated() { position[i] = p }
        let pos = position
        self.upstream = upstream.map { $0.filter { pos[$0] >= 0 } }
        self.downstream = downstream.map { $0.filter { pos[$0] >= 0 } }
        state = Array(repeating: .unselected, count: count)
        unfinishedUpstream = Array(repeating: 0, count: count)
        queued = selected.count
        for i in selected {
            unfinishedUpstream[i] = self.upstream[i].count
            state[i] = .waiting
            if unfinishedUpstream[i] == 0 { makeReady(i) }
        }
    }

    /// No stage is left to start (each was started or removed).
    var isEmpty: Bool { queued == 0 }

    /// The ready stage `nextReady` would take, left in the queue.
    func peekReady() -> Int? { ready.last.map { selected[$0] } }

    /// Takes the ready stage that comes first in selection order.
    mutating func nextReady() -> Int? {
        guard let p = ready.popLast() else { return nil }
        let i = selected[p]
        state[i] = .started
        queued -= 1
        return i
    }

    /// Records that a started stage finished. When its outcome `blocks` its downstream stages, every
    /// queued stage that depends on it (directly or not) is removed and returned, in selection order,
    /// with the upstream stage that blocks it (the first of its upstream stages, in pipeline order,
    /// that did not complete).
    mutating func finish(_ i: Int, blocks: Bool) -> [(stage: Int, blockedBy: Int)] {
        state[i] = .finished(blocks: blocks)
        if !blocks {
            for d in downstream[i] {
                unfinishedUpstream[d] -= 1
                if unfinishedUpstream[d] == 0, case .waiting = state[d] { makeReady(d) }
            }
            return []
        }
        // Everything queued downstream of i: blocked.
        var found: [Int] = []
        var stack = [i]
        var seen: Set<Int> = []
        while let s = stack.popLast() {
            for d in downstream[s] where isQueued(d) && seen.insert(d).inserted {
                found.append(d)
                stack.append(d)
            }
        }
        found.sort { position[$0] < position[$1] }
        var result: [(stage: Int, blockedBy: Int)] = []
        for d in found {
            removeFromQueue(d)
            result.append((d, firstBlocking(upstreamOf: d)!))
        }
        return result
    }

    /// Removes every stage still queued (the run is stopping), in selection order, each with the
    /// upstream stage that blocks it, if one did not complete (nil: it was simply not started).
    mutating func removeAll() -> [(stage: Int, blockedBy: Int?)] {
        var result: [(stage: Int, blockedBy: Int?)] = []
        for i in selected where isQueued(i) {
            removeFromQueue(i)
            result.append((i, firstBlocking(upstreamOf: i)))
        }
        return result
    }

    // MARK: private

    private mutating func makeReady(_ i: Int) {
        state[i] = .ready
        let p = position[i]
        // Keep `ready` sorted, largest position first.
        var lo = 0, hi = ready.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ready[mid] > p { lo = mid + 1 } else { hi = mid }
        }
        ready.insert(p, at: lo)
    }

    private func isQueued(_ i: Int) -> Bool {
        switch state[i] {
        case .waiting, .ready: return true
        default: return false
        }
    }

    /// A removed stage counts as finished without completing: it blocks its own downstream.
    private mutating func removeFromQueue(_ i: Int) {
        if case .ready = state[i], let k = ready.firstIndex(of: position[i]) { ready.remove(at: k) }
        state[i] = .finished(blocks: true)
        queued -= 1
    }

    private func firstBlocking(upstreamOf i: Int) -> Int? {
        upstream[i].first { if case .finished(true) = state[$0] { return true } else { return false } }
    }
}
