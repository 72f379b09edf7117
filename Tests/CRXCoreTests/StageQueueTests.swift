import Testing
@testable import CRXCore

@Suite struct StageQueueTests {
    //   0 a ──▶ 2 c ──▶ 3 d ──▶ 4 e
    //   1 b ──▶ 2 c             5 f (independent)
    static let upstream: [[Int]] = [[], [], [0, 1], [2], [3], []]
    static var downstream: [[Int]] {
        var down = Array(repeating: [Int](), count: upstream.count)
        for (i, ups) in upstream.enumerated() { for u in ups { down[u].append(i) } }
        return down
    }

    func queue(_ selected: [Int] = [0, 1, 2, 3, 4, 5]) -> StageQueue {
        StageQueue(selected: selected, upstream: Self.upstream, downstream: Self.downstream)
    }

    @Test func readyStagesStartInSelectionOrderOnceTheirUpstreamFinished() {
        var q = queue()
        #expect(q.nextReady() == 0)
        #expect(q.nextReady() == 1)
        #expect(q.nextReady() == 5)
        #expect(q.nextReady() == nil)
        #expect(q.finish(1, blocks: false).isEmpty)
        #expect(q.nextReady() == nil)                 // c still waits on a
        #expect(q.finish(0, blocks: false).isEmpty)
        #expect(q.nextReady() == 2)
        #expect(!q.isEmpty)
        _ = q.finish(2, blocks: false)
        #expect(q.nextReady() == 3)
        _ = q.finish(3, blocks: false)
        #expect(q.nextReady() == 4)
        #expect(q.isEmpty)
    }

    @Test func aFailureBlocksEverythingDownstreamInOrder() {
        var q = queue()
        _ = q.nextReady(); _ = q.nextReady(); _ = q.nextReady()
        let blocked = q.finish(0, blocks: true)
        #expect(blocked.map(\.stage) == [2, 3, 4])
        #expect(blocked.map(\.blockedBy) == [0, 2, 3])
        #expect(q.isEmpty)
        #expect(q.finish(1, blocks: false).isEmpty)   // c is gone already
        #expect(q.nextReady() == nil)
    }

    @Test func unselectedStagesAreIgnored() {
        // Only c, d (-s style): their upstream a, b are not selected, so c is ready at once.
        var q = queue([2, 3])
        #expect(q.nextReady() == 2)
        #expect(q.nextReady() == nil)
        _ = q.finish(2, blocks: false)
        #expect(q.nextReady() == 3)
        #expect(q.isEmpty)
    }

    @Test func removeAllReportsWhatBlocksEachRemainingStage() {
        var q = queue()
        #expect(q.nextReady() == 0)
        _ = q.finish(0, blocks: false)
        let rest = q.removeAll()
        // b, f and c were not started; d is blocked by c, e by d.
        #expect(rest.map(\.stage) == [1, 2, 3, 4, 5])
        #expect(rest.map(\.blockedBy) == [nil, 1, 2, 3, nil])
        #expect(q.isEmpty && q.nextReady() == nil)
    }

    @Test func selectionOrderNotIndexOrderDecides() {
        // Selection order b, a, f, c, d, e: b starts first.
        var q = queue([1, 0, 5, 2, 3, 4])
        #expect(q.nextReady() == 1)
        #expect(q.nextReady() == 0)
        #expect(q.nextReady() == 5)
    }
}
