import Foundation

/// Follows the jobs crx submitted with ONE `squeue` call per poll for all of them (a cluster's
/// controller is shared; crx must not hammer it with a call per job), and wakes each stage's thread
/// when its job reaches a final state.
///
/// Polls start fast (0.2 s) so that short stages are not held back, and back off by half again
/// each quiet poll up to the site's `poll_interval`. A job the controller no longer lists (it ended
/// more than `MinJobAge` ago) on two polls in a row is reported `ENDED` — the executor then asks
/// `scontrol`/`sacct` for its final state. If squeue keeps failing for `unreachableAfter` seconds
/// the waiting jobs are reported `LOST`.
final class SlurmJobMonitor: @unchecked Sendable {
    private let client: SlurmClient
    private let maxInterval: Double
    private let unreachableAfter: Double
    private let condition = NSCondition()
    private var watched: [String: Int] = [:] // id → polls in a row it was not listed
    private var finished: [String: String] = [:]
    private var polling = false

    init(client: SlurmClient, pollInterval: Double, unreachableAfter: Double = 300) {
        self.client = client
        self.maxInterval = max(0.2, pollInterval)
        self.unreachableAfter = unreachableAfter
    }

    /// Blocks until job `id` is in a final state; returns that state.
    func wait(for id: String) -> String {
        condition.lock()
        defer { condition.unlock() }
        watched[id] = 0
        if !polling {
            polling = true
            let thread = Thread { [self] in self.loop() }
            thread.stackSize = 1 << 20
            thread.start()
        }
        condition.broadcast()
        while finished[id] == nil { condition.wait() }
        return finished.removeValue(forKey: id)!
    }

    private func loop() {
        var interval = 0.2
        var failingSince: Date?
        while true {
            condition.lock()
            let ids = watched.keys.sorted()
            if ids.isEmpty {
                polling = false
                condition.unlock()
                return
            }
            condition.unlock()

            let states = client.states(ids)
            var changed = false
            condition.lock()
            if let states {
                failingSince = nil
                for id in ids {
                    if let state = states[id] {
                        watched[id] = 0
                        if SlurmClient.terminalStates.contains(state) {
                            finished[id] = state
                            watched[id] = nil
                            changed = true
                        }
                    } else {
                        let misses = (watched[id] ?? 0) + 1
                        watched[id] = misses
                        if misses >= 2 {
                            finished[id] = "ENDED"
                            watched[id] = nil
                            changed = true
                        }
                    }
                }
            } else {
                let since = failingSince ?? Date()
                failingSince = since
                if Date().timeIntervalSince(since) > unreachableAfter {
                    for id in ids { finished[id] = "LOST" }
                    watched.removeAll()
                    changed = true
                }
            }
            if changed { condition.broadcast() }
            interval = changed ? 0.2 : min(maxInterval, interval * 1.5)
            // Sleep, but wake early when a new job is registered (it may finish fast).
            let before = watched.count
            _ = condition.wait(until: Date().addingTimeInterval(interval))
            if watched.count > before { interval = 0.2 }
            condition.unlock()
        }
    }
}
