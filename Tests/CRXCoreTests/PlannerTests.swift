import Foundation
import Testing
@testable import CRXCore

@Suite struct PlannerTests {
    let loc = SourceLocation(file: "pipeline.yaml", line: 1, column: 1)
    let a = PathDigest(digest: XXH3Hasher.digest("a"), size: 1)
    let b = PathDigest(digest: XXH3Hasher.digest("b"), size: 1)
    let m = PathDigest(digest: XXH3Hasher.digest("model"), size: 5)

    var stage: Stage {
        Stage(name: "train", location: loc, cmd: ["train"], wdir: "", deps: [.init(path: "in.csv", location: loc)],
              params: [.init(file: "params.yaml", key: "lr", location: loc)],
              outs: [.init(path: "model", kind: .out, cache: true, persist: false, location: loc)],
              frozen: false, alwaysChanged: false, desc: nil)
    }

    var record: Lockfile.StageRecord {
        .init(cmd: ["train"], deps: [.init(path: "in.csv", hash: a)], params: ["params.yaml": ["lr": .double(0.1)]],
              outs: [.init(path: "model", hash: m)])
    }

    func snapshot(dep: PathDigest? = nil, lr: ParamValue = .double(0.1), out: PathDigest?? = nil) -> StageSnapshot {
        StageSnapshot(deps: [.init(path: "in.csv", hash: dep ?? a)], missingDeps: [], params: ["params.yaml": ["lr": lr]],
                      missingParams: [], outs: ["model": out ?? .some(m)])
    }

    func decide(_ snap: StageSnapshot, stage s: Stage? = nil, record r: Lockfile.StageRecord?? = nil, force: Bool = false, cached: Bool = true) -> StageDecision {
        Planner.decide(s ?? stage, record: r ?? record, snapshot: snap, force: force, inCache: { _ in cached })
    }

    @Test func upToDate() { #expect(decide(snapshot()) == .upToDate) }
    @Test func neverRun() { #expect(decide(snapshot(), record: .some(nil)) == .run([.neverRun])) }
    @Test func forced() { #expect(decide(snapshot(), force: true) == .run([.forced])) }

    @Test func depChanged() {
        #expect(decide(snapshot(dep: b)) == .run([.depChanged(path: "in.csv", old: a.digest, new: b.digest)]))
    }

    @Test func paramChanged() {
        #expect(decide(snapshot(lr: .double(0.2))) == .run([.paramChanged(file: "params.yaml", key: "lr", old: .double(0.1), new: .double(0.2))]))
    }

    @Test func cmdChanged() {
        var s = stage
        s.cmd = ["train --fast"]
        #expect(decide(snapshot(), stage: s) == .run([.cmdChanged(old: ["train"], new: ["train --fast"])]))
    }

    @Test func missingOutIsRestoredWhenCachedElseRun() {
        #expect(decide(snapshot(out: .some(nil))) == .restore([.init(path: "model", hash: m)]))
        #expect(decide(snapshot(out: .some(nil)), cached: false) == .run([.outMissing(path: "model")]))
    }

    @Test func modifiedOut() {
        #expect(decide(snapshot(out: .some(b))) == .run([.outModified(path: "model", expected: m.digest, actual: b.digest)]))
    }

    @Test func alwaysChanged() {
        var s = stage
        s.alwaysChanged = true
        #expect(decide(snapshot(), stage: s) == .run([.alwaysChanged]))
    }

    @Test func removedParamKeyAndAddedDep() {
        var snap = snapshot()
        snap.params = ["params.yaml": [:]]
        snap.missingParams = [("params.yaml", "lr")]
        #expect(decide(snap) == .run([.paramRemoved(file: "params.yaml", key: "lr", old: .double(0.1))]))
        var s = stage
        s.deps.append(.init(path: "extra.csv", location: loc))
        var snap2 = snapshot()
        snap2.deps.append(.init(path: "extra.csv", hash: b))
        #expect(decide(snap2, stage: s) == .run([.depAdded(path: "extra.csv")]))
    }

    /// `decide` skips the lookup tables when the record lists the stage's deps in order, unchanged;
    /// whenever it does, the general rules find no dep reason either (duplicate paths included).
    @Test func theInOrderShortcutAgreesWithTheGeneralRules() {
        let x = PathDigest(digest: XXH3Hasher.digest("x"), size: 1)
        let dep = { (p: String) in Stage.Dep(path: p, location: loc) }
        let entry = { (p: String, d: PathDigest) in Lockfile.Entry(path: p, hash: d) }
        let cases: [(deps: [String], locked: [Lockfile.Entry], now: [Lockfile.Entry])] = [
            (["a", "b"], [entry("a", a), entry("b", b)], [entry("a", a), entry("b", b)]),
            (["a", "b"], [entry("a", a), entry("b", b)], [entry("a", a), entry("b", x)]),
            (["a", "b"], [entry("b", b), entry("a", a)], [entry("a", a), entry("b", b)]),
            (["a", "a"], [entry("a", a), entry("a", x)], [entry("a", a), entry("a", a)]),
            (["a", "a"], [entry("a", a), entry("a", a)], [entry("a", a), entry("a", a)]),
            (["a"], [entry("a", a), entry("c", x)], [entry("a", a)]),
        ]
        for (n, c) in cases.enumerated() {
            var s = stage
            s.deps = c.deps.map(dep)
            var r = record
            r.deps = c.locked
            let snap = StageSnapshot(deps: c.now, missingDeps: [], params: ["params.yaml": ["lr": .double(0.1)]],
                                     missingParams: [], outs: ["model": .some(m)])
            var general: [StaleReason] = []
            Planner.depReasons(s, record: r, snapshot: snap, into: &general)
            if Planner.depsUnchanged(s, record: r, snapshot: snap) { #expect(general.isEmpty, "case \(n)") }
            let decided = decide(snap, stage: s, record: r)
            #expect(decided == (general.isEmpty ? .upToDate : .run(general)), "case \(n)")
        }
    }
}
